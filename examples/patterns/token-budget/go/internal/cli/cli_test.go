package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type outcome struct {
	code   int
	stdout string
	stderr string
}

// invoke runs the command in-process with the given environment and stdin.
func invoke(t *testing.T, vars map[string]string, stdin string, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := env{
		getenv: func(name string) string { return vars[name] },
		stdin:  strings.NewReader(stdin),
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := run(ctx, args, e, Stdio{Stdin: e.stdin, Stdout: &stdout, Stderr: &stderr})
	return outcome{code, stdout.String(), stderr.String()}
}

func decode(t *testing.T, stdout string) map[string]any {
	t.Helper()
	if !strings.HasSuffix(stdout, "}\n") || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("stdout must be one JSON object and a newline, got %q", stdout)
	}

	var obj map[string]any
	if err := json.Unmarshal([]byte(stdout), &obj); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	return obj
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"budget zero", nil, []string{"--budget", "0"}},
		{"budget signed", nil, []string{"--budget", "+5"}},
		{"budget negative", nil, []string{"--budget", "-1"}},
		{"budget too large", nil, []string{"--budget", "2147483648"}},
		{"budget underscore", nil, []string{"--budget=1_0"}},
		{"budget space", nil, []string{"--budget", " 4"}},
		{"max tokens zero", nil, []string{"--max-tokens", "0"}},
		{"ratio nan", nil, []string{"--chars-per-token", "nan"}},
		{"ratio inf", nil, []string{"--chars-per-token", "inf"}},
		{"ratio zero", nil, []string{"--chars-per-token", "0"}},
		{"ratio 0e5", nil, []string{"--chars-per-token", "0e5"}},
		{"ratio overflow", nil, []string{"--chars-per-token", "1e999"}},
		{"ratio underflow", nil, []string{"--chars-per-token", "1e-999"}},
		{"ratio hex", nil, []string{"--chars-per-token", "0x10"}},
		{"timeout negative", nil, []string{"--timeout", "-1"}},
		{"linger too long", nil, []string{"--linger-ms", "600001"}},
		{"unknown provider", nil, []string{"--provider", "bard"}},
		{"provider case", nil, []string{"--provider", "OpenAI"}},
		{"estimator exact unsupported", nil, []string{"--estimator", "exact"}},
		{"unknown option", nil, []string{"--frobnicate"}},
		{"missing value", nil, []string{"--budget"}},
		{"flag with value", nil, []string{"--json=yes"}},
		{"two prompts", nil, []string{"a", "b"}},
		{"two after --", nil, []string{"--", "a", "b"}},
		{"env budget bad", map[string]string{"TOKEN_BUDGET_MAX": "ten"}, nil},
		{"env verbose bad", map[string]string{"NXUSKIT_VERBOSE": "yes"}, nil},
		{"env step bad", map[string]string{"NXUSKIT_STEP": "2"}, nil},
		{"openai key missing", nil, []string{"--provider", "openai"}},
		{"anthropic key missing via alias", nil, []string{"--provider", "claude", "--base-url", "https://api.anthropic.com/"}},
		{"bad base url", nil, []string{"--provider", "ollama", "--base-url", "ftp://x"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := invoke(t, tt.vars, "", append(tt.args, "--json")...)
			if got.code != exitUsage || got.stdout != "" {
				t.Fatalf("exit %d stdout %q, want exit 2 and nothing", got.code, got.stdout)
			}
			if !strings.HasPrefix(got.stderr, "token-budget: ") || strings.Count(got.stderr, "\n") != 1 {
				t.Fatalf("stderr must be one token-budget: line, got %q", got.stderr)
			}
		})
	}
}

func TestMissingKeyNamesTheVariable(t *testing.T) {
	got := invoke(t, nil, "", "--provider", "openai")
	if !strings.Contains(got.stderr, "OPENAI_API_KEY") {
		t.Fatalf("stderr %q", got.stderr)
	}
}

func TestValidNumbersAndEnvironment(t *testing.T) {
	vars := map[string]string{"TOKEN_BUDGET_MAX": "7", "NXUSKIT_VERBOSE": "FALSE", "NXUSKIT_STEP": "0"}
	res := decode(t, invoke(t, vars, "", "--json", "--chars-per-token", "3.", "--timeout", ".5e1", "hi").stdout)
	if res["budget"] != 7.0 {
		t.Fatalf("TOKEN_BUDGET_MAX not used: %v", res["budget"])
	}

	// The option wins over the environment.
	res = decode(t, invoke(t, vars, "", "--budget", "9", "--json", "hi").stdout)
	if res["budget"] != 9.0 {
		t.Fatalf("--budget must win: %v", res["budget"])
	}

	// An empty variable counts as absent.
	res = decode(t, invoke(t, map[string]string{"TOKEN_BUDGET_MAX": ""}, "", "--json", "hi").stdout)
	if res["budget"] != 100.0 {
		t.Fatalf("default budget: %v", res["budget"])
	}
}

