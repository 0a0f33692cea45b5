package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/token-budget/examples/token-budget/budget"
	"github.com/token-budget/examples/token-budget/provider"
)

const (
	implementationName = "go"
	implementationVer  = "0.1.0"
	contractVersion    = 1
)

// describeJSON is the --describe object (SPEC.md section 7).
type describeJSON struct {
	ContractVersion int      `json:"contract_version"`
	Name            string   `json:"name"`
	Language        string   `json:"language"`
	Version         string   `json:"version"`
	Providers       []string `json:"providers"`
	Capabilities    []string `json:"capabilities"`
}

func describe() describeJSON {
	return describeJSON{
		ContractVersion: contractVersion,
		Name:            implementationName,
		Language:        "go",
		Version:         implementationVer,
		Providers:       provider.Names,
		Capabilities:    []string{"linger", "verbose", "step"},
	}
}

// resultJSON is the result object of SPEC.md section 6, field for field.
type resultJSON struct {
	ContractVersion int        `json:"contract_version"`
	CaseID          *string    `json:"case_id"`
	Implementation  string     `json:"implementation"`
	Provider        string     `json:"provider"`
	Model           string     `json:"model"`
	Content         string     `json:"content"`
	CountedChars    int        `json:"counted_chars"`
	EstimatedTokens int64      `json:"estimated_tokens"`
	Estimator       string     `json:"estimator"`
	Budget          int        `json:"budget"`
	BudgetReached   bool       `json:"budget_reached"`
	FinishReason    *string    `json:"finish_reason"`
	End             string     `json:"end"`
	Usage           *usageJSON `json:"usage"`
	Chunks          int        `json:"chunks"`
	Cost            costJSON   `json:"cost"`
	Error           *errorJSON `json:"error"`
}

type usageJSON struct {
	PromptTokens     *int64 `json:"prompt_tokens"`
	CompletionTokens *int64 `json:"completion_tokens"`
	TotalTokens      *int64 `json:"total_tokens"`
}

type costJSON struct {
	Basis            string   `json:"basis"`
	PromptTokens     int64    `json:"prompt_tokens"`
	CompletionTokens int64    `json:"completion_tokens"`
	USD              *float64 `json:"usd"`
	Note             *string  `json:"note"`
}

type errorJSON struct {
	Kind       string   `json:"kind"`
	Message    string   `json:"message"`
	Status     *int     `json:"status"`
	RetryAfter *float64 `json:"retry_after"`
}

func toJSON(res budget.Result, c config, redact func(string) string) resultJSON {
	out := resultJSON{
		ContractVersion: contractVersion,
		CaseID:          c.caseID,
		Implementation:  implementationName,
		Provider:        res.Provider,
		Model:           res.Model,
		Content:         res.Content, // the provider's text, never altered (SPEC 9)
		CountedChars:    res.CountedChars,
		EstimatedTokens: res.EstimatedTokens,
		Estimator:       "ratio",
		Budget:          res.Budget,
		BudgetReached:   res.BudgetReached,
		End:             string(res.End),
		Chunks:          res.Chunks,
		Cost: costJSON{
			Basis:            string(res.Cost.Basis),
			PromptTokens:     res.Cost.PromptTokens,
			CompletionTokens: res.Cost.CompletionTokens,
			USD:              res.Cost.USD,
		},
	}

	if res.FinishReason != "" {
		out.FinishReason = &res.FinishReason
	}
	if res.Cost.Note != "" {
		out.Cost.Note = &res.Cost.Note
	}
	if res.Usage != nil {
		out.Usage = &usageJSON{res.Usage.PromptTokens, res.Usage.CompletionTokens, res.Usage.TotalTokens()}
	}
	if res.Err != nil {
		out.Error = errorToJSON(res.Err, redact)
	}
	return out
}

func errorToJSON(e *budget.Error, redact func(string) string) *errorJSON {
	out := &errorJSON{Kind: string(e.Kind), Message: budget.OneLine(redact(e.Message))}
	if e.Status != 0 {
		out.Status = &e.Status
	}
	if e.RetryAfter >= 0 {
		out.RetryAfter = &e.RetryAfter
	}
	return out
}

// writeJSON prints one object and a newline, without HTML escaping.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode result: %w", err)
	}

	_, err := w.Write(buf.Bytes())
	return err
}

// summary is the human-mode line on stderr. It deliberately does not start
// with "token-budget: ", which marks failures only.
func summary(res budget.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "summary: ~%d of %d tokens", res.EstimatedTokens, res.Budget)
	if res.BudgetReached {
		b.WriteString(" (budget reached, answer cut)")
	} else {
		b.WriteString(" (budget not reached)")
	}

	fmt.Fprintf(&b, " | end: %s", res.End)
	if res.FinishReason != "" {
		fmt.Fprintf(&b, ", finish: %s", res.FinishReason)
	}

	b.WriteString(" | usage: ")
	if res.Usage == nil {
		b.WriteString("not reported")
	} else {
		fmt.Fprintf(&b, "prompt %s, completion %s", count(res.Usage.PromptTokens), count(res.Usage.CompletionTokens))
	}

	fmt.Fprintf(&b, " | cost: %s, usd unknown (no price table)", res.Cost)
	return b.String()
}

func count(n *int64) string {
	if n == nil {
		return "?"
	}
	return fmt.Sprint(*n)
}

// failureLine is the one stderr line every failure writes.
func failureLine(e *budget.Error) string {
	var b strings.Builder
	b.WriteString("token-budget: ")
	if e.Kind == budget.KindTruncated {
		b.WriteString("the answer was cut off: ")
	} else {
		fmt.Fprintf(&b, "%s error", e.Kind)
		if e.Status != 0 {
			fmt.Fprintf(&b, " (HTTP %d)", e.Status)
		}
		b.WriteString(": ")
	}

	b.WriteString(e.Message)
	if e.RetryAfter >= 0 {
		fmt.Fprintf(&b, " (retry after %g s)", e.RetryAfter)
	}
	b.WriteString(hint(e.Kind))
	return b.String()
}

func hint(kind budget.Kind) string {
	switch kind {
	case budget.KindAuth:
		return "; check the API key"
	case budget.KindRateLimit, budget.KindOverloaded:
		return "; try again later"
	case budget.KindConnection:
		return "; check --base-url and that the server runs"
	case budget.KindTimeout:
		return "; raise --timeout if the server is slow"
	}
	return ""
}
