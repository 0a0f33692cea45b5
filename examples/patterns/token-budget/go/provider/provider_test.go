package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/token-budget/examples/token-budget/budget"
)

const oai = `{"id":"c1","object":"chat.completion.chunk","created":0,"model":"m",`
const oll = `{"model":"m","created_at":"2025-01-01T00:00:00Z",`

// script is one scripted response: status, content type, writes (each
// flushed on its own) and how it ends.
type script struct {
	status      int
	contentType string
	header      map[string]string
	writes      []string
	reset       bool // drop the connection without ending the chunked body
	hold        bool // stay silent until the client leaves
}

// seen records what the server received.
type seen struct {
	body   map[string]any
	header http.Header
	path   string
	gone   chan struct{} // closed when the client disconnected
}

func serve(t *testing.T, s script) (*httptest.Server, *seen) {
	t.Helper()
	rec := &seen{gone: make(chan struct{})}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.path, rec.header = r.URL.Path, r.Header.Clone()
		_ = json.NewDecoder(r.Body).Decode(&rec.body)

		if s.reset {
			resetAfter(t, w, s)
			return
		}

		for k, v := range s.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", s.contentType)
		w.WriteHeader(s.status)
		for _, chunk := range s.writes {
			if _, err := io.WriteString(w, chunk); err != nil {
				break
			}
			w.(http.Flusher).Flush()
		}

		if s.hold {
			<-r.Context().Done()
			close(rec.gone)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

// resetAfter writes a chunked response by hand and aborts the TCP
// connection before the final chunk.
func resetAfter(t *testing.T, w http.ResponseWriter, s script) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n", s.contentType)
	for _, chunk := range s.writes {
		fmt.Fprintf(buf, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	_ = buf.Flush()
	time.Sleep(20 * time.Millisecond)
	_ = conn.(*net.TCPConn).SetLinger(0)
	_ = conn.Close()
}

func sse(chunks ...string) []string {
	out := make([]string, len(chunks))
	for i, c := range chunks {
		out[i] = "data: " + c + "\n\n"
	}
	return out
}

func named(pairs ...string) []string {
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, "event: "+pairs[i]+"\ndata: "+pairs[i+1]+"\n\n")
	}
	return out
}

func stream(t *testing.T, p budget.Provider, tokenBudget int) (budget.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return budget.StreamWithBudget(ctx, p, budget.Request{Model: "m", Prompt: "Say hello"}, tokenBudget)
}

func openai(url string) *OpenAI { return &OpenAI{HTTPConfig{BaseURL: url, Timeout: 5 * time.Second}} }

func anthropic(url string) *Anthropic {
	return &Anthropic{HTTPConfig{BaseURL: url, Timeout: 5 * time.Second}}
}

func ollama(url string) *Ollama { return &Ollama{HTTPConfig{BaseURL: url, Timeout: 5 * time.Second}} }

func usage(p, o int64) string {
	return fmt.Sprintf("%d/%d", p, o)
}

func usageOf(res budget.Result) string {
	if res.Usage == nil {
		return "null"
	}
	return fmt.Sprintf("%s/%s", num(res.Usage.PromptTokens), num(res.Usage.CompletionTokens))
}

func num(n *int64) string {
	if n == nil {
		return "null"
	}
	return fmt.Sprint(*n)
}

func TestOpenAIStreams(t *testing.T) {
	tests := []struct {
		name    string
		writes  []string
		content string
		chars   int
		finish  string
		end     budget.End
		usage   string
	}{
		{
			name: "BR-01 usage-only chunk with empty choices",
			writes: sse(
				oai+`"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}],"usage":null}`,
				oai+`"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}`,
				oai+`"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`,
				"[DONE]"),
			content: "Hi", chars: 2, finish: "stop", end: budget.EndComplete, usage: usage(5, 1),
		},
		{
			name: "BR-03 running usage is replaced, not added",
			writes: sse(
				oai+`"choices":[{"index":0,"delta":{"content":"A"}}],"usage":{"prompt_tokens":5,"completion_tokens":1}}`,
				oai+`"choices":[{"index":0,"delta":{"content":"B"}}],"usage":{"prompt_tokens":5,"completion_tokens":2}}`,
				"[DONE]"),
			content: "AB", chars: 2, end: budget.EndComplete, usage: usage(5, 2),
		},
		{
			name: "BR-29 text and finish_reason in one chunk; anything after [DONE] ignored",
			writes: sse(
				oai+`"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}`,
				oai+`"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"length"}]}`,
				"[DONE]",
				oai+`"choices":[{"index":0,"delta":{"content":"IGNORED"}}]}`),
			content: "Hello", chars: 5, finish: "length", end: budget.EndComplete, usage: "null",
		},
		{
			name: "BR-32 reasoning and tool arguments count but are not content",
			writes: sse(
				oai+`"choices":[{"index":0,"delta":{"reasoning_content":"Think"}}]}`,
				oai+`"choices":[{"index":0,"delta":{"reasoning":" step"}}]}`,
				oai+`"choices":[{"index":0,"delta":{"content":"42","tool_calls":[{"function":{"arguments":"{}"}}]}}]}`,
				"[DONE]"),
			content: "42", chars: 5 + 5 + 2 + 2, end: budget.EndComplete, usage: "null",
		},
		{
			name: "finish_reason then clean EOF without [DONE] is complete",
			writes: sse(
				oai + `"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}`),
			content: "Hi", chars: 2, finish: "stop", end: budget.EndComplete, usage: "null",
		},
		{
			name:    "BR-17 clean EOF without marker is truncated",
			writes:  sse(oai + `"choices":[{"index":0,"delta":{"content":"The answer is"},"finish_reason":null}]}`),
			content: "The answer is", chars: 13, end: budget.EndTruncated, usage: "null",
		},
		{
			name: "[DONE] without its blank line is discarded: truncated",
			writes: append(sse(oai+`"choices":[{"index":0,"delta":{"content":"Hi"}}]}`),
				"data: [DONE]\n"),
			content: "Hi", chars: 2, end: budget.EndTruncated, usage: "null",
		},
		{
			name: "BR-22 comments and CRLF",
			writes: []string{": OPENROUTER PROCESSING\r\n\r\n", ":\n",
				"data: " + oai + `"choices":[{"index":0,"delta":{"content":"Hi"}}]}` + "\r\n\r\n", "data:[DONE]\r\n\r\n"},
			content: "Hi", chars: 2, end: budget.EndComplete, usage: "null",
		},
		{
			name:    "non-string content and null fields add nothing",
			writes:  sse(oai+`"choices":[{"index":0,"delta":{"content":null,"reasoning":5}}]}`, oai+`"choices":"x","usage":{"prompt_tokens":1.5,"completion_tokens":-1}}`, "[DONE]"),
			content: "", chars: 0, end: budget.EndComplete, usage: "null/null",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := serve(t, script{status: 200, contentType: "text/event-stream", writes: tt.writes})

			res, _ := stream(t, openai(srv.URL), 1000)
			if res.Content != tt.content || res.CountedChars != tt.chars || res.FinishReason != tt.finish || res.End != tt.end {
				t.Fatalf("got content %q chars %d finish %q end %s (err %v)", res.Content, res.CountedChars, res.FinishReason, res.End, res.Err)
			}
			if got := usageOf(res); got != tt.usage {
				t.Fatalf("usage %s, want %s", got, tt.usage)
			}
		})
	}
}

