package provider

import (
	"errors"
	"io"

	"github.com/token-budget/examples/token-budget/budget"
	"github.com/token-budget/examples/token-budget/internal/wire"
)

// sseMapper turns dispatched SSE events of one provider into deltas.
type sseMapper interface {
	// event maps one SSE event; ok false means it carries no delta.
	event(ev wire.Event) (delta budget.Event, ok bool, err error)
	// atEOF decides what a clean end of the body means.
	atEOF() (budget.Event, error)
}

// sseStream is a budget.Stream over a server-sent-events body.
type sseStream struct {
	resp    *response
	decoder *wire.SSEDecoder
	mapper  sseMapper
}

func newSSEStream(resp *response, mapper sseMapper, tracer Tracer) *sseStream {
	decoder := wire.NewSSEDecoder(resp.Body)
	if tracer != nil {
		decoder.OnLine = tracer.BodyLine
	}
	return &sseStream{resp: resp, decoder: decoder, mapper: mapper}
}

func (s *sseStream) Next() (budget.Event, error) {
	for {
		ev, err := s.decoder.Next()
		if errors.Is(err, io.EOF) {
			return s.mapper.atEOF()
		}
		if err != nil {
			return budget.Event{}, transportError(s.resp.url, err, true)
		}

		delta, ok, err := s.mapper.event(ev)
		if err != nil || ok {
			return delta, err
		}
	}
}

func (s *sseStream) Close() error { return s.resp.Close() }

// protocolError reports a frame that breaks the wire format.
func protocolError(format string, args ...any) *budget.Error {
	return budget.NewError(budget.KindProtocol, format, args...)
}

// snippet shortens frame text quoted in a message.
func snippet(s string) string {
	const limit = 80
	runes := []rune(s)
	if len(runes) <= limit {
		return s
	}
	return string(runes[:limit]) + "..."
}
