package budget

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind classifies an Error the way SPEC.md section 8 does, so callers can
// decide what to do (retry later, fix the key, report a bug) without parsing
// messages.
type Kind string

// The error kinds of the contract.
const (
	KindAuth       Kind = "auth"
	KindRateLimit  Kind = "rate_limit"
	KindBadRequest Kind = "bad_request"
	KindOverloaded Kind = "overloaded"
	KindServer     Kind = "server"
	KindTimeout    Kind = "timeout"
	KindConnection Kind = "connection"
	KindProtocol   Kind = "protocol"
	KindTruncated  Kind = "truncated"
)

// maxMessage is the longest message the contract allows, in code points.
const maxMessage = 500

// Error is a provider or transport failure, before or during the stream.
type Error struct {
	Kind    Kind
	Message string
	// Status is the HTTP status of an error response, or 0.
	Status int
	// RetryAfter is the Retry-After header in seconds, or -1 when absent or
	// not a non-negative integer.
	RetryAfter float64
	// Err is the underlying cause, if any, for errors.Is / errors.As.
	Err error
}

// NewError builds an Error with a one-line message and no status.
func NewError(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: OneLine(fmt.Sprintf(format, args...)), RetryAfter: -1}
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s (HTTP %d): %s", e.Kind, e.Status, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// OneLine makes s fit the contract's message field: newlines become spaces,
// at most 500 code points, never empty.
func OneLine(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
	s = strings.TrimSpace(s)
	if s == "" {
		return "no message"
	}

	if utf8.RuneCountInString(s) <= maxMessage {
		return s
	}

	runes := []rune(s)
	return string(runes[:maxMessage])
}