func TestOpenAIRequest(t *testing.T) {
	srv, rec := serve(t, script{status: 200, contentType: "text/event-stream", writes: sse("[DONE]")})
	p := openai(srv.URL)
	p.APIKey = "sk-secret"

	if _, err := stream(t, p, 7); err != nil {
		t.Fatal(err)
	}
	if rec.path != "/chat/completions" || rec.header.Get("Authorization") != "Bearer sk-secret" || rec.header.Get("Accept") != "text/event-stream" {
		t.Fatalf("path %s headers %v", rec.path, rec.header)
	}
	if rec.body["max_tokens"] != 7.0 || rec.body["max_completion_tokens"] != nil || rec.body["stream"] != true {
		t.Fatalf("body %v", rec.body)
	}
	if !isOfficialOpenAI("https://API.openai.com/v1") || isOfficialOpenAI(srv.URL) {
		t.Fatal("the official host decides max_completion_tokens")
	}
}

func TestAnthropicStreams(t *testing.T) {
	start := `{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":20,"cache_read_input_tokens":5,"output_tokens":1}}}`
	text := func(s string) string {
		return `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"` + s + `"}}`
	}

	tests := []struct {
		name    string
		writes  []string
		content string
		chars   int
		finish  string
		end     budget.End
		usage   string
		kind    budget.Kind
	}{
		{
			name: "BR-06 cumulative message_delta usage replaces",
			writes: named("message_start", start, "ping", `{"type": "ping"}`, "content_block_delta", text("Hi there"),
				"message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}`,
				"message_delta", `{"type":"message_delta","delta":{},"usage":{"output_tokens":4}}`,
				"message_stop", `{"type":"message_stop"    }`),
			content: "Hi there", chars: 8, finish: "stop", end: budget.EndComplete, usage: usage(25, 4),
		},
		{
			// Only input_tokens is replaced; the cache part from message_start stays.
			name: "message_delta with input_tokens replaces that part of the prompt",
			writes: named("message_start", start, "message_delta",
				`{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"input_tokens":20,"output_tokens":4}}`,
				"message_stop", `{}`),
			finish: "length", end: budget.EndComplete, usage: usage(25, 4),
		},
		{
			name: "thinking and tool input count; signature does not",
			writes: named("content_block_delta", `{"delta":{"type":"thinking_delta","thinking":"hmm"}}`,
				"content_block_delta", `{"delta":{"type":"signature_delta","signature":"XXXX"}}`,
				"content_block_delta", `{"delta":{"type":"input_json_delta","partial_json":"{\"a\""}}`,
				"message_stop", `{}`),
			chars: 3 + 4, end: budget.EndComplete, usage: "null",
		},
		{
			name:    "BR-13 error event after 200 keeps partial text",
			writes:  named("message_start", start, "content_block_delta", text("Partial"), "error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`),
			content: "Partial", chars: 7, end: budget.EndError, usage: usage(25, -1), kind: budget.KindOverloaded,
		},
		{
			name:    "BR-17 control B: no message_stop is truncated",
			writes:  named("content_block_delta", text("cut")),
			content: "cut", chars: 3, end: budget.EndTruncated, usage: "null", kind: budget.KindTruncated,
		},
		{
			name:   "an ignored event must still carry JSON",
			writes: named("ping", `not json`),
			end:    budget.EndError, usage: "null", kind: budget.KindProtocol,
		},
		{
			name:    "data without an event name is ignored",
			writes:  append(sse(text("lost")), named("message_stop", "{}")...),
			content: "", end: budget.EndComplete, usage: "null",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := serve(t, script{status: 200, contentType: "text/event-stream; charset=utf-8", writes: tt.writes})

			res, _ := stream(t, anthropic(srv.URL), 1000)
			if res.Content != tt.content || res.CountedChars != tt.chars || res.FinishReason != tt.finish || res.End != tt.end {
				t.Fatalf("got content %q chars %d finish %q end %s (err %v)", res.Content, res.CountedChars, res.FinishReason, res.End, res.Err)
			}
			want := strings.ReplaceAll(tt.usage, "-1", "null")
			if got := usageOf(res); got != want {
				t.Fatalf("usage %s, want %s", got, want)
			}
			if tt.kind != "" && (res.Err == nil || res.Err.Kind != tt.kind) {
				t.Fatalf("error %v, want kind %s", res.Err, tt.kind)
			}
			if rec.path != "/v1/messages" || rec.header.Get("Anthropic-Version") != "2023-06-01" || rec.body["max_tokens"] != 1000.0 {
				t.Fatalf("request %s %v %v", rec.path, rec.header, rec.body)
			}
		})
	}
}

