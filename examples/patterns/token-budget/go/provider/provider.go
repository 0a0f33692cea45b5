// Package provider implements budget.Provider for loopback (in-process),
// OpenAI Chat Completions and compatible servers, Anthropic Messages and
// Ollama's native API, with the defaults and environment variables of
// conformance/SPEC.md section 1.3.
package provider

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/token-budget/examples/token-budget/budget"
)

// Defaults describes one provider's defaults and credentials.
type Defaults struct {
	Name    string
	Model   string
	BaseURL string
	// BaseURLEnv names the environment variable that overrides BaseURL.
	BaseURLEnv string
	// KeyEnv names the environment variable holding the API key.
	KeyEnv string
	// KeyRequiredByDefault: the key is mandatory when BaseURL is the default.
	KeyRequiredByDefault bool
}

// Known lists the providers; "claude" is an alias of "anthropic".
var Known = map[string]Defaults{
	"loopback":  {Name: "loopback", Model: "loopback-1"},
	"openai":    {Name: "openai", Model: "gpt-4o-mini", BaseURL: "https://api.openai.com/v1", BaseURLEnv: "OPENAI_BASE_URL", KeyEnv: "OPENAI_API_KEY", KeyRequiredByDefault: true},
	"anthropic": {Name: "anthropic", Model: "claude-sonnet-4-5", BaseURL: "https://api.anthropic.com", BaseURLEnv: "ANTHROPIC_BASE_URL", KeyEnv: "ANTHROPIC_API_KEY", KeyRequiredByDefault: true},
	"ollama":    {Name: "ollama", Model: "llama3.2", BaseURL: "http://127.0.0.1:11434", BaseURLEnv: "OLLAMA_HOST", KeyEnv: "OLLAMA_API_KEY"},
}

// Names are the provider names this implementation supports, in the order
// --describe lists them.
var Names = []string{"loopback", "openai", "anthropic", "ollama"}

// Lookup finds a provider's defaults, resolving the "claude" alias.
func Lookup(name string) (Defaults, bool) {
	if name == "claude" {
		name = "anthropic"
	}
	d, ok := Known[name]
	return d, ok
}

// New builds the named provider. The loopback provider ignores cfg.
func New(name string, cfg HTTPConfig) (budget.Provider, error) {
	d, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown provider %q (use one of %s, or claude)", name, strings.Join(Names, ", "))
	}

	switch d.Name {
	case "openai":
		return &OpenAI{HTTPConfig: cfg}, nil
	case "anthropic":
		return &Anthropic{HTTPConfig: cfg}, nil
	case "ollama":
		return &Ollama{HTTPConfig: cfg}, nil
	}
	return &Loopback{}, nil
}

var hasScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// NormalizeBaseURL puts http:// in front of a URL without a scheme (users
// write OLLAMA_HOST=127.0.0.1:11434) and removes a trailing "/". It rejects
// anything that is not an http or https URL with a host.
func NormalizeBaseURL(raw string) (string, error) {
	base := raw
	if !hasScheme.MatchString(base) {
		base = "http://" + base
	}
	base = strings.TrimSuffix(base, "/")

	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("base URL %q is not a URL: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("base URL %q must use http or https", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("base URL %q has no host", raw)
	}
	return base, nil
}
