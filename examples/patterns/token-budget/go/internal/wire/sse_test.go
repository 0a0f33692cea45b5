package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// chunkedReader returns the given pieces one Read at a time, as a network
// would deliver separate writes.
type chunkedReader struct {
	pieces [][]byte
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.pieces) == 0 {
		return 0, io.EOF
	}

	n := copy(p, r.pieces[0])
	r.pieces[0] = r.pieces[0][n:]
	if len(r.pieces[0]) == 0 {
		r.pieces = r.pieces[1:]
	}
	return n, nil
}

func pieces(parts ...string) io.Reader {
	r := &chunkedReader{}
	for _, p := range parts {
		r.pieces = append(r.pieces, []byte(p))
	}
	return r
}

func collectSSE(t *testing.T, r io.Reader) []Event {
	t.Helper()
	d := NewSSEDecoder(r)
	var events []Event
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			return events
		}
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		events = append(events, ev)
	}
}

func datas(events []Event) []string {
	out := make([]string, 0, len(events))
	for _, ev := range events {
		out = append(out, ev.Data)
	}
	return out
}

func TestSSEWHATWGTable(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{"one space stripped, second kept", "data: a\n\ndata:  b\n\n", []string{"a", " b"}},
		{"multi-line data joined", "data: x\ndata: y\n\n", []string{"x\ny"}},
		{"bare CR line ends", "data: x\r\rdata: y\r\n\r\n", []string{"x", "y"}},
		{"comment only", ": keepalive\n\n", nil},
		{"event without data", "event: ping\n\n", nil},
		{"data without colon", "data\n\n", []string{""}},
		{"BOM stripped once", "\xEF\xBB\xBFdata: a\n\n", []string{"a"}},
		{"second BOM is text", "\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n", []string{"b"}},
		{"pending event at EOF discarded", "data: tail", nil},
		{"terminated line but no blank line", "data: tail\n", nil},
		{"no space after colon", "data:[DONE]\n\n", []string{"[DONE]"}},
		{"tab is not stripped", "data:\tx\n\n", []string{"\tx"}},
		{"unknown fields ignored", "id: 1\nretry: 5\nfoo: bar\ndata: z\n\n", []string{"z"}},
		{"double blank line dispatches once", "data: a\n\n\n\n", []string{"a"}},
		{"CRLF everywhere", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"a", "b"}},
		{"field name is case sensitive", "Data: a\n\n", nil},
		{"colon in value kept", "data: a:b\n\n", []string{"a:b"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := datas(collectSSE(t, strings.NewReader(tt.input)))
			if !equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}

			// The same bytes one at a time must give the same events.
			got = datas(collectSSE(t, iotest.OneByteReader(strings.NewReader(tt.input))))
			if !equal(got, tt.want) {
				t.Fatalf("byte by byte: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSSEEventType(t *testing.T) {
	events := collectSSE(t, strings.NewReader("event: message_stop\ndata: {}\n\ndata: 1\n\n"))
	if len(events) != 2 || events[0].Type != "message_stop" || events[1].Type != "message" {
		t.Fatalf("got %+v", events)
	}
}

func TestSSECRSplitAcrossReads(t *testing.T) {
	// The CR ends one read and its LF starts the next: one line end, not two,
	// so "data: b" stays in the same event as "data: a".
	got := datas(collectSSE(t, pieces("data: a\r", "\ndata: b\r", "\n\r", "\n")))
	if !equal(got, []string{"a\nb"}) {
		t.Fatalf("got %q", got)
	}
}

func TestSSEMultiByteSplitAcrossReads(t *testing.T) {
	// BR-18: "café 你好 🙂" cut inside every multi-byte character.
	got := datas(collectSSE(t, pieces("data: caf\xc3", "\xa9 \xe4\xbd", "\xa0\xe5\xa5\xbd \xf0\x9f", "\x99\x82\n\n")))
	if !equal(got, []string{"café 你好 🙂"}) {
		t.Fatalf("got %q", got)
	}
}

func TestSSELongLine(t *testing.T) {
	// Longer than bufio.Scanner's 64 KiB default and than one read.
	long := strings.Repeat("x", 300_000)
	got := datas(collectSSE(t, strings.NewReader("data: "+long+"\n\n")))
	if len(got) != 1 || got[0] != long {
		t.Fatalf("long line lost: %d events", len(got))
	}
}

func TestSSEReadErrorIsReturned(t *testing.T) {
	boom := errors.New("connection reset")
	d := NewSSEDecoder(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)))

	if ev, err := d.Next(); err != nil || ev.Data != "a" {
		t.Fatalf("first event: %+v, %v", ev, err)
	}
	if _, err := d.Next(); !errors.Is(err, boom) {
		t.Fatalf("want the read error, got %v", err)
	}
}

