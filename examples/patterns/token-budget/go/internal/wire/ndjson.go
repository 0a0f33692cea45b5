package wire

import (
	"bytes"
	"io"
)

// Line is one non-blank NDJSON line.
type Line struct {
	// Text is the line decoded from UTF-8, without its "\n" or "\r\n".
	Text string
	// Final is true when the line was not terminated: the stream ended in the
	// middle of it. Such a line is still worth parsing (Ollama may omit the
	// last newline), but a fragment that does not parse means a cut stream.
	Final bool
}

// NDJSONDecoder splits a byte stream into newline-delimited lines.
type NDJSONDecoder struct {
	lines *lineReader

	// OnLine, when set, sees every raw line as it is read. Verbose tracing uses it.
	OnLine func(line []byte)
}

// NewNDJSONDecoder reads lines from r.
func NewNDJSONDecoder(r io.Reader) *NDJSONDecoder {
	return &NDJSONDecoder{lines: newLineReader(r, false)}
}

// Next returns the next non-blank line, io.EOF at a clean end of the stream,
// or the read error.
func (d *NDJSONDecoder) Next() (Line, error) {
	for {
		line, terminated, err := d.lines.next()
		if err != nil {
			return Line{}, err
		}

		if d.OnLine != nil {
			d.OnLine(line)
		}

		// Blank lines carry nothing; servers and proxies sometimes add them.
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}

		return Line{Text: DecodeUTF8(line), Final: !terminated}, nil
	}
}
