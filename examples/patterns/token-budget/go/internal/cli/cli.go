// Package cli is the token-budget command: it validates the command line of
// conformance/SPEC.md section 1, runs budget.StreamWithBudget and renders the
// result as JSON or for a human.
package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/token-budget/examples/token-budget/budget"
	"github.com/token-budget/examples/token-budget/provider"
)

// Exit codes of SPEC.md section 8.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitInterrupt = 130
)

// Stdio is where the command reads and writes.
type Stdio struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Main runs the command with the process's streams and environment.
func Main(ctx context.Context, args []string) int {
	e := env{
		getenv:       os.Getenv,
		stdin:        os.Stdin,
		stdinIsTerm:  isTerminal(os.Stdin),
		stdoutIsTerm: isTerminal(os.Stdout),
		stderrIsTerm: isTerminal(os.Stderr),
	}
	return run(ctx, args, e, Stdio{os.Stdin, os.Stdout, os.Stderr})
}

// run is Main with everything injectable.
func run(ctx context.Context, args []string, e env, io Stdio) int {
	c, err := buildConfig(args, e)
	if err != nil {
		fmt.Fprintf(io.Stderr, "token-budget: %v\n", err)
		return exitUsage
	}

	switch {
	case c.describe:
		if err := writeJSON(io.Stdout, describe()); err != nil {
			return exitFailure
		}
		return exitOK
	case c.help:
		fmt.Fprint(io.Stdout, helpText)
		return exitOK
	}

	return (&session{config: c, env: e, io: io}).run(ctx)
}

// session is one run of a validated command line.
type session struct {
	config
	env
	io Stdio

	log   *stderrLog
	steps *stepper
	out   *streamWriter
	meter bool
}

func (s *session) run(parent context.Context) int {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	red := redactor{secrets: s.secrets}
	s.log = &stderrLog{w: s.io.Stderr, r: red}
	s.out = &streamWriter{w: s.io.Stdout, r: red}
	s.meter = !s.json && s.stderrIsTerm && !s.stdoutIsTerm && !s.verbose && !s.config.step
	if s.config.step {
		s.steps = &stepper{log: s.log, wait: s.stdinIsTerm, input: bufio.NewReader(s.env.stdin), quit: cancel}
	}

	p, err := s.newProvider()
	if err != nil {
		fmt.Fprintf(s.io.Stderr, "token-budget: %v\n", err)
		return exitUsage
	}

	req := budget.Request{Model: s.model, Prompt: s.prompt, MaxTokens: s.maxTokens}
	s.steps.explain("build request", s.describeRequest())
	s.steps.explain("send", "open the streaming request; the answer arrives in deltas")

	res, err := budget.StreamWithBudget(ctx, p, req, s.budget,
		budget.WithCharsPerToken(s.charsPerToken), budget.WithObserver(s.observe))
	if res.Provider == "" {
		fmt.Fprintf(s.io.Stderr, "token-budget: %v\n", err)
		return exitUsage
	}

	if code, stop := s.interrupted(parent); stop {
		return code
	}

	s.steps.explain("result", fmt.Sprintf("end %s after %d chunks, ~%d tokens", res.End, res.Chunks, res.EstimatedTokens))
	code := s.report(res)
	s.linger()
	return code
}

func (s *session) newProvider() (budget.Provider, error) {
	cfg := provider.HTTPConfig{BaseURL: s.baseURL, APIKey: s.apiKey, Timeout: s.timeout}
	if s.verbose {
		cfg.Tracer = verboseTracer{log: s.log}
	}
	return provider.New(s.provider.Name, cfg)
}

func (s *session) describeRequest() string {
	where := "in-process"
	if s.baseURL != "" {
		where = s.baseURL
	}
	return fmt.Sprintf("provider %s (%s), model %s, budget %d tokens at %g chars/token, max tokens %d, prompt %q",
		s.provider.Name, where, s.model, s.budget, s.charsPerToken, s.maxTokens, snippet(s.prompt))
}