func TestSSEOnLineSeesRawLines(t *testing.T) {
	var lines []string
	d := NewSSEDecoder(strings.NewReader(": c\ndata: a\n\n"))
	d.OnLine = func(line []byte) { lines = append(lines, string(line)) }
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	if !equal(lines, []string{": c", "data: a", ""}) {
		t.Fatalf("got %q", lines)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDecodeUTF8(t *testing.T) {
	// Expected values are what Python's bytes.decode("utf-8", "replace")
	// gives: one U+FFFD per maximal invalid subpart.
	tests := []struct {
		in   string
		want string
	}{
		{"abc", "abc"},
		{"caf\xc3\xa9", "café"},
		{"\xe4\xbd", "\ufffd"},
		{"\xe4\xbdx", "\ufffdx"},
		{"\xff\xfe", "\ufffd\ufffd"},
		{"\xf0\x9f\x99", "\ufffd"},
		{"\xed\xa0\x80", "\ufffd\ufffd\ufffd"},
		{"\xe0\x80\x80", "\ufffd\ufffd\ufffd"},
		{"\xc0\xaf", "\ufffd\ufffd"},
		{"\xf4\x90\x80\x80", "\ufffd\ufffd\ufffd\ufffd"},
		{"a\x80b", "a\ufffdb"},
		{"\xef\xbf\xbd", "\ufffd"},
	}

	for _, tt := range tests {
		if got := DecodeUTF8([]byte(tt.in)); got != tt.want {
			t.Errorf("DecodeUTF8(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNDJSON(t *testing.T) {
	tests := []struct {
		name      string
		parts     []string
		want      []string
		wantFinal bool
	}{
		{"lines split across reads", []string{`{"a":1}` + "\n" + `{"b"`, `:2}` + "\n"}, []string{`{"a":1}`, `{"b":2}`}, false},
		{"final line without newline", []string{`{"a":1}` + "\n" + `{"done":true}`}, []string{`{"a":1}`, `{"done":true}`}, true},
		{"CRLF and blank lines", []string{"{}\r\n\r\n\n  \n{}\n"}, []string{"{}", "{}"}, false},
		{"CR is not a line end", []string{"{\"a\":\"x\ry\"}\n"}, []string{"{\"a\":\"x\ry\"}"}, false},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewNDJSONDecoder(pieces(tt.parts...))
			var got []string
			var lastFinal bool
			for {
				line, err := d.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, line.Text)
				lastFinal = line.Final
			}

			if !equal(got, tt.want) || lastFinal != tt.wantFinal {
				t.Fatalf("got %q (final %v), want %q (final %v)", got, lastFinal, tt.want, tt.wantFinal)
			}
		})
	}
}

func TestNDJSONLongLine(t *testing.T) {
	long := `{"x":"` + strings.Repeat("y", 200_000) + `"}`
	line, err := NewNDJSONDecoder(bytes.NewReader([]byte(long + "\n"))).Next()
	if err != nil || line.Text != long || line.Final {
		t.Fatalf("long line: err %v, len %d", err, len(line.Text))
	}
}
