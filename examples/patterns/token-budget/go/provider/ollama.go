package provider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/token-budget/examples/token-budget/budget"
	"github.com/token-budget/examples/token-budget/internal/wire"
)

// Ollama speaks Ollama's native /api/chat API, which streams NDJSON.
type Ollama struct {
	HTTPConfig
}

// Name implements budget.Provider.
func (p *Ollama) Name() string { return "ollama" }

type ollamaRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
	Stream   bool          `json:"stream"`
	Options  struct {
		NumPredict int `json:"num_predict"`
	} `json:"options"`
}

// Open implements budget.Provider.
func (p *Ollama) Open(ctx context.Context, req budget.Request) (budget.Stream, error) {
	body := ollamaRequest{
		Model:    req.Model,
		Messages: []chatMessage{{Role: "user", Content: req.Prompt}},
		Stream:   true,
	}
	body.Options.NumPredict = req.MaxTokens

	header := http.Header{}
	if p.APIKey != "" {
		header.Set("Authorization", "Bearer "+p.APIKey)
	}

	resp, err := post(ctx, p.HTTPConfig, p.BaseURL+"/api/chat", header, body)
	if err != nil {
		return nil, err
	}

	decoder := wire.NewNDJSONDecoder(resp.Body)
	if p.Tracer != nil {
		decoder.OnLine = p.Tracer.BodyLine
	}
	return &ollamaStream{resp: resp, decoder: decoder}, nil
}

type ollamaStream struct {
	resp    *response
	decoder *wire.NDJSONDecoder
}

func (s *ollamaStream) Next() (budget.Event, error) {
	line, err := s.decoder.Next()
	if errors.Is(err, io.EOF) {
		return budget.Event{}, budget.NewError(budget.KindTruncated, "the ollama stream ended without a \"done\": true line")
	}
	if err != nil {
		return budget.Event{}, transportError(s.resp.url, err, true)
	}

	obj, ok := parseObject(line.Text)
	if !ok && line.Final {
		return budget.Event{}, budget.NewError(budget.KindTruncated, "the ollama stream ended in the middle of a line, without a \"done\": true line")
	}
	if !ok {
		return budget.Event{}, protocolError("ollama stream line is not a JSON object: %s", snippet(line.Text))
	}

	if raw, has := obj["error"]; has && string(raw) != "null" {
		return budget.Event{}, ollamaStreamError(raw)
	}
	return ollamaEvent(obj), nil
}

func ollamaEvent(obj object) budget.Event {
	message := asObject(obj["message"])
	ev := budget.Event{
		Text:   text(message["content"]),
		Hidden: text(message["thinking"]),
	}
	if reason, ok := asString(obj["done_reason"]); ok {
		ev.FinishReason = reason
	}

	// The last line still carries text; its counts are omitted when zero.
	if string(obj["done"]) == "true" {
		prompt, _ := asCount(obj["prompt_eval_count"])
		completion, _ := asCount(obj["eval_count"])
		ev.Usage = &budget.Usage{PromptTokens: ptr(prompt), CompletionTokens: ptr(completion)}
		ev.Terminal = true
	}
	return ev
}

func ollamaStreamError(raw []byte) *budget.Error {
	if s, ok := asString(raw); ok && strings.TrimSpace(s) != "" {
		return budget.NewError(budget.KindServer, "%s", s)
	}
	if s, ok := asString(asObject(raw)["message"]); ok && strings.TrimSpace(s) != "" {
		return budget.NewError(budget.KindServer, "%s", s)
	}
	return budget.NewError(budget.KindServer, "the ollama stream reported an error: %s", snippet(string(raw)))
}

func (s *ollamaStream) Close() error { return s.resp.Close() }