// observe runs after every delta that added text.
func (s *session) observe(p budget.Progress) {
	if !s.json {
		s.out.write(p.Text)
	}
	if s.meter {
		fmt.Fprintf(s.io.Stderr, "\r[~%d/%d tokens]", p.EstimatedTokens, p.Budget)
	}

	if p.Chunks == 1 {
		s.steps.explain("stream", "the first delta arrived; each one is counted as it comes")
	}
	s.steps.explain("budget check", fmt.Sprintf("%d chars -> ~%d tokens of %d", p.CountedChars, p.EstimatedTokens, p.Budget))
	if p.Reached {
		s.steps.explain("stop", "the estimate reached the budget: cancel the request and close the connection")
	}
}

// interrupted handles q in step mode and Ctrl-C: exit 130, no result.
func (s *session) interrupted(parent context.Context) (int, bool) {
	switch {
	case s.steps != nil && s.steps.quits:
		s.finishStdout("")
		fmt.Fprintln(s.io.Stderr, "token-budget: stopped at your request (q)")
		return exitInterrupt, true
	case parent.Err() != nil:
		s.finishStdout("")
		fmt.Fprintln(s.io.Stderr, "token-budget: interrupted")
		return exitInterrupt, true
	}
	return 0, false
}

// report writes the result and the stderr lines, and picks the exit code.
func (s *session) report(res budget.Result) int {
	red := redactor{secrets: s.secrets}
	if s.json {
		if err := writeJSON(s.io.Stdout, toJSON(res, s.config, red.apply)); err != nil {
			fmt.Fprintf(s.io.Stderr, "token-budget: cannot write the result: %v\n", err)
			return exitFailure
		}
	} else {
		s.finishStdout(res.Content)
		fmt.Fprintln(s.io.Stderr, red.apply(summary(res)))
	}

	if res.Err == nil {
		return exitOK
	}

	failure := *res.Err
	failure.Message = budget.OneLine(red.apply(failure.Message))
	fmt.Fprintln(s.io.Stderr, failureLine(&failure))
	return exitFailure
}

func (s *session) finishStdout(content string) {
	if s.json {
		return
	}
	s.out.flush()
	if s.meter {
		fmt.Fprint(s.io.Stderr, "\r\033[K")
	}
	// End the answer's line so the summary starts on its own. In a terminal the
	// newline goes to stdout; otherwise stdout must stay exactly the content, so
	// it goes to stderr, which keeps `2>&1` output readable.
	switch {
	case s.stdoutIsTerm:
		fmt.Fprintln(s.io.Stdout)
	case content != "" && !strings.HasSuffix(content, "\n"):
		fmt.Fprintln(s.io.Stderr)
	}
}

// linger keeps the process alive after the result, with every upstream
// connection already closed, so a process exit cannot pass for a cancel.
func (s *session) linger() {
	if f, ok := s.io.Stdout.(*os.File); ok {
		_ = f.Sync()
	}
	if s.lingerMS > 0 {
		time.Sleep(time.Duration(s.lingerMS) * time.Millisecond)
	}
}

func snippet(s string) string {
	runes := []rune(s)
	if len(runes) > 60 {
		return string(runes[:60]) + "..."
	}
	return s
}

const helpText = `usage: token-budget [options] [--] [PROMPT]
       token-budget --describe

Stream an answer and stop it the moment the estimated tokens reach the budget.

options:
  --provider NAME         loopback (default), openai, anthropic (claude), ollama
  --model NAME            model sent upstream (default per provider)
  --base-url URL          where the provider listens
  --budget N              token budget (env TOKEN_BUDGET_MAX, default 100)
  --max-tokens N          the provider's own output limit (default: the budget)
  --chars-per-token R     ratio estimator divisor (default 4)
  --estimator ratio       the estimator (only ratio here)
  --timeout SECONDS       connect timeout and longest silence (default 60)
  --json                  print one result object on stdout
  --verbose               trace the HTTP exchange on stderr (env NXUSKIT_VERBOSE=1)
  --step                  explain each step on stderr (env NXUSKIT_STEP=1)
  --linger-ms N           stay alive N ms after the result
  --case-id ID            echoed as case_id in the result
  --describe              print what this implementation supports

The prompt is the argument, else stdin when it is not a terminal.
Keys: OPENAI_API_KEY, ANTHROPIC_API_KEY, OLLAMA_API_KEY (optional).
` + "\n"
