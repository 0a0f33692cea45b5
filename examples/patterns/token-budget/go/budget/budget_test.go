package budget

import (
	"context"
	"errors"
	"math"
	"testing"
)

// scripted is a Provider that replays fixed events and records how far the
// budget loop read.
type scripted struct {
	events  []Event
	end     error // returned after the events; nil means "ran out" (a bug)
	openErr error

	read   int
	closed bool
}

func (s *scripted) Name() string { return "fake" }

func (s *scripted) Open(ctx context.Context, req Request) (Stream, error) {
	if s.openErr != nil {
		return nil, s.openErr
	}
	return s, nil
}

func (s *scripted) Next() (Event, error) {
	if s.read == len(s.events) {
		if s.end == nil {
			return Event{}, errors.New("read past the script")
		}
		return Event{}, s.end
	}
	s.read++
	return s.events[s.read-1], nil
}

func (s *scripted) Close() error {
	s.closed = true
	return nil
}

func TestRatioEstimate(t *testing.T) {
	// Expected values computed with conformance/oracle.py.
	tests := []struct {
		chars int
		r     float64
		want  int64
	}{
		{0, 4, 0},
		{1, 4, 1},
		{4, 4, 1},
		{5, 4, 2},
		{3, 0.1, 30},
		{21, 0.7, 31}, // 21/0.7 is 30.000000000000004 as one double division; exact maths says 30
		{1, 1e-3, 1000},
		{7, 3.5, 2},
		{1, 1e9, 1}, // max(1, ...) keeps non-empty text at one token
		{10, 3, 4},
		{1, 0.3, 4}, // 1/0.3 = 3.3333333333333335
		{6, 0.3, 20},
	}

	for _, tt := range tests {
		if got := RatioEstimate(tt.chars, tt.r); got != tt.want {
			t.Errorf("RatioEstimate(%d, %v) = %d, want %d", tt.chars, tt.r, got, tt.want)
		}
	}

	if got := RatioEstimate(1, 5e-324); got != EstimateCap {
		t.Errorf("an overflowing estimate must saturate, got %d", got)
	}
}

func TestCountCharsIsCodePoints(t *testing.T) {
	if got := CountChars("café 你好 🙂"); got != 9 {
		t.Fatalf("got %d code points, want 9", got)
	}
}

func TestCrossingDeltaIsKeptAndNothingAfter(t *testing.T) {
	p := &scripted{events: []Event{
		{Text: "abcd"},               // 4 chars -> 1 token
		{Text: ""},                   // no text: no comparison
		{Text: "efgh", Hidden: "ij"}, // 10 chars -> 3 tokens: crosses 3
		{Text: "NEVER"},
	}}

	res, err := StreamWithBudget(context.Background(), p, Request{Prompt: "hi"}, 3)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}

	if res.Content != "abcdefgh" || res.End != EndBudget || !res.BudgetReached {
		t.Fatalf("got content %q end %s reached %v", res.Content, res.End, res.BudgetReached)
	}
	if res.CountedChars != 10 || res.EstimatedTokens != 3 || res.Chunks != 2 {
		t.Fatalf("got chars %d tokens %d chunks %d", res.CountedChars, res.EstimatedTokens, res.Chunks)
	}
	if p.read != 3 || !p.closed {
		t.Fatalf("read %d events (want 3), closed %v", p.read, p.closed)
	}
}

func TestBudgetWinsOverTerminalInSameEvent(t *testing.T) {
	p := &scripted{events: []Event{{Text: "12345678", Terminal: true, FinishReason: "stop"}}}

	res, _ := StreamWithBudget(context.Background(), p, Request{}, 2)
	if res.End != EndBudget || res.FinishReason != "stop" {
		t.Fatalf("got end %s finish %q", res.End, res.FinishReason)
	}
}

func TestEmptyDeltasNeverReachTheBudget(t *testing.T) {
	p := &scripted{events: []Event{{}, {Text: ""}, {Terminal: true}}}

	res, err := StreamWithBudget(context.Background(), p, Request{}, 1)
	if err != nil || res.End != EndComplete || res.EstimatedTokens != 0 || res.Chunks != 0 {
		t.Fatalf("got %+v, %v", res, err)
	}
}

