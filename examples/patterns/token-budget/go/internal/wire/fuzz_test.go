package wire

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// casesDir holds the conformance cases; their bodies seed the fuzzers.
const casesDir = "../../../../../../conformance/cases"

// caseBodies returns the scripted response bodies of every conformance case,
// or nothing when the cases are not there (for example in a copy of this
// folder alone).
func caseBodies(t testing.TB) [][]byte {
	files, _ := filepath.Glob(filepath.Join(casesDir, "*.json"))
	var bodies [][]byte
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("read %s: %v", file, err)
		}
		bodies = append(bodies, bodiesOfCase(data)...)
	}
	return bodies
}

func bodiesOfCase(data []byte) [][]byte {
	var c struct {
		Server json.RawMessage `json:"server"`
	}
	if json.Unmarshal(data, &c) != nil {
		return nil
	}

	var servers []map[string]json.RawMessage
	if json.Unmarshal(c.Server, &servers) != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(c.Server, &one) != nil {
			return nil
		}
		servers = append(servers, one)
	}

	var bodies [][]byte
	for _, s := range servers {
		var writes []map[string]json.RawMessage
		_ = json.Unmarshal(s["writes"], &writes)
		var body []byte
		for _, w := range writes {
			body = append(body, writeBytes(w)...)
		}
		bodies = append(bodies, body)
	}
	return bodies
}

// writeBytes rebuilds one scripted write (text, hex, sse or ndjson form).
func writeBytes(w map[string]json.RawMessage) []byte {
	var s string
	switch {
	case w["text"] != nil:
		_ = json.Unmarshal(w["text"], &s)
		return []byte(s)
	case w["hex"] != nil:
		_ = json.Unmarshal(w["hex"], &s)
		b, _ := hex.DecodeString(s)
		return b
	case w["ndjson"] != nil:
		return append(compact(w["ndjson"]), '\n')
	case w["sse"] != nil:
		payload := compact(w["sse"])
		if json.Unmarshal(w["sse"], &s) == nil {
			payload = []byte(s)
		}
		out := []byte{}
		var event string
		if json.Unmarshal(w["event"], &event) == nil && event != "" {
			out = append(out, "event: "+event+"\n"...)
		}
		out = append(out, "data: "...)
		out = append(out, payload...)
		return append(out, "\n\n"...)
	}
	return nil
}

func compact(raw json.RawMessage) []byte {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	out, _ := json.Marshal(v)
	return out
}

// split cuts data into pieces at pseudo-random points chosen by seed.
func split(data []byte, seed uint64) io.Reader {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	r := &chunkedReader{}
	for len(data) > 0 {
		n := 1 + rng.IntN(min(len(data), 7))
		r.pieces = append(r.pieces, data[:n])
		data = data[n:]
	}
	return r
}

func sseAll(r io.Reader) ([]Event, error) {
	d := NewSSEDecoder(r)
	var events []Event
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}
}

func FuzzSSE(f *testing.F) {
	for _, body := range caseBodies(f) {
		f.Add(body, uint64(1))
	}
	f.Add([]byte("data: a\r\n\r\ndata: b\r\rdata:c\n\n"), uint64(7))

	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		whole, err := sseAll(bytesReader(data))
		if err != nil {
			t.Fatalf("in-memory read failed: %v", err)
		}

		// However the bytes are cut into reads, the events are the same.
		cut, err := sseAll(split(append([]byte(nil), data...), seed))
		if err != nil {
			t.Fatalf("split read failed: %v", err)
		}
		if len(whole) != len(cut) {
			t.Fatalf("%d events whole, %d split", len(whole), len(cut))
		}
		for i := range whole {
			if whole[i] != cut[i] {
				t.Fatalf("event %d: %+v whole, %+v split", i, whole[i], cut[i])
			}
			if !utf8.ValidString(whole[i].Data) || !utf8.ValidString(whole[i].Type) {
				t.Fatalf("event %d is not valid UTF-8", i)
			}
		}
	})
}

func ndjsonAll(r io.Reader) ([]Line, error) {
	d := NewNDJSONDecoder(r)
	var lines []Line
	for {
		line, err := d.Next()
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
		lines = append(lines, line)
	}
}

func FuzzNDJSON(f *testing.F) {
	for _, body := range caseBodies(f) {
		f.Add(body, uint64(1))
	}
	f.Add([]byte("{\"a\":1}\r\n\n{\"b\":2}"), uint64(3))

	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		whole, err := ndjsonAll(bytesReader(data))
		if err != nil {
			t.Fatal(err)
		}
		cut, err := ndjsonAll(split(append([]byte(nil), data...), seed))
		if err != nil {
			t.Fatal(err)
		}

		if len(whole) != len(cut) {
			t.Fatalf("%d lines whole, %d split", len(whole), len(cut))
		}
		for i := range whole {
			if whole[i] != cut[i] {
				t.Fatalf("line %d: %+v whole, %+v split", i, whole[i], cut[i])
			}
			if i < len(whole)-1 && whole[i].Final {
				t.Fatalf("only the last line can be unterminated")
			}
		}
	})
}

func FuzzDecodeUTF8(f *testing.F) {
	f.Add([]byte("caf\xc3\xa9 \xe4\xbd \xf0\x9f\x99"))

	f.Fuzz(func(t *testing.T, data []byte) {
		got := DecodeUTF8(data)
		if !utf8.ValidString(got) {
			t.Fatalf("output is not valid UTF-8: %q", got)
		}
		if utf8.Valid(data) && got != string(data) {
			t.Fatalf("valid input changed: %q -> %q", data, got)
		}
		if utf8.RuneCountInString(got) > len(data) {
			t.Fatalf("more code points than bytes: %q -> %q", data, got)
		}
	})
}

func bytesReader(b []byte) io.Reader {
	return &chunkedReader{pieces: [][]byte{append([]byte(nil), b...)}}
}
