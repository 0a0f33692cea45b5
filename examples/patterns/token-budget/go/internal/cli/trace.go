package cli

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// redactor replaces every configured key with [REDACTED]: an API key must
// never reach stdout or stderr, whatever the server echoes back.
type redactor struct {
	secrets []string
}

func (r redactor) apply(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "[REDACTED]")
	}
	return s
}

// heldBack is how many trailing bytes of s could be the start of a key that
// the next piece of streamed text completes.
func (r redactor) heldBack(s string) int {
	hold := 0
	for _, secret := range r.secrets {
		for k := min(len(secret)-1, len(s)); k > hold; k-- {
			if strings.HasSuffix(s, secret[:k]) {
				hold = k
				break
			}
		}
	}
	return hold
}

// streamWriter writes streamed text through the redactor, holding back a
// possible key prefix until the next piece shows whether it is one.
type streamWriter struct {
	w       io.Writer
	r       redactor
	pending string
}

func (s *streamWriter) write(text string) {
	s.pending = s.r.apply(s.pending + text)
	cut := len(s.pending) - s.r.heldBack(s.pending)
	_, _ = io.WriteString(s.w, s.pending[:cut])
	s.pending = s.pending[cut:]
}

func (s *streamWriter) flush() {
	_, _ = io.WriteString(s.w, s.pending)
	s.pending = ""
}

// stderrLog writes timestamped, redacted lines to stderr for --verbose and
// --step. It is safe for concurrent use: body lines arrive from the reader
// goroutine.
type stderrLog struct {
	mu sync.Mutex
	w  io.Writer
	r  redactor
}

func (l *stderrLog) line(prefix, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()

	stamp := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	fmt.Fprintf(l.w, "%s %s %s\n", stamp, prefix, l.r.apply(text))
}

// plain writes an untimestamped line (step explanations).
func (l *stderrLog) plain(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, l.r.apply(text))
}

// verboseTracer implements provider.Tracer for --verbose.
type verboseTracer struct {
	log *stderrLog
}

func (t verboseTracer) Request(method, url string, header http.Header, body []byte) {
	t.log.line("verbose: >", method+" "+url)
	t.headers(">", header)
	t.log.line("verbose: >", string(body))
}

func (t verboseTracer) Response(status string, header http.Header) {
	t.log.line("verbose: <", status)
	t.headers("<", header)
}

func (t verboseTracer) BodyLine(line []byte) {
	t.log.line("verbose: <<", string(line))
}

func (t verboseTracer) headers(dir string, header http.Header) {
	names := make([]string, 0, len(header))
	for name := range header {
		names = append(names, name)
	}
	sort.Strings(names)

	for _, name := range names {
		value := strings.Join(header[name], ", ")
		switch strings.ToLower(name) {
		case "authorization", "x-api-key", "api-key":
			value = "[REDACTED]"
		}
		t.log.line("verbose: "+dir, name+": "+value)
	}
}

// stepper explains each step on stderr and, when stdin is a terminal, waits
// for Enter; "q" quits.
type stepper struct {
	log   *stderrLog
	wait  bool
	input *bufio.Reader
	quit  func()
	quits bool
}

func (s *stepper) explain(name, text string) {
	if s == nil || s.quits {
		return
	}

	s.log.plain(fmt.Sprintf("step: %s: %s", name, text))
	if !s.wait {
		return
	}

	s.log.plain("step: press Enter to continue, q then Enter to quit")
	answer, err := s.input.ReadString('\n')
	if err == nil && strings.TrimSpace(strings.ToLower(answer)) == "q" {
		s.quits = true
		s.quit()
	}
}
