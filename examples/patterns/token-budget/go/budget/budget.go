// Package budget streams an LLM answer under a token budget: it estimates the
// tokens of every delta as it arrives and, the moment the estimate reaches the
// budget, cancels the upstream request and returns the partial answer.
//
//	res, err := budget.StreamWithBudget(ctx, provider, budget.Request{Prompt: p}, 100)
//	fmt.Println(res.Content, res.EstimatedTokens, res.BudgetReached)
//
// The rules (what counts, how the estimate rounds, when to stop, how a stream
// ends) are those of conformance/SPEC.md, shared by every implementation.
package budget

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Progress is what an Observer sees after each delta that added text.
type Progress struct {
	// Text is the visible text of this delta.
	Text            string
	CountedChars    int
	EstimatedTokens int64
	Budget          int
	Chunks          int
	// Reached is true on the delta that reached the budget; no other
	// delta is processed after it.
	Reached bool
}

// Option adjusts StreamWithBudget.
type Option func(*settings)

type settings struct {
	charsPerToken float64
	observe       func(Progress)
}

// WithCharsPerToken sets the ratio estimator's divisor (default 4).
func WithCharsPerToken(r float64) Option {
	return func(s *settings) { s.charsPerToken = r }
}

// WithObserver calls fn after every delta that added counted text, before the
// stop decision takes effect. It runs on the caller's goroutine.
func WithObserver(fn func(Progress)) Option {
	return func(s *settings) { s.observe = fn }
}

// ErrInvalidArgument is returned (wrapped) for a budget or ratio out of range.
var ErrInvalidArgument = errors.New("invalid argument")

// StreamWithBudget streams req from p until the provider ends the answer or
// the estimated tokens reach tokenBudget, whichever comes first.
//
// The returned Result is always filled in, also on failure. The error is nil
// when the stream completed or the budget was reached; otherwise it is the
// *Error also found in Result.Err. When it returns, the request's connection
// is closed and no goroutine it started is still running.
func StreamWithBudget(ctx context.Context, p Provider, req Request, tokenBudget int, opts ...Option) (Result, error) {
	s := settings{charsPerToken: DefaultCharsPerToken}
	for _, opt := range opts {
		opt(&s)
	}

	if tokenBudget < 1 {
		return Result{}, fmt.Errorf("budget must be at least 1, got %d: %w", tokenBudget, ErrInvalidArgument)
	}
	if !(s.charsPerToken > 0) || math.IsInf(s.charsPerToken, 0) {
		return Result{}, fmt.Errorf("chars per token must be finite and > 0, got %v: %w", s.charsPerToken, ErrInvalidArgument)
	}

	if req.MaxTokens == 0 {
		req.MaxTokens = tokenBudget
	}

	run := &run{settings: s, budget: tokenBudget}
	run.result = Result{Provider: p.Name(), Model: req.Model, Budget: tokenBudget}
	run.stream(ctx, p, req)
	run.finish(req.Prompt)

	if run.result.Err != nil {
		return run.result, run.result.Err
	}
	return run.result, nil
}

// run holds the state of one StreamWithBudget call.
type run struct {
	settings
	budget  int
	result  Result
	content strings.Builder
	opened  bool
}

// item is one answer of the reading goroutine.
type item struct {
	ev  Event
	err error
}

func (r *run) stream(parent context.Context, p Provider, req Request) {
	// Cancelling this context is how the budget stop reaches the transport.
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	s, err := p.Open(ctx, req)
	if err != nil {
		r.fail(parent, err)
		return
	}
	r.opened = true

	// The reader goroutine reads one event per request on want. Asking for
	// one event at a time means nothing is read from the connection between
	// the delta that reaches the budget and the cancellation.
	want := make(chan struct{})
	items := make(chan item)
	go pump(ctx, s, want, items)

	defer func() {
		cancel()
		close(want)
		for range items {
			// Wait for the reader to close the stream and exit.
		}
	}()

	for {
		want <- struct{}{}
		it, ok := <-items
		if !ok {
			r.fail(parent, errors.New("the stream reader stopped unexpectedly"))
			return
		}

		if it.err != nil {
			r.fail(parent, it.err)
			return
		}

		if r.apply(it.ev) {
			return
		}
	}
}

// pump reads events from s on behalf of the budget loop, one per signal on
// want, and closes s when it is done.
func pump(ctx context.Context, s Stream, want <-chan struct{}, out chan<- item) {
	defer close(out)
	defer s.Close()

	for range want {
		ev, err := s.Next()
		select {
		case out <- item{ev, err}:
		case <-ctx.Done():
			return
		}

		if err != nil || ev.Terminal {
			return
		}
	}
}

// apply processes one event and reports whether the stream is over.
func (r *run) apply(ev Event) bool {
	res := &r.result

	// All fields of one event count together (BR-29), then the rule runs.
	if ev.Usage != nil {
		u := *ev.Usage
		res.Usage = &u
	}
	if ev.FinishReason != "" {
		res.FinishReason = ev.FinishReason
	}
	r.content.WriteString(ev.Text)

	added := CountChars(ev.Text) + CountChars(ev.Hidden)
	if added > 0 {
		res.Chunks++
		res.CountedChars += added
		res.EstimatedTokens = RatioEstimate(res.CountedChars, r.charsPerToken)

		reached := res.EstimatedTokens >= int64(r.budget)
		r.notify(ev.Text, reached)
		if reached {
			res.End = EndBudget
			res.BudgetReached = true
			return true
		}
	}

	if ev.Terminal {
		res.End = EndComplete
		return true
	}
	return false
}

func (r *run) notify(text string, reached bool) {
	if r.observe == nil {
		return
	}

	res := &r.result
	r.observe(Progress{
		Text:            text,
		CountedChars:    res.CountedChars,
		EstimatedTokens: res.EstimatedTokens,
		Budget:          r.budget,
		Chunks:          res.Chunks,
		Reached:         reached,
	})
}

// fail records err as the end of the stream.
func (r *run) fail(parent context.Context, err error) {
	var e *Error
	switch {
	case parent.Err() != nil:
		e = &Error{Kind: KindConnection, Message: "the request was cancelled by the caller", RetryAfter: -1, Err: parent.Err()}
	case errors.As(err, &e):
	default:
		e = &Error{Kind: KindConnection, Message: OneLine(err.Error()), RetryAfter: -1, Err: err}
	}

	r.result.Err = e
	r.result.End = EndError
	if e.Kind == KindTruncated {
		r.result.End = EndTruncated
	}
}

func (r *run) finish(prompt string) {
	res := &r.result
	res.Content = r.content.String()

	// A request rejected with an HTTP status, or never delivered, generated
	// nothing: its cost is a real zero, not an estimate.
	if !r.opened && res.Err != nil && res.Err.noStreamBegan() {
		res.Cost = costNone()
		return
	}

	promptEstimate := RatioEstimate(CountChars(prompt), r.charsPerToken)
	res.Cost = costOf(res.Usage, promptEstimate, res.EstimatedTokens)
}

// noStreamBegan tells whether an error from Open means the provider never
// started generating: it answered with an error status or was not reached.
func (e *Error) noStreamBegan() bool {
	return e.Status != 0 || e.Kind == KindConnection || e.Kind == KindTimeout
}
