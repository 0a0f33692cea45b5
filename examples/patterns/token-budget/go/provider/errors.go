package provider

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"

	"github.com/token-budget/examples/token-budget/budget"
	"github.com/token-budget/examples/token-budget/internal/wire"
)

// statusError turns an error response into a *budget.Error carrying the
// provider's own message (SPEC.md section 8).
func statusError(r *response, tracer Tracer) *budget.Error {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxErrorBody))
	if tracer != nil {
		traceLines(tracer, body)
	}

	message := errorBodyMessage(body)
	if message == "" && readErr != nil {
		message = fmt.Sprintf("HTTP %d from %s (body unreadable: %v)", r.StatusCode, r.url, readErr)
	}
	if message == "" {
		message = fmt.Sprintf("HTTP %d %s from %s", r.StatusCode, http.StatusText(r.StatusCode), r.url)
	}

	return &budget.Error{
		Kind:       kindForStatus(r.StatusCode),
		Message:    budget.OneLine(message),
		Status:     r.StatusCode,
		RetryAfter: retryAfter(r.Header.Get("Retry-After")),
	}
}

func traceLines(tracer Tracer, body []byte) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, maxErrorBody+1)
	for sc.Scan() {
		tracer.BodyLine(sc.Bytes())
	}
}

// kindForStatus is the pre-stream column of the kinds table.
func kindForStatus(status int) budget.Kind {
	switch {
	case status == 401 || status == 403:
		return budget.KindAuth
	case status == 429:
		return budget.KindRateLimit
	case status == 503 || status == 529:
		return budget.KindOverloaded
	case status >= 400 && status <= 499:
		return budget.KindBadRequest
	}
	return budget.KindServer
}

var digits = regexp.MustCompile(`^[0-9]+$`)

// retryAfter reads a Retry-After header given in whole seconds; an HTTP
// date or anything else gives -1 (not usable).
func retryAfter(value string) float64 {
	if !digits.MatchString(value) {
		return -1
	}

	seconds, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return -1
	}
	return seconds
}

// errorBodyMessage finds the provider's message in an error body:
// error.message (OpenAI, Anthropic), error as a string (Ollama), or else the
// first non-blank line of the body.
func errorBodyMessage(body []byte) string {
	if msg, ok := jsonErrorMessage(body); ok {
		return msg
	}

	for line := range bytes.Lines(body) {
		if text := bytes.TrimSpace(line); len(text) > 0 {
			return wire.DecodeUTF8(text)
		}
	}
	return ""
}

func jsonErrorMessage(body []byte) (string, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return "", false
	}

	errField := obj["error"]
	if s, ok := asString(errField); ok && s != "" {
		return s, true
	}

	var inner map[string]json.RawMessage
	if json.Unmarshal(errField, &inner) == nil {
		if s, ok := asString(inner["message"]); ok && s != "" {
			return s, true
		}
	}
	return "", false
}