func TestOllamaStreams(t *testing.T) {
	tests := []struct {
		name    string
		writes  []string
		content string
		end     budget.End
		usage   string
		kind    budget.Kind
	}{
		{
			name: "BR-28 lines split across reads, final line without newline",
			writes: []string{oll + `"message":{"role":"assistant","content":"Hel"},"done":false}` + "\n" + oll + `"mess`,
				`age":{"role":"assistant","content":"lo"},"done":false}` + "\n",
				oll + `"message":{"role":"assistant","content":"!"},"done":true,"done_reason":"stop","prompt_eval_count":4}`},
			content: "Hello!", end: budget.EndComplete, usage: usage(4, 0),
		},
		{
			name:    "BR-15 error line mid-stream",
			writes:  []string{oll + `"message":{"content":"Hel"},"done":false}` + "\n", `{"error":"model runner stopped unexpectedly"}` + "\n"},
			content: "Hel", end: budget.EndError, usage: "null", kind: budget.KindServer,
		},
		{
			name:    "BR-17 control C: done false then EOF",
			writes:  []string{oll + `"message":{"content":"x"},"done":false}` + "\n"},
			content: "x", end: budget.EndTruncated, usage: "null", kind: budget.KindTruncated,
		},
		{
			name:    "an incomplete final fragment is truncated",
			writes:  []string{oll + `"message":{"content":"x"},"done":false}` + "\n" + `{"model":"m","mess`},
			content: "x", end: budget.EndTruncated, usage: "null", kind: budget.KindTruncated,
		},
		{
			name:   "a complete line that is not JSON is a protocol error",
			writes: []string{"hello\n"},
			end:    budget.EndError, usage: "null", kind: budget.KindProtocol,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := serve(t, script{status: 200, contentType: "application/x-ndjson", writes: tt.writes})

			res, _ := stream(t, ollama(srv.URL), 1000)
			if res.Content != tt.content || res.End != tt.end || usageOf(res) != tt.usage {
				t.Fatalf("got content %q end %s usage %s (err %v)", res.Content, res.End, usageOf(res), res.Err)
			}
			if tt.kind != "" && (res.Err == nil || res.Err.Kind != tt.kind) {
				t.Fatalf("error %v, want kind %s", res.Err, tt.kind)
			}
			opts, _ := rec.body["options"].(map[string]any)
			if rec.path != "/api/chat" || opts["num_predict"] != 1000.0 {
				t.Fatalf("request %s %v", rec.path, rec.body)
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		status      int
		contentType string
		body        string
		retryAfter  string
		kind        budget.Kind
		message     string
		retry       float64
	}{
		{429, "application/json", `{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}`, "2", budget.KindRateLimit, "Rate limit reached", 2},
		{401, "application/json", `{"type":"error","error":{"type":"authentication_error","message":"bad key"}}`, "", budget.KindAuth, "bad key", -1},
		{403, "application/json", `{"error":"forbidden"}`, "", budget.KindAuth, "forbidden", -1},
		{404, "application/json", `{"error":"model not found"}`, "Wed, 21 Oct 2015 07:28:00 GMT", budget.KindBadRequest, "model not found", -1},
		{500, "text/plain", "\ninternal failure\nsecond line\n", "", budget.KindServer, "internal failure", -1},
		{503, "text/plain", "", "10", budget.KindOverloaded, "HTTP 503 Service Unavailable from", 10},
		{529, "application/json", `{"error":{"type":"overloaded_error","message":"Overloaded"}}`, "-1", budget.KindOverloaded, "Overloaded", -1},
		{302, "text/plain", "moved", "", budget.KindServer, "moved", -1},
	}

	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			header := map[string]string{"Location": "/elsewhere"}
			if tt.retryAfter != "" {
				header["Retry-After"] = tt.retryAfter
			}
			srv, _ := serve(t, script{status: tt.status, contentType: tt.contentType, header: header, writes: []string{tt.body}})

			res, err := stream(t, openai(srv.URL), 10)
			var e *budget.Error
			if !errors.As(err, &e) {
				t.Fatalf("want *budget.Error, got %v", err)
			}
			if e.Kind != tt.kind || e.Status != tt.status || e.RetryAfter != tt.retry || !strings.HasPrefix(e.Message, tt.message) {
				t.Fatalf("got %+v", e)
			}
			if res.Cost.Basis != budget.BasisNone || res.Cost.PromptTokens != 0 {
				t.Fatalf("cost %+v", res.Cost)
			}
		})
	}
}

