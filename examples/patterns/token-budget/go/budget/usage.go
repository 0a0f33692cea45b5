package budget

import "fmt"

// Usage is the provider's reported token counts, normalized. A nil pointer
// means "not reported"; zero is only ever a count the provider sent.
type Usage struct {
	PromptTokens     *int64
	CompletionTokens *int64
}

// TotalTokens is prompt + completion when both were reported, else nil.
func (u Usage) TotalTokens() *int64 {
	if u.PromptTokens == nil || u.CompletionTokens == nil {
		return nil
	}

	total := *u.PromptTokens + *u.CompletionTokens
	return &total
}

// Basis says where the two counts of a Cost come from.
type Basis string

// The cost bases of SPEC.md section 6.3.
const (
	BasisProvider Basis = "provider"
	BasisPartial  Basis = "partial"
	BasisEstimate Basis = "estimate"
	BasisNone     Basis = "none"
)

// Cost is what the request cost in tokens, and in dollars when known.
type Cost struct {
	Basis            Basis
	PromptTokens     int64
	CompletionTokens int64
	// USD is nil: this implementation ships no price table.
	USD  *float64
	Note string
}

const noPriceNote = "no price table in the Go implementation; usd is not computed"

// costOf fills the cost from the reported usage, falling back to estimates
// for whatever the provider did not report.
func costOf(usage *Usage, promptEstimate, completionEstimate int64) Cost {
	c := Cost{
		Basis:            BasisEstimate,
		PromptTokens:     promptEstimate,
		CompletionTokens: completionEstimate,
		Note:             noPriceNote,
	}
	if usage == nil {
		return c
	}

	reported := 0
	if usage.PromptTokens != nil {
		c.PromptTokens = *usage.PromptTokens
		reported++
	}
	if usage.CompletionTokens != nil {
		c.CompletionTokens = *usage.CompletionTokens
		reported++
	}

	switch reported {
	case 2:
		c.Basis = BasisProvider
	case 1:
		c.Basis = BasisPartial
	}
	return c
}

// costNone is the cost of a request the provider rejected or never received:
// nothing was generated, so both counts are a real zero.
func costNone() Cost {
	return Cost{Basis: BasisNone, Note: noPriceNote}
}

func (c Cost) String() string {
	return fmt.Sprintf("%d prompt + %d completion tokens (%s)", c.PromptTokens, c.CompletionTokens, c.Basis)
}
