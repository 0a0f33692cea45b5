package provider

import (
	"context"
	"strings"
	"time"

	"github.com/token-budget/examples/token-budget/budget"
)

// Loopback is an in-process provider: deterministic, no network, no key. It
// streams a fixed explanation word by word, stops at MaxTokens like a real
// model (finish reason "length"), and reports usage when it completes.
type Loopback struct {
	// Delay is slept before each chunk, to make the streaming visible.
	Delay time.Duration
}

// loopbackCharsPerToken is the loopback "model"'s own tokenizer: a fixed
// ratio, so its reported usage is reproducible.
const loopbackCharsPerToken = 4.0

const loopbackAnswer = `A token budget puts a ceiling on what one streamed answer may cost. ` +
	`Models are billed per generated token, and a streamed answer keeps generating ` +
	`until the model decides it is done or reaches its output limit, so a client ` +
	`that only reads the final usage report learns the cost when it is too late ` +
	`to change it. Counting while the text arrives turns cost into something the ` +
	`client controls: each chunk is estimated, the estimate is compared with the ` +
	`budget, and the moment it reaches the budget the client closes the connection, ` +
	`which tells the server to stop generating. What arrived so far is kept and ` +
	`returned, marked as cut. The estimate uses characters, not bytes, divided by a ` +
	`ratio and rounded up, because the exact token count only comes with the ` +
	`provider's final report, which a cancelled stream never receives. A budget ` +
	`also protects against answers that run away in loops, against prompts that ` +
	`invite long essays, and against reasoning models whose hidden thinking is ` +
	`billed although it is never shown. Setting the budget a little below any hard ` +
	`limit leaves room for the tokens generated between the stop and the moment ` +
	`the server notices it.`

// Name implements budget.Provider.
func (p *Loopback) Name() string { return "loopback" }

// Open implements budget.Provider.
func (p *Loopback) Open(ctx context.Context, req budget.Request) (budget.Stream, error) {
	words := strings.SplitAfter(loopbackAnswer, " ")
	return &loopbackStream{ctx: ctx, req: req, words: words, delay: p.Delay}, nil
}

type loopbackStream struct {
	ctx   context.Context
	req   budget.Request
	words []string
	delay time.Duration

	sent  int
	chars int
	done  bool
}

func (s *loopbackStream) Next() (budget.Event, error) {
	if err := s.wait(); err != nil {
		return budget.Event{}, err
	}

	if s.sent == len(s.words) || s.reachedMaxTokens() {
		return s.final(), nil
	}

	word := s.words[s.sent]
	s.sent++
	s.chars += budget.CountChars(word)
	return budget.Event{Text: word}, nil
}

func (s *loopbackStream) wait() error {
	if s.delay <= 0 {
		return s.ctx.Err()
	}

	timer := time.NewTimer(s.delay)
	defer timer.Stop()
	select {
	case <-s.ctx.Done():
		return s.ctx.Err()
	case <-timer.C:
		return nil
	}
}

func (s *loopbackStream) reachedMaxTokens() bool {
	return s.req.MaxTokens > 0 && s.completionTokens() >= int64(s.req.MaxTokens)
}

func (s *loopbackStream) completionTokens() int64 {
	return budget.RatioEstimate(s.chars, loopbackCharsPerToken)
}

// final is the terminal event, carrying the finish reason and usage.
func (s *loopbackStream) final() budget.Event {
	reason := "stop"
	if s.sent < len(s.words) {
		reason = "length"
	}

	prompt := budget.RatioEstimate(budget.CountChars(s.req.Prompt), loopbackCharsPerToken)
	return budget.Event{
		FinishReason: reason,
		Usage:        &budget.Usage{PromptTokens: ptr(prompt), CompletionTokens: ptr(s.completionTokens())},
		Terminal:     true,
	}
}

func (s *loopbackStream) Close() error { return nil }