func TestWrongContentTypeIsProtocol(t *testing.T) {
	srv, _ := serve(t, script{status: 200, contentType: "application/json", writes: sse("[DONE]")})

	_, err := stream(t, anthropic(srv.URL), 10)
	var e *budget.Error
	if !errors.As(err, &e) || e.Kind != budget.KindProtocol {
		t.Fatalf("got %v", err)
	}
}

func TestResetMidStreamIsConnection(t *testing.T) {
	srv, _ := serve(t, script{reset: true, contentType: "text/event-stream",
		writes: sse(oai+`"choices":[{"index":0,"delta":{"content":"Half"}}]}`, oai+`"choices":[{"index":0,"delta":{"content":" an ans"}}]}`)})

	res, err := stream(t, openai(srv.URL), 1000)
	var e *budget.Error
	if !errors.As(err, &e) || e.Kind != budget.KindConnection || res.Content != "Half an ans" {
		t.Fatalf("got %v, content %q", err, res.Content)
	}
}

func TestSilenceIsTimeout(t *testing.T) {
	srv, _ := serve(t, script{status: 200, contentType: "text/event-stream", hold: true,
		writes: sse(oai + `"choices":[{"index":0,"delta":{"content":"Hi"}}]}`)})
	p := openai(srv.URL)
	p.Timeout = 200 * time.Millisecond

	res, err := stream(t, p, 1000)
	var e *budget.Error
	if !errors.As(err, &e) || e.Kind != budget.KindTimeout || res.Content != "Hi" {
		t.Fatalf("got %v, content %q", err, res.Content)
	}
}

func TestUnreachableIsConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()

	res, err := stream(t, ollama(url), 10)
	var e *budget.Error
	if !errors.As(err, &e) || e.Kind != budget.KindConnection || !strings.Contains(e.Message, url) {
		t.Fatalf("got %v", err)
	}
	if res.Cost.Basis != budget.BasisNone {
		t.Fatalf("cost %+v", res.Cost)
	}
}

// TestBudgetStopClosesConnectionAndLeaksNothing is the heart of the example:
// a slow endless stream, a budget of 3 tokens, and afterwards the server
// must have seen the disconnect and no goroutine may be left running.
func TestBudgetStopClosesConnectionAndLeaksNothing(t *testing.T) {
	gone := make(chan time.Time, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			chunk := "data: " + oai + `"choices":[{"index":0,"delta":{"content":"word"}}]}` + "\n\n"
			if _, err := io.WriteString(w, chunk); err != nil {
				break
			}
			w.(http.Flusher).Flush()

			select {
			case <-r.Context().Done():
				gone <- time.Now()
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		gone <- time.Now()
	}))
	defer srv.Close()

	before := runtime.NumGoroutine()
	res, err := stream(t, openai(srv.URL), 3)
	returned := time.Now()
	if err != nil || res.End != budget.EndBudget || res.Content != "wordwordword" || res.Chunks != 3 {
		t.Fatalf("got %+v, %v", res, err)
	}

	select {
	case at := <-gone:
		if at.Sub(returned) > time.Second {
			t.Fatalf("the server saw the disconnect %v after the return", at.Sub(returned))
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the server never saw the client leave")
	}

	waitForGoroutines(t, before)
}

