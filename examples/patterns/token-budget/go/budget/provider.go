package budget

import "context"

// Request is what is asked of the model.
type Request struct {
	Model  string
	Prompt string
	// MaxTokens is the provider's own output limit. Zero means "the budget",
	// so a client that dies cannot run up a bill either.
	MaxTokens int
}

// Event is one provider delta, already translated out of the wire format: the
// unit the stop rule looks at (SPEC.md section 2).
type Event struct {
	// Text is the visible text of the delta; it goes into Result.Content.
	Text string
	// Hidden is text the provider bills but does not show (reasoning,
	// thinking, tool-call arguments). It is counted, never shown.
	Hidden string
	// FinishReason is the normalized finish reason carried by the delta, or "".
	FinishReason string
	// Usage, when not nil, is the provider's latest usage snapshot; it
	// replaces the previous one.
	Usage *Usage
	// Terminal is set on the provider's end-of-stream marker.
	Terminal bool
}

// Provider opens one streamed completion.
//
// Open sends the request and checks the response status; an error it returns
// means no stream began. The Stream it returns must stop reading and release
// its connection when ctx is cancelled or Close is called.
type Provider interface {
	Name() string
	Open(ctx context.Context, req Request) (Stream, error)
}

// Stream yields the events of one response.
type Stream interface {
	// Next returns the next event. After the last event (Terminal) it must
	// not be called again. A body that ends without a terminal marker gives
	// an *Error of kind KindTruncated; other failures give an *Error too.
	Next() (Event, error)
	// Close releases the response and closes its connection at once.
	Close() error
}
