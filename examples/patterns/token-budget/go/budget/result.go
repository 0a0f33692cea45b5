package budget

// End says how a stream ended (SPEC.md section 4.2).
type End string

// The ways a stream ends.
const (
	EndComplete  End = "complete"
	EndBudget    End = "budget"
	EndTruncated End = "truncated"
	EndError     End = "error"
)

// Result is what StreamWithBudget returns, whatever the outcome: partial
// content is never lost.
type Result struct {
	Provider string
	Model    string
	// Content is the visible text of every processed delta, in order,
	// including the whole delta that reached the budget.
	Content string
	// CountedChars is the number of code points of visible and hidden text.
	CountedChars int
	// EstimatedTokens is the ratio estimate of CountedChars.
	EstimatedTokens int64
	Budget          int
	// BudgetReached is true exactly when End is EndBudget.
	BudgetReached bool
	// FinishReason is the last finish reason seen, normalized, or "".
	FinishReason string
	End          End
	// Usage is nil until the provider reported a count.
	Usage *Usage
	// Chunks counts the deltas that added at least one counted character.
	Chunks int
	Cost   Cost
	// Err is set when End is EndError or EndTruncated.
	Err *Error
}