func TestUsageSnapshotsReplace(t *testing.T) {
	five, one, two := int64(5), int64(1), int64(2)
	p := &scripted{events: []Event{
		{Text: "A", Usage: &Usage{PromptTokens: &five, CompletionTokens: &one}},
		{Text: "B", Usage: &Usage{PromptTokens: &five, CompletionTokens: &two}},
		{Terminal: true},
	}}

	res, _ := StreamWithBudget(context.Background(), p, Request{}, 100)
	if *res.Usage.CompletionTokens != 2 || *res.Usage.TotalTokens() != 7 {
		t.Fatalf("usage %+v", res.Usage)
	}
	if res.Cost.Basis != BasisProvider || res.Cost.PromptTokens != 5 || res.Cost.CompletionTokens != 2 {
		t.Fatalf("cost %+v", res.Cost)
	}
}

func TestCostBases(t *testing.T) {
	seven := int64(7)
	tests := []struct {
		name  string
		usage *Usage
		want  Cost
	}{
		{"nothing reported", nil, Cost{Basis: BasisEstimate, PromptTokens: 3, CompletionTokens: 9}},
		{"prompt only", &Usage{PromptTokens: &seven}, Cost{Basis: BasisPartial, PromptTokens: 7, CompletionTokens: 9}},
		{"both", &Usage{PromptTokens: &seven, CompletionTokens: &seven}, Cost{Basis: BasisProvider, PromptTokens: 7, CompletionTokens: 7}},
	}

	for _, tt := range tests {
		got := costOf(tt.usage, 3, 9)
		if got.Basis != tt.want.Basis || got.PromptTokens != tt.want.PromptTokens || got.CompletionTokens != tt.want.CompletionTokens || got.USD != nil {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestErrorsKeepPartialContent(t *testing.T) {
	p := &scripted{
		events: []Event{{Text: "Partial"}},
		end:    NewError(KindOverloaded, "Overloaded"),
	}

	res, err := StreamWithBudget(context.Background(), p, Request{Prompt: "abcd"}, 100)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindOverloaded {
		t.Fatalf("want an overloaded *Error, got %v", err)
	}
	if res.End != EndError || res.Content != "Partial" || res.Err != e {
		t.Fatalf("got %+v", res)
	}
	if res.Cost.Basis != BasisEstimate || res.Cost.PromptTokens != 1 || res.Cost.CompletionTokens != 2 {
		t.Fatalf("cost %+v", res.Cost)
	}
}

func TestTruncatedEnd(t *testing.T) {
	p := &scripted{events: []Event{{Text: "The answer is"}}, end: NewError(KindTruncated, "no [DONE]")}

	res, err := StreamWithBudget(context.Background(), p, Request{}, 100)
	if err == nil || res.End != EndTruncated || res.Err.Kind != KindTruncated {
		t.Fatalf("got end %s err %v", res.End, err)
	}
}

func TestRejectedRequestCostsNothing(t *testing.T) {
	p := &scripted{openErr: &Error{Kind: KindRateLimit, Message: "slow down", Status: 429, RetryAfter: 2}}

	res, err := StreamWithBudget(context.Background(), p, Request{Prompt: "a long prompt"}, 10)
	if err == nil || res.Cost.Basis != BasisNone || res.Cost.PromptTokens != 0 || res.Usage != nil {
		t.Fatalf("got %+v", res)
	}
}

func TestInvalidArguments(t *testing.T) {
	for _, tt := range []struct {
		budget int
		r      float64
	}{{0, 4}, {-1, 4}, {1, 0}, {1, math.Inf(1)}, {1, math.NaN()}, {1, -2}} {
		_, err := StreamWithBudget(context.Background(), &scripted{}, Request{}, tt.budget, WithCharsPerToken(tt.r))
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("budget %d ratio %v: want ErrInvalidArgument, got %v", tt.budget, tt.r, err)
		}
	}
}

func TestObserverSeesEveryCountedDelta(t *testing.T) {
	p := &scripted{events: []Event{{Text: "ab"}, {}, {Hidden: "cd"}, {Text: "efgh"}, {Terminal: true}}}

	var seen []Progress
	_, _ = StreamWithBudget(context.Background(), p, Request{}, 2, WithObserver(func(pr Progress) { seen = append(seen, pr) }))
	if len(seen) != 3 || !seen[2].Reached || seen[1].Text != "" || seen[2].EstimatedTokens != 2 {
		t.Fatalf("got %+v", seen)
	}
}

func TestOneLine(t *testing.T) {
	long := make([]rune, 600)
	for i := range long {
		long[i] = '界'
	}
	if got := []rune(OneLine(string(long))); len(got) != 500 {
		t.Fatalf("got %d code points", len(got))
	}
	if got := OneLine("a\r\nb\nc\rd"); got != "a b c d" {
		t.Fatalf("got %q", got)
	}
	if got := OneLine("  \n "); got == "" {
		t.Fatal("a message is never empty")
	}
}
