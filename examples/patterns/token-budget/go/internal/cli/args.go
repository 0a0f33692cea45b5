package cli

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/token-budget/examples/token-budget/provider"
)

// usageError is a bad option, value or environment: exit 2, nothing on stdout.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// The options of SPEC.md section 1. Flags take no value.
var options = map[string]bool{
	"provider": false, "model": false, "base-url": false, "budget": false,
	"max-tokens": false, "chars-per-token": false, "estimator": false,
	"timeout": false, "linger-ms": false, "case-id": false,
	"json": true, "verbose": true, "step": true, "describe": true, "help": true,
}

// parsed is the command line before validation: which options were given,
// with their raw text.
type parsed struct {
	values map[string]string
	flags  map[string]bool
	prompt *string
}

// parseArgs splits the command line. The flag package is not used because
// the contract lets the prompt stand before, between or after the options,
// and makes everything after "--" the prompt, byte for byte.
func parseArgs(args []string) (parsed, error) {
	p := parsed{values: map[string]string{}, flags: map[string]bool{}}

	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return p, p.setPrompt(args[i+1:])
		}

		if !strings.HasPrefix(arg, "-") || arg == "-" {
			if err := p.setPrompt([]string{arg}); err != nil {
				return p, err
			}
			continue
		}

		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-"), "=")
		isFlag, known := options[name]
		switch {
		case !known:
			return p, usagef("unknown option %s (the prompt goes last, after -- if it starts with -)", arg)
		case isFlag && hasValue:
			return p, usagef("option --%s takes no value, got %q", name, value)
		case isFlag:
			p.flags[name] = true
		case hasValue:
			p.values[name] = value
		case i+1 < len(args):
			i++
			p.values[name] = args[i]
		default:
			return p, usagef("option --%s needs a value", name)
		}
	}
	return p, nil
}

func (p *parsed) setPrompt(rest []string) error {
	if len(rest) == 0 {
		return nil
	}
	if p.prompt != nil || len(rest) > 1 {
		return usagef("give the prompt as one argument (quote it), got more than one")
	}

	prompt := rest[0]
	p.prompt = &prompt
	return nil
}

var (
	integerPattern = regexp.MustCompile(`^[0-9]+$`)
	decimalPattern = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
)

// parseInteger applies the integer grammar of SPEC.md section 1.2.
func parseInteger(what, text string, lo, hi int64) (int, error) {
	if !integerPattern.MatchString(text) {
		return 0, usagef("%s must be a whole number written with digits only, got %q", what, text)
	}

	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, usagef("%s must be between %d and %d, got %s", what, lo, hi, text)
	}
	return int(n), nil
}

// parseDecimal applies the decimal grammar: finite and > 0.
func parseDecimal(what, text string) (float64, error) {
	if !decimalPattern.MatchString(text) {
		return 0, usagef("%s must be a positive decimal number such as 4 or 3.5, got %q", what, text)
	}

	// ParseFloat rounds correctly; a range error means the value overflowed
	// to infinity or underflowed to zero, both rejected below.
	f, _ := strconv.ParseFloat(text, 64)
	if !(f > 0) || math.IsInf(f, 0) {
		return 0, usagef("%s must be finite and greater than 0, got %s", what, text)
	}
	return f, nil
}

// parseSwitch reads NXUSKIT_VERBOSE / NXUSKIT_STEP: 1/true on, 0/false off.
func parseSwitch(name, value string) (bool, error) {
	switch strings.ToLower(value) {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, usagef("%s must be 1, true, 0 or false, got %q", name, value)
}

// seconds turns a validated timeout into a Duration, saturating.
func seconds(s float64) time.Duration {
	if s >= math.MaxInt64/float64(time.Second) {
		return time.Duration(math.MaxInt64)
	}
	return max(time.Duration(s*float64(time.Second)), time.Nanosecond)
}

// resolveBaseURL picks --base-url, then the environment, then the default.
func resolveBaseURL(d provider.Defaults, flag string, given bool, getenv func(string) string) (string, error) {
	raw := d.BaseURL
	switch {
	case given:
		raw = flag
	case getenv(d.BaseURLEnv) != "":
		raw = getenv(d.BaseURLEnv)
	}

	base, err := provider.NormalizeBaseURL(raw)
	if err != nil {
		return "", usagef("%v", err)
	}
	return base, nil
}
