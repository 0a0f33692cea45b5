package provider

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/token-budget/examples/token-budget/budget"
	"github.com/token-budget/examples/token-budget/internal/wire"
)

// OpenAI speaks the Chat Completions streaming API, which vLLM, llama.cpp,
// LM Studio, Ollama's /v1 and most gateways also serve.
type OpenAI struct {
	HTTPConfig
}

// Name implements budget.Provider.
func (p *OpenAI) Name() string { return "openai" }

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type openAIRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxCompletionTokens int `json:"max_completion_tokens,omitempty"`
	MaxTokens           int `json:"max_tokens,omitempty"`
}

// Open implements budget.Provider.
func (p *OpenAI) Open(ctx context.Context, req budget.Request) (budget.Stream, error) {
	body := openAIRequest{
		Model:    req.Model,
		Messages: []chatMessage{{Role: "user", Content: req.Prompt}},
		Stream:   true,
	}
	body.StreamOptions.IncludeUsage = true

	// The official API wants max_completion_tokens (reasoning models reject
	// max_tokens); compatible servers such as Ollama's /v1 honour only max_tokens.
	if isOfficialOpenAI(p.BaseURL) {
		body.MaxCompletionTokens = req.MaxTokens
	} else {
		body.MaxTokens = req.MaxTokens
	}

	header := http.Header{"Accept": {"text/event-stream"}}
	if p.APIKey != "" {
		header.Set("Authorization", "Bearer "+p.APIKey)
	}

	resp, err := post(ctx, p.HTTPConfig, p.BaseURL+"/chat/completions", header, body)
	if err != nil {
		return nil, err
	}
	if err := checkEventStream(resp); err != nil {
		resp.Close()
		return nil, err
	}
	return newSSEStream(resp, &openAIMapper{}, p.Tracer), nil
}

func isOfficialOpenAI(base string) bool {
	u, err := url.Parse(base)
	return err == nil && strings.EqualFold(u.Hostname(), "api.openai.com")
}

// openAIMapper reads chat.completion.chunk events.
type openAIMapper struct {
	sawFinish bool
}

func (m *openAIMapper) event(ev wire.Event) (budget.Event, bool, error) {
	// The event name is ignored; [DONE] is checked before any JSON parsing.
	if ev.Data == "[DONE]" {
		return budget.Event{Terminal: true}, true, nil
	}

	chunk, ok := parseObject(ev.Data)
	if !ok {
		return budget.Event{}, false, protocolError("openai stream data is not a JSON object: %s", snippet(ev.Data))
	}

	if truthy(chunk["error"]) {
		return budget.Event{}, false, openAIStreamError(chunk["error"])
	}

	var delta budget.Event
	var visible, hidden strings.Builder
	for _, raw := range asArray(chunk["choices"]) {
		choice := asObject(raw)
		d := asObject(choice["delta"])

		hidden.WriteString(text(d["reasoning_content"]))
		hidden.WriteString(text(d["reasoning"]))
		visible.WriteString(text(d["content"]))
		for _, call := range asArray(d["tool_calls"]) {
			fn := asObject(asObject(call)["function"])
			hidden.WriteString(text(fn["arguments"]))
		}

		if reason, ok := asString(choice["finish_reason"]); ok {
			delta.FinishReason = reason
			m.sawFinish = true
		}
	}
	delta.Text, delta.Hidden = visible.String(), hidden.String()

	// Usage snapshots replace each other; they are never added (BR-03).
	if usage := asObject(chunk["usage"]); usage != nil {
		delta.Usage = &budget.Usage{}
		if n, ok := asCount(usage["prompt_tokens"]); ok {
			delta.Usage.PromptTokens = ptr(n)
		}
		if n, ok := asCount(usage["completion_tokens"]); ok {
			delta.Usage.CompletionTokens = ptr(n)
		}
	}
	return delta, true, nil
}

// atEOF: a body that ends cleanly after a finish reason is complete even
// without [DONE]; otherwise the answer was cut.
func (m *openAIMapper) atEOF() (budget.Event, error) {
	if m.sawFinish {
		return budget.Event{Terminal: true}, nil
	}
	return budget.Event{}, budget.NewError(budget.KindTruncated, "the openai stream ended without [DONE] or a finish_reason")
}

// openAIStreamError maps a data object's error member (SPEC.md section 8).
func openAIStreamError(raw []byte) *budget.Error {
	if s, ok := asString(raw); ok {
		return budget.NewError(budget.KindServer, "%s", s)
	}

	e := asObject(raw)
	errType, _ := asString(e["type"])
	code, _ := asString(e["code"])

	kind := budget.KindServer
	switch {
	case errType == "authentication_error":
		kind = budget.KindAuth
	case errType == "rate_limit_error" || code == "rate_limit_exceeded":
		kind = budget.KindRateLimit
	case errType == "invalid_request_error":
		kind = budget.KindBadRequest
	}

	message, ok := asString(e["message"])
	if !ok || strings.TrimSpace(message) == "" {
		message = "the openai stream reported an error: " + snippet(string(raw))
	}
	return budget.NewError(kind, "%s", message)
}
