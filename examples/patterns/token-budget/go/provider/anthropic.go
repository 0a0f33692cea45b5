package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/token-budget/examples/token-budget/budget"
	"github.com/token-budget/examples/token-budget/internal/wire"
)

// Anthropic speaks the Messages streaming API.
type Anthropic struct {
	HTTPConfig
}

// Name implements budget.Provider.
func (p *Anthropic) Name() string { return "anthropic" }

type anthropicRequest struct {
	Model     string        `json:"model"`
	MaxTokens int           `json:"max_tokens"`
	Messages  []chatMessage `json:"messages"`
	Stream    bool          `json:"stream"`
}

// Open implements budget.Provider.
func (p *Anthropic) Open(ctx context.Context, req budget.Request) (budget.Stream, error) {
	body := anthropicRequest{
		Model:     req.Model,
		MaxTokens: req.MaxTokens,
		Messages:  []chatMessage{{Role: "user", Content: req.Prompt}},
		Stream:    true,
	}

	header := http.Header{
		"Accept":            {"text/event-stream"},
		"Anthropic-Version": {"2023-06-01"},
	}
	if p.APIKey != "" {
		header.Set("X-Api-Key", p.APIKey)
	}

	resp, err := post(ctx, p.HTTPConfig, p.BaseURL+"/v1/messages", header, body)
	if err != nil {
		return nil, err
	}
	if err := checkEventStream(resp); err != nil {
		resp.Close()
		return nil, err
	}
	return newSSEStream(resp, &anthropicMapper{}, p.Tracer), nil
}

// anthropicMapper dispatches on the SSE event name, as Anthropic's own
// clients do; unknown names are ignored.
type anthropicMapper struct {
	usage budget.Usage
	parts [3]int64 // the latest value of each of promptParts
	seen  [3]bool
}

var anthropicStopReasons = map[string]string{
	"end_turn":      "stop",
	"stop_sequence": "stop",
	"max_tokens":    "length",
	"tool_use":      "tool_calls",
	"refusal":       "content_filter",
}

func (m *anthropicMapper) event(ev wire.Event) (budget.Event, bool, error) {
	var raw json.RawMessage
	if err := json.Unmarshal([]byte(ev.Data), &raw); err != nil {
		return budget.Event{}, false, protocolError("anthropic %s event data is not JSON: %s", ev.Type, snippet(ev.Data))
	}

	handler, known := anthropicHandlers[ev.Type]
	if !known {
		return budget.Event{}, false, nil
	}

	data := asObject(raw)
	if data == nil {
		return budget.Event{}, false, protocolError("anthropic %s event data is not a JSON object: %s", ev.Type, snippet(ev.Data))
	}
	return handler(m, data)
}

var anthropicHandlers = map[string]func(*anthropicMapper, object) (budget.Event, bool, error){
	"message_start":       (*anthropicMapper).messageStart,
	"content_block_delta": (*anthropicMapper).contentBlockDelta,
	"message_delta":       (*anthropicMapper).messageDelta,
	"message_stop":        (*anthropicMapper).messageStop,
	"error":               (*anthropicMapper).streamError,
}

// messageStart reads the input counts; its output_tokens is a placeholder.
func (m *anthropicMapper) messageStart(data object) (budget.Event, bool, error) {
	usage := asObject(asObject(data["message"])["usage"])
	if !m.setPrompt(usage) {
		return budget.Event{}, false, nil
	}
	return budget.Event{Usage: m.snapshot()}, true, nil
}

func (m *anthropicMapper) contentBlockDelta(data object) (budget.Event, bool, error) {
	delta := asObject(data["delta"])
	kind, _ := asString(delta["type"])

	switch kind {
	case "text_delta":
		return budget.Event{Text: text(delta["text"])}, true, nil
	case "thinking_delta":
		return budget.Event{Hidden: text(delta["thinking"])}, true, nil
	case "input_json_delta":
		return budget.Event{Hidden: text(delta["partial_json"])}, true, nil
	}
	return budget.Event{}, false, nil
}

// messageDelta carries the stop reason and cumulative usage: present fields
// replace, absent fields keep their value, nothing is added (BR-06).
func (m *anthropicMapper) messageDelta(data object) (budget.Event, bool, error) {
	var ev budget.Event
	if reason, ok := asString(asObject(data["delta"])["stop_reason"]); ok {
		ev.FinishReason = normalizeStopReason(reason)
	}

	usage := asObject(data["usage"])
	changed := m.setPrompt(usage)
	if n, ok := asCount(usage["output_tokens"]); ok {
		m.usage.CompletionTokens = ptr(n)
		changed = true
	}
	if changed {
		ev.Usage = m.snapshot()
	}
	return ev, true, nil
}

func (m *anthropicMapper) messageStop(object) (budget.Event, bool, error) {
	return budget.Event{Terminal: true}, true, nil
}

func (m *anthropicMapper) streamError(data object) (budget.Event, bool, error) {
	e := asObject(data["error"])
	errType, _ := asString(e["type"])

	kind := budget.KindServer
	switch errType {
	case "authentication_error", "permission_error":
		kind = budget.KindAuth
	case "rate_limit_error":
		kind = budget.KindRateLimit
	case "invalid_request_error", "not_found_error", "request_too_large":
		kind = budget.KindBadRequest
	case "overloaded_error":
		kind = budget.KindOverloaded
	}

	message, ok := asString(e["message"])
	if !ok || strings.TrimSpace(message) == "" {
		message = "the anthropic stream reported an error of type " + errType
	}
	return budget.Event{}, false, budget.NewError(kind, "%s", message)
}

// setPrompt replaces the prompt parts (input, cache creation, cache read) that
// usage carries and keeps the others, then sets P to their sum once
// input_tokens has been seen (SPEC 6.1). It reports whether P was set.
func (m *anthropicMapper) setPrompt(usage object) bool {
	carried := false
	for i, name := range promptParts {
		if n, ok := asCount(usage[name]); ok {
			m.parts[i] = n
			m.seen[i] = true
			carried = true
		}
	}
	if !carried || !m.seen[0] {
		return false
	}

	m.usage.PromptTokens = ptr(m.parts[0] + m.parts[1] + m.parts[2])
	return true
}

// promptParts are the cumulative counts Anthropic splits the prompt into.
var promptParts = [3]string{
	"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
}

func (m *anthropicMapper) snapshot() *budget.Usage {
	u := m.usage
	return &u
}

func (m *anthropicMapper) atEOF() (budget.Event, error) {
	return budget.Event{}, budget.NewError(budget.KindTruncated, "the anthropic stream ended without message_stop")
}

func normalizeStopReason(reason string) string {
	if mapped, ok := anthropicStopReasons[reason]; ok {
		return mapped
	}
	return reason
}
