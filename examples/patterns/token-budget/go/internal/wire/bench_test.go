package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// benchBody is a typical OpenAI stream: 2,000 small chunk events.
var benchBody = []byte(strings.Repeat(`data: {"id":"c1","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}]}`+"\n\n", 2000))

// BenchmarkBaselineLines is the yardstick: bufio's LF-only line split, which
// does far less than the SSE rules ask. Compare the SSE decoder with it as a
// ratio measured in the same run, never as an absolute time.
func BenchmarkBaselineLines(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		r := bufio.NewReader(bytes.NewReader(benchBody))
		for {
			if _, err := r.ReadSlice('\n'); err != nil {
				break
			}
		}
	}
}

func BenchmarkSSEDecoder(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		d := NewSSEDecoder(bytes.NewReader(benchBody))
		for {
			if _, err := d.Next(); errors.Is(err, io.EOF) {
				break
			}
		}
	}
}
