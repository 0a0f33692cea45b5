package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/token-budget/examples/token-budget/budget"
)

// DefaultTimeout is the connect timeout and the longest silence allowed
// between two reads of the body.
const DefaultTimeout = 60 * time.Second

// maxErrorBody caps how much of an error response is read for its message.
const maxErrorBody = 64 * 1024

// credentialHeaders are redacted in traces whatever their value.
var credentialHeaders = []string{"Authorization", "X-Api-Key", "Api-Key"}

// HTTPConfig is what every HTTP provider needs.
type HTTPConfig struct {
	// BaseURL is normalized with NormalizeBaseURL.
	BaseURL string
	// APIKey is sent when not empty.
	APIKey string
	// Timeout defaults to DefaultTimeout.
	Timeout time.Duration
	// Tracer, when set, sees the request and every raw body line.
	Tracer Tracer
}

// Tracer observes one HTTP exchange. Credential headers arrive already
// redacted.
type Tracer interface {
	Request(method, url string, header http.Header, body []byte)
	Response(status string, header http.Header)
	BodyLine(line []byte)
}

func (c HTTPConfig) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// response is one open HTTP response whose connection this package owns.
type response struct {
	*http.Response
	url   string
	conns *connSet
}

// Close closes the body and the connection itself, at once: a budget stop
// must not return the connection to a pool or drain the rest of the body.
func (r *response) Close() error {
	err := r.Body.Close()
	r.conns.closeAll()
	return err
}

// post sends one JSON POST and returns the response when its status is 2xx.
// An error status is read, closed and translated into a *budget.Error.
func post(ctx context.Context, cfg HTTPConfig, url string, header http.Header, payload any) (*response, error) {
	body, err := encodeJSON(payload)
	if err != nil {
		return nil, fmt.Errorf("encode request body: %w", err)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, budget.NewError(budget.KindConnection, "cannot build a request for %s: %v", url, err)
	}
	req.Header = header
	req.Header.Set("Content-Type", "application/json")

	if cfg.Tracer != nil {
		cfg.Tracer.Request(req.Method, url, redactHeaders(req.Header), body)
	}

	conns := &connSet{}
	client := newClient(cfg.timeout(), conns)
	resp, err := client.Do(req)
	if err != nil {
		conns.closeAll()
		return nil, transportError(url, err, false)
	}

	if cfg.Tracer != nil {
		cfg.Tracer.Response(resp.Status, resp.Header)
	}

	r := &response{Response: resp, url: url, conns: conns}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer r.Close()
		return nil, statusError(r, cfg.Tracer)
	}
	return r, nil
}

// encodeJSON marshals without HTML escaping, so traces read naturally.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// newClient builds a client for exactly one request: no keep-alive, no
// redirects (a redirect would be a second request), no transparent gzip
// (it would hold back stream bytes), and a dialer whose connections this
// package can close itself and that enforce the read timeout.
func newClient(timeout time.Duration, conns *connSet) *http.Client {
	dialer := &net.Dialer{Timeout: timeout}
	transport := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return conns.add(&deadlineConn{Conn: c, timeout: timeout}), nil
		},
		TLSHandshakeTimeout: timeout,
		DisableKeepAlives:   true,
		DisableCompression:  true,
	}

	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// deadlineConn gives every Read its own deadline, which turns "no byte for
// timeout" into an i/o timeout error, while waiting for the headers as well as
// between two reads of the body.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// connSet remembers the connections dialled for one request.
type connSet struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (s *connSet) add(c net.Conn) net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns = append(s.conns, c)
	return c
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
}

// checkEventStream rejects a 2xx answer that is not an event stream; its body
// is not parsed (SPEC.md section 4.4).
func checkEventStream(r *response) error {
	contentType := r.Header.Get("Content-Type")
	media, _, err := mime.ParseMediaType(contentType)
	if err == nil && media == "text/event-stream" {
		return nil
	}

	if contentType == "" {
		contentType = "none"
	}
	return budget.NewError(budget.KindProtocol, "expected a text/event-stream response from %s, got Content-Type %s", r.url, contentType)
}

// transportError translates an error of the HTTP client or of a body read.
// midStream tells whether the body had started.
func transportError(url string, err error, midStream bool) *budget.Error {
	var be *budget.Error
	if errors.As(err, &be) {
		return be
	}

	kind := budget.KindConnection
	var message string
	switch {
	case isTimeout(err):
		kind = budget.KindTimeout
		message = fmt.Sprintf("no data from %s within the timeout", url)
	case midStream:
		message = fmt.Sprintf("the connection to %s broke before the body ended: %s", url, rootCause(err))
	default:
		message = fmt.Sprintf("cannot reach %s: %s", url, rootCause(err))
	}

	return &budget.Error{Kind: kind, Message: budget.OneLine(message), RetryAfter: -1, Err: err}
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}

	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// rootCause names the lowest-level reason, which is what helps a user
// ("connection refused", "unexpected EOF").
func rootCause(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of the body"
	}

	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

func redactHeaders(h http.Header) http.Header {
	out := h.Clone()
	for _, name := range credentialHeaders {
		if out.Get(name) != "" {
			out.Set(name, "[REDACTED]")
		}
	}
	return out
}
