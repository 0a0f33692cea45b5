package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// binary is the command built once for the subprocess tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "token-budget-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "token-budget")

	build := exec.Command(goTool(), "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("cannot build the command: " + err.Error())
	}

	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool finds the go command even when it is not on PATH.
func goTool() string {
	if path, err := exec.LookPath("go"); err == nil {
		return path
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// runBinary runs the real process with a clean environment.
func runBinary(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run: %v", err)
	}
	return code, stdout.String(), stderr.String()
}

func TestProcessExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout bool
	}{
		{"describe", []string{"--describe"}, 0, true},
		{"loopback json", []string{"--json", "--budget", "3", "hi"}, 0, true},
		{"usage error", []string{"--budget", "0", "--json"}, 2, false},
		{"unreachable server", []string{"--provider", "ollama", "--base-url", "127.0.0.1:1", "--json", "--timeout", "2", "hi"}, 1, true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runBinary(t, "", tt.args...)
			if code != tt.code || (stdout != "") != tt.stdout {
				t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Fatalf("stack trace on stderr: %s", stderr)
			}
			if tt.code != 0 && (!strings.HasPrefix(stderr, "token-budget: ") || strings.Count(stderr, "\n") != 1) {
				t.Fatalf("a failure writes one token-budget: line, got %q", stderr)
			}
			if tt.stdout && !json.Valid([]byte(stdout)) {
				t.Fatalf("stdout is not JSON: %q", stdout)
			}
		})
	}
}

func TestProcessReadsThePromptFromStdin(t *testing.T) {
	_, stdout, _ := runBinary(t, "abcdefgh\n", "--json", "--budget", "1000")
	var res struct {
		Cost struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"cost"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}

	// Loopback reports ceil(8 / 4) prompt tokens for "abcdefgh".
	if res.Usage.PromptTokens != 2 {
		t.Fatalf("prompt tokens %d, want 2 (prompt read from stdin without its newline)", res.Usage.PromptTokens)
	}
}