func TestPromptPlacement(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"prompt before options", "", []string{"hello", "--json", "--budget", "3"}, "hello"},
		{"prompt between options", "", []string{"--json", "hello", "--budget", "3"}, "hello"},
		{"dash prompt after --", "", []string{"--json", "--", "-x --budget 0"}, "-x --budget 0"},
		{"-- as a value is a value", "", []string{"--case-id", "--", "--json", "p"}, "p"},
		{"stdin with one newline removed", "from stdin\n\n", []string{"--json"}, "from stdin\n"},
		{"stdin CRLF removed", "from stdin\r\n", []string{"--json"}, "from stdin"},
		{"empty stdin gives the default", "\n", []string{"--json"}, defaultPrompt},
		{"single dash is a prompt", "", []string{"--json", "-"}, "-"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{getenv: func(string) string { return "" }, stdin: strings.NewReader(tt.stdin)}
			c, err := buildConfig(tt.args, e)
			if err != nil {
				t.Fatalf("unexpected usage error: %v", err)
			}
			if c.prompt != tt.want {
				t.Fatalf("prompt %q, want %q", c.prompt, tt.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	got := invoke(t, nil, "", "--describe")
	obj := decode(t, got.stdout)
	if got.code != 0 || obj["name"] != "go" || obj["contract_version"] != 1.0 {
		t.Fatalf("got %d %v", got.code, obj)
	}
}

var resultFields = []string{
	"contract_version", "case_id", "implementation", "provider", "model", "content",
	"counted_chars", "estimated_tokens", "estimator", "budget", "budget_reached",
	"finish_reason", "end", "usage", "chunks", "cost", "error",
}

func TestLoopbackJSONResult(t *testing.T) {
	got := invoke(t, nil, "", "--json", "--case-id", "c-1", "--budget", "5", "--", "hi")
	res := decode(t, got.stdout)
	if got.code != 0 || got.stderr != "" {
		t.Fatalf("exit %d stderr %q", got.code, got.stderr)
	}

	if len(res) != len(resultFields) {
		t.Fatalf("%d fields, want %d: %v", len(res), len(resultFields), res)
	}
	for _, f := range resultFields {
		if _, ok := res[f]; !ok {
			t.Fatalf("missing field %s", f)
		}
	}
	if res["case_id"] != "c-1" || res["end"] != "budget" || res["budget_reached"] != true || res["estimated_tokens"] != 5.0 {
		t.Fatalf("got %v", res)
	}
}

func TestHumanModeStdoutIsContent(t *testing.T) {
	structured := decode(t, invoke(t, nil, "", "--json", "--budget", "12", "p").stdout)
	human := invoke(t, nil, "", "--budget", "12", "p")

	if human.code != 0 || human.stdout != structured["content"] {
		t.Fatalf("stdout %q, content %q", human.stdout, structured["content"])
	}
	if strings.Contains(human.stderr, "token-budget: ") || !strings.Contains(human.stderr, "summary:") {
		t.Fatalf("stderr %q", human.stderr)
	}
}

func TestStepModeExplainsWithoutWaiting(t *testing.T) {
	got := invoke(t, map[string]string{"NXUSKIT_STEP": "true"}, "", "--json", "--budget", "2", "p")
	decode(t, got.stdout)
	for _, step := range []string{"build request", "send", "stream", "budget check", "stop", "result"} {
		if !strings.Contains(got.stderr, "step: "+step+":") {
			t.Fatalf("step %q missing from %q", step, got.stderr)
		}
	}
}

func TestKeyNeverPrinted(t *testing.T) {
	const key = "sk-test-SECRET-123456"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		// A server that echoes the key back in its message and body.
		io.WriteString(w, `{"error":{"message":"Incorrect API key provided: `+key+`","echo":`+string(body)+`}}`)
	}))
	defer srv.Close()

	vars := map[string]string{"OPENAI_API_KEY": key}
	for _, args := range [][]string{
		{"--provider", "openai", "--base-url", srv.URL, "--json", "--verbose", "p"},
		{"--provider", "openai", "--base-url", srv.URL, "--verbose", "p"},
	} {
		got := invoke(t, vars, "", args...)
		if got.code != exitFailure {
			t.Fatalf("exit %d", got.code)
		}
		if strings.Contains(got.stdout+got.stderr, key) {
			t.Fatalf("the key leaked:\n%s\n%s", got.stdout, got.stderr)
		}
		if !strings.Contains(got.stderr, "[REDACTED]") || !strings.Contains(got.stderr, "verbose: >") {
			t.Fatalf("verbose trace missing or unredacted: %s", got.stderr)
		}

		lines := 0
		for _, line := range strings.Split(got.stderr, "\n") {
			if strings.HasPrefix(line, "token-budget: ") {
				lines++
			}
		}
		if lines != 1 {
			t.Fatalf("%d failure lines, want 1:\n%s", lines, got.stderr)
		}
	}
}

func TestErrorResultAndExitCode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(429)
		io.WriteString(w, `{"error":"too many requests"}`)
	}))
	defer srv.Close()

	got := invoke(t, nil, "", "--provider", "ollama", "--base-url", strings.TrimPrefix(srv.URL, "http://")+"/", "--json", "p")
	res := decode(t, got.stdout)
	errObj, _ := res["error"].(map[string]any)
	if got.code != 1 || res["end"] != "error" || errObj["kind"] != "rate_limit" || errObj["retry_after"] != 2.0 || errObj["status"] != 429.0 {
		t.Fatalf("got %d %v", got.code, res)
	}
	cost, _ := res["cost"].(map[string]any)
	if cost["basis"] != "none" || cost["usd"] != nil || res["usage"] != nil {
		t.Fatalf("cost %v usage %v", cost, res["usage"])
	}
}

func TestStreamRedactionAcrossPieces(t *testing.T) {
	var out bytes.Buffer
	w := &streamWriter{w: &out, r: redactor{secrets: []string{"SECRET"}}}
	for _, piece := range []string{"a SE", "CR", "ET b SEC", "x"} {
		w.write(piece)
	}
	w.flush()

	if out.String() != "a [REDACTED] b SECx" {
		t.Fatalf("got %q", out.String())
	}
}

func TestLingerKeepsTheProcessAlive(t *testing.T) {
	start := time.Now()
	got := invoke(t, nil, "", "--json", "--linger-ms", "150", "p")
	if got.code != 0 || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("exit %d after %v", got.code, time.Since(start))
	}
}
