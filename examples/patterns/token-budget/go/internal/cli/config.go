package cli

import (
	"io"
	"time"

	"github.com/token-budget/examples/token-budget/provider"
)

const defaultPrompt = "Explain in a few paragraphs why streaming answers need a token budget."

// config is a validated command line.
type config struct {
	provider      provider.Defaults
	model         string
	baseURL       string
	apiKey        string
	budget        int
	maxTokens     int
	charsPerToken float64
	timeout       time.Duration
	json          bool
	verbose       bool
	step          bool
	describe      bool
	help          bool
	lingerMS      int
	caseID        *string
	prompt        string
	// secrets are every configured key, redacted from all output.
	secrets []string
}

// env is the process environment and standard input, injectable for tests.
type env struct {
	getenv       func(string) string
	stdin        io.Reader
	stdinIsTerm  bool
	stderrIsTerm bool
	stdoutIsTerm bool
}

// buildConfig validates the command line against the environment.
func buildConfig(args []string, e env) (config, error) {
	p, err := parseArgs(args)
	if err != nil {
		return config{}, err
	}

	c := config{describe: p.flags["describe"], help: p.flags["help"], json: p.flags["json"]}
	if c.describe || c.help {
		return c, nil
	}

	steps := []func(*config, parsed, env) error{
		(*config).setProvider, (*config).setNumbers, (*config).setModes, (*config).setEndpoint,
	}
	for _, step := range steps {
		if err := step(&c, p, e); err != nil {
			return config{}, err
		}
	}

	c.secrets = collectSecrets(e.getenv)
	c.prompt = readPrompt(p.prompt, e)
	return c, nil
}

func (c *config) setProvider(p parsed, _ env) error {
	name, given := p.values["provider"]
	if !given {
		name = "loopback"
	}

	d, ok := provider.Lookup(name)
	if !ok {
		return usagef("unknown provider %q: use loopback, openai, anthropic (or claude) or ollama", name)
	}
	c.provider = d

	c.model = d.Model
	if model, given := p.values["model"]; given {
		c.model = model
	}

	if estimator, given := p.values["estimator"]; given && estimator != "ratio" {
		if estimator == "exact" {
			return usagef("--estimator exact is not available in the Go implementation; use ratio")
		}
		return usagef("--estimator must be ratio or exact, got %q", estimator)
	}
	return nil
}

func (c *config) setNumbers(p parsed, e env) error {
	var err error

	budgetText, given := p.values["budget"]
	what := "--budget"
	if !given {
		budgetText, what = e.getenv("TOKEN_BUDGET_MAX"), "TOKEN_BUDGET_MAX"
		if budgetText == "" {
			budgetText = "100"
		}
	}
	if c.budget, err = parseInteger(what, budgetText, 1, 2147483647); err != nil {
		return err
	}

	c.maxTokens = c.budget
	if text, given := p.values["max-tokens"]; given {
		if c.maxTokens, err = parseInteger("--max-tokens", text, 1, 2147483647); err != nil {
			return err
		}
	}

	c.charsPerToken = 4
	if text, given := p.values["chars-per-token"]; given {
		if c.charsPerToken, err = parseDecimal("--chars-per-token", text); err != nil {
			return err
		}
	}

	c.timeout = provider.DefaultTimeout
	if text, given := p.values["timeout"]; given {
		s, err := parseDecimal("--timeout", text)
		if err != nil {
			return err
		}
		c.timeout = seconds(s)
	}

	if text, given := p.values["linger-ms"]; given {
		if c.lingerMS, err = parseInteger("--linger-ms", text, 0, 600000); err != nil {
			return err
		}
	}
	return nil
}

func (c *config) setModes(p parsed, e env) error {
	if id, given := p.values["case-id"]; given {
		c.caseID = &id
	}

	var err error
	if c.verbose, err = modeSwitch(p, e, "verbose", "NXUSKIT_VERBOSE"); err != nil {
		return err
	}
	c.step, err = modeSwitch(p, e, "step", "NXUSKIT_STEP")
	return err
}

// modeSwitch: the flag wins; the environment is used only when it is absent.
func modeSwitch(p parsed, e env, flag, variable string) (bool, error) {
	if p.flags[flag] {
		return true, nil
	}
	if value := e.getenv(variable); value != "" {
		return parseSwitch(variable, value)
	}
	return false, nil
}

func (c *config) setEndpoint(p parsed, e env) error {
	d := c.provider
	if d.Name == "loopback" {
		return nil
	}

	flag, given := p.values["base-url"]
	base, err := resolveBaseURL(d, flag, given, e.getenv)
	if err != nil {
		return err
	}
	c.baseURL = base

	c.apiKey = e.getenv(d.KeyEnv)
	if c.apiKey == "" && d.KeyRequiredByDefault && base == d.BaseURL {
		return usagef("%s is not set: export your %s API key, or point --base-url at a server that needs none", d.KeyEnv, d.Name)
	}
	return nil
}

func collectSecrets(getenv func(string) string) []string {
	var secrets []string
	for _, name := range []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_API_KEY"} {
		if key := getenv(name); key != "" {
			secrets = append(secrets, key)
		}
	}
	return secrets
}

// readPrompt: the argument, else stdin when it is not a terminal (one
// trailing newline removed), else the default.
func readPrompt(arg *string, e env) string {
	if arg != nil {
		return *arg
	}
	if e.stdinIsTerm || e.stdin == nil {
		return defaultPrompt
	}

	data, err := io.ReadAll(e.stdin)
	if err != nil {
		return defaultPrompt
	}

	text := string(data)
	switch {
	case len(text) >= 2 && text[len(text)-2:] == "\r\n":
		text = text[:len(text)-2]
	case len(text) >= 1 && text[len(text)-1] == '\n':
		text = text[:len(text)-1]
	}

	if text == "" {
		return defaultPrompt
	}
	return text
}
