// Package wire decodes the two streaming framings the providers use: server-sent
// events (OpenAI, Anthropic) and newline-delimited JSON (Ollama).
//
// Both decoders work on bytes and split lines before any UTF-8 decoding, so a
// character cut in half by a network read is reassembled before it is decoded.
// Neither uses bufio.Scanner: its default 64 KiB token limit would reject long
// lines, and it does not treat a lone CR as a line end.
package wire

import (
	"bytes"
	"io"
)

// readSize is how much one Read asks for. Lines may be longer: they are
// accumulated across reads without limit.
const readSize = 32 * 1024

// lineReader splits a byte stream into lines.
//
// With crIsBreak set it follows the SSE rule (a line ends at CRLF, LF or a lone
// CR); otherwise a line ends only at LF and one CR before the LF is removed,
// which is the NDJSON rule.
type lineReader struct {
	r         io.Reader
	crIsBreak bool

	buf     []byte
	start   int
	end     int
	partial []byte

	// skipLF is set after a CR ended a line: if the next byte is LF it belongs
	// to that CR, even when it arrives in a later read.
	skipLF bool
	err    error
}

func newLineReader(r io.Reader, crIsBreak bool) *lineReader {
	return &lineReader{r: r, crIsBreak: crIsBreak, buf: make([]byte, readSize)}
}

// next returns the next complete line without its terminator. At the end of
// the stream it returns the unterminated remainder (if any) with terminated
// false, then the reader's error (io.EOF for a clean end).
//
// The returned slice is only valid until the next call.
func (lr *lineReader) next() (line []byte, terminated bool, err error) {
	for {
		if line, ok := lr.cut(); ok {
			return line, true, nil
		}

		if lr.err != nil {
			return lr.drain()
		}

		lr.fill()
	}
}

// cut returns one line from the buffered bytes, or false when the buffer holds
// no line end yet (its bytes are then moved to partial).
func (lr *lineReader) cut() ([]byte, bool) {
	if lr.skipLF && lr.start < lr.end {
		if lr.buf[lr.start] == '\n' {
			lr.start++
		}
		lr.skipLF = false
	}

	window := lr.buf[lr.start:lr.end]
	i := lr.lineEnd(window)
	if i < 0 {
		lr.partial = append(lr.partial, window...)
		lr.start, lr.end = 0, 0
		return nil, false
	}

	lr.start += i + 1
	if window[i] == '\r' {
		lr.skipLF = true
	}

	line := window[:i]
	if len(lr.partial) > 0 {
		lr.partial = append(lr.partial, line...)
		line = lr.partial
		lr.partial = lr.partial[:0]
	}

	if !lr.crIsBreak {
		line = bytes.TrimSuffix(line, []byte{'\r'})
	}
	return line, true
}

func (lr *lineReader) lineEnd(window []byte) int {
	if lr.crIsBreak {
		return bytes.IndexAny(window, "\r\n")
	}
	return bytes.IndexByte(window, '\n')
}

// fill reads once into the (now empty) buffer, remembering the error for later.
func (lr *lineReader) fill() {
	n, err := lr.r.Read(lr.buf)
	lr.start, lr.end = 0, n
	if err != nil {
		lr.err = err
	}
}

// drain hands out the unterminated remainder once, then the stored error.
func (lr *lineReader) drain() ([]byte, bool, error) {
	if len(lr.partial) > 0 {
		line := lr.partial
		lr.partial = nil
		if !lr.crIsBreak {
			line = bytes.TrimSuffix(line, []byte{'\r'})
		}
		return line, false, nil
	}
	return nil, false, lr.err
}
