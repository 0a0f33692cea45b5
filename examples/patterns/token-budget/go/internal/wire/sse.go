package wire

import (
	"bytes"
	"io"
)

// Event is one dispatched server-sent event.
type Event struct {
	// Type is the event type buffer, or "message" when no event field was set.
	Type string
	// Data is the data lines joined with "\n", decoded from UTF-8.
	Data string
}

// SSEDecoder turns a byte stream into server-sent events, following the
// WHATWG event-stream parsing rules.
type SSEDecoder struct {
	lines *lineReader

	// OnLine, when set, sees every raw line (terminator removed) as it is
	// read, before it is interpreted. Verbose tracing uses it.
	OnLine func(line []byte)

	started   bool
	data      []byte
	hasData   bool
	eventType []byte
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// NewSSEDecoder reads events from r.
func NewSSEDecoder(r io.Reader) *SSEDecoder {
	return &SSEDecoder{lines: newLineReader(r, true)}
}

// Next returns the next dispatched event. At a clean end of the stream it
// returns io.EOF, discarding an event that was not followed by a blank line;
// a read error is returned as it is.
func (d *SSEDecoder) Next() (Event, error) {
	for {
		line, terminated, err := d.lines.next()
		if err != nil {
			return Event{}, err
		}

		if d.OnLine != nil {
			d.OnLine(line)
		}

		// A line cut off by the end of the stream can only belong to an
		// event that is never dispatched.
		if !terminated {
			continue
		}

		if !d.started {
			d.started = true
			line = bytes.TrimPrefix(line, bom)
		}

		if ev, ok := d.processLine(line); ok {
			return ev, nil
		}
	}
}

// processLine applies one line to the buffers and reports an event when the
// line was blank and data was pending.
func (d *SSEDecoder) processLine(line []byte) (Event, bool) {
	if len(line) == 0 {
		return d.dispatch()
	}

	if line[0] == ':' {
		return Event{}, false
	}

	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		value = bytes.TrimPrefix(value, []byte{' '})
	}

	switch string(name) {
	case "data":
		d.data = append(d.data, value...)
		d.data = append(d.data, '\n')
		d.hasData = true
	case "event":
		d.eventType = append(d.eventType[:0], value...)
	}
	// id and retry do not matter to a one-shot client; other fields are ignored.
	return Event{}, false
}

func (d *SSEDecoder) dispatch() (Event, bool) {
	defer d.reset()

	if !d.hasData {
		return Event{}, false
	}

	data := d.data[:len(d.data)-1]
	ev := Event{Type: "message", Data: DecodeUTF8(data)}
	if len(d.eventType) > 0 {
		ev.Type = DecodeUTF8(d.eventType)
	}
	return ev, true
}

func (d *SSEDecoder) reset() {
	d.data = d.data[:0]
	d.hasData = false
	d.eventType = d.eventType[:0]
}