// waitForGoroutines polls until the count is back to the baseline; the
// transport's own goroutines exit shortly after their connection closes.
func waitForGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines left, baseline %d:\n%s", runtime.NumGoroutine(), baseline, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCallerCancelStopsTheStream(t *testing.T) {
	srv, rec := serve(t, script{status: 200, contentType: "application/x-ndjson", hold: true,
		writes: []string{oll + `"message":{"content":"x"},"done":false}` + "\n"}})

	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := budget.StreamWithBudget(ctx, ollama(srv.URL), budget.Request{Prompt: "p"}, 100)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || res.Content != "x" {
		t.Fatalf("got %v, content %q", err, res.Content)
	}

	select {
	case <-rec.gone:
	case <-time.After(3 * time.Second):
		t.Fatal("the server never saw the client leave")
	}
	waitForGoroutines(t, before)
}

func TestVerboseTracerRedactsCredentials(t *testing.T) {
	srv, _ := serve(t, script{status: 200, contentType: "text/event-stream", writes: named("message_stop", `{"type":"message_stop"}`)})
	tr := &recordingTracer{}
	p := &Anthropic{HTTPConfig{BaseURL: srv.URL, APIKey: "sk-ant-secret", Tracer: tr}}

	if _, err := stream(t, p, 5); err != nil {
		t.Fatal(err)
	}
	if got := tr.header.Get("X-Api-Key"); got != "[REDACTED]" {
		t.Fatalf("x-api-key traced as %q", got)
	}
	if strings.Contains(tr.all.String(), "sk-ant-secret") || !strings.Contains(tr.all.String(), "event: message_stop") {
		t.Fatalf("trace: %s", tr.all.String())
	}
}

type recordingTracer struct {
	header http.Header
	all    strings.Builder
}

func (r *recordingTracer) Request(method, url string, header http.Header, body []byte) {
	r.header = header
	fmt.Fprintf(&r.all, "%s %s %v %s\n", method, url, header, body)
}

func (r *recordingTracer) Response(status string, header http.Header) {
	fmt.Fprintf(&r.all, "%s %v\n", status, header)
}

func (r *recordingTracer) BodyLine(line []byte) {
	fmt.Fprintf(&r.all, "%s\n", line)
}

func TestNormalizeBaseURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:11434", "http://127.0.0.1:11434"},
		{"localhost:11434/", "http://localhost:11434"},
		{"https://api.openai.com/v1/", "https://api.openai.com/v1"},
		{"http://h/v1", "http://h/v1"},
	}
	for _, tt := range tests {
		if got, err := NormalizeBaseURL(tt.in); err != nil || got != tt.want {
			t.Errorf("NormalizeBaseURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}

	for _, bad := range []string{"", "ftp://x", "http://"} {
		if _, err := NormalizeBaseURL(bad); err == nil {
			t.Errorf("NormalizeBaseURL(%q) should fail", bad)
		}
	}
}

func TestLoopbackIsDeterministic(t *testing.T) {
	a, _ := stream(t, &Loopback{}, 10_000)
	b, _ := stream(t, &Loopback{}, 10_000)
	if a.Content == "" || a.Content != b.Content || a.End != budget.EndComplete || a.FinishReason != "stop" || a.Usage == nil {
		t.Fatalf("got %+v", a)
	}

	short, _ := budget.StreamWithBudget(context.Background(), &Loopback{}, budget.Request{Prompt: "p", MaxTokens: 5}, 10_000)
	if short.FinishReason != "length" || short.End != budget.EndComplete || *short.Usage.CompletionTokens < 5 {
		t.Fatalf("max tokens: %+v", short)
	}
}
