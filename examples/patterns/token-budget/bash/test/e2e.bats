#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031,SC2034,SC2154
# (bats idioms: literal `$` in single-quoted test data, per-test subshell exports,
# arrays read by helpers through namerefs, and `stderr`/`stderr_lines` set by `run`.)
#
# The bash implementation end to end, with the real Python CLI of an installed SDK tree
# ($NXUSKIT_SDK_DIR, else the checkout's .sdk/ made by scripts/setup-sdk.sh). Results
# are compared with the Python CLI run directly: the wrapper must change nothing but the
# implementation's name.

bats_require_minimum_version 1.5.0

setup_file() {
    local sdk="${NXUSKIT_SDK_DIR:-$(cd "$BATS_TEST_DIRNAME/../../../../.." && pwd -P)/.sdk}"

    if [[ ! -x "$sdk/bin/token-budget" ]]; then
        echo "no SDK tree at $sdk: run scripts/setup-sdk.sh (or set NXUSKIT_SDK_DIR)" >&2
        return 1
    fi
    export NXUSKIT_SDK_DIR="$sdk"
    export PYTHON_CLI="$sdk/bin/token-budget"
}

setup() {
    load helpers
    # Same scrubbed environment as the conformance suite: no keys, no defaults.
    unset OPENAI_API_KEY ANTHROPIC_API_KEY OLLAMA_API_KEY OPENAI_BASE_URL \
        ANTHROPIC_BASE_URL OLLAMA_HOST TOKEN_BUDGET_MAX NXUSKIT_VERBOSE NXUSKIT_STEP
    MOCK_PID=""
}

teardown() {
    if [[ -n "$MOCK_PID" ]]; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
    fi
}

start_mock_ollama() {
    mkdir -p "$BATS_TEST_TMPDIR/requests"
    python3 "$BATS_TEST_DIRNAME/mock_ollama.py" "$BATS_TEST_TMPDIR/port" \
        "$BATS_TEST_TMPDIR/requests" 3>&- &
    MOCK_PID=$!
    for _ in $(seq 1 100); do
        [[ -s "$BATS_TEST_TMPDIR/port" ]] && break
        sleep 0.05
    done
    MOCK_URL="http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/port")"
}

# Asserts that two JSON results are equal except for the implementation field, which
# must be "bash" in the first and "python" in the second.
assert_same_result() {
    python3 - "$1" "$2" <<'PY'
import json, sys
bash, python = (json.loads(text) for text in sys.argv[1:3])
assert bash.pop("implementation") == "bash", bash
assert python.pop("implementation") == "python", python
assert bash == python, (bash, python)
PY
}

@test "--describe equals the Python CLI's except name and language" {
    run --separate-stderr "$WRAPPER" --describe
    [ "$status" -eq 0 ]
    local bash_out="$output"
    run --separate-stderr "$PYTHON_CLI" --describe
    [ "$status" -eq 0 ]

    python3 - "$bash_out" "$output" <<'PY'
import json, sys
bash, python = (json.loads(text) for text in sys.argv[1:3])
assert (bash.pop("name"), bash.pop("language")) == ("bash", "bash"), bash
python.pop("name"), python.pop("language")
assert bash == python, (bash, python)
PY
}

@test "loopback --json results equal the Python CLI's for the same arguments" {
    # One case per line: the words are split on spaces, so prompts are single words.
    local -a cases=(
        "--budget 5 -- short-prompt"
        "--budget 100000 --case-id c-1 -- completes"
        "--budget 3 --chars-per-token 2.5 -- ratio"
        "--budget 1 -- x"
    )
    local words

    for words in "${cases[@]}"; do
        read -r -a nx_args <<<"$words"

        run --separate-stderr "$WRAPPER" --json "${nx_args[@]}"
        local bash_status=$status bash_out="$output"
        run --separate-stderr "$PYTHON_CLI" --json "${nx_args[@]}"

        [ "$bash_status" -eq "$status" ]
        [ -n "$bash_out" ]
        assert_same_result "$bash_out" "$output"
    done
}

@test "human mode stdout is exactly the content of the --json result" {
    run --separate-stderr "$WRAPPER" --json --budget 8 -- "tell me"
    local content
    content="$(json_get "$output" content)"

    run --separate-stderr "$WRAPPER" --budget 8 -- "tell me"

    [ "$status" -eq 0 ]
    [ "$output" = "$content" ]
}

@test "awkward prompts reach the provider byte for byte (mock Ollama on 127.0.0.1)" {
    start_mock_ollama
    local -a prompts=(
        "two  spaces and 'single' \"double\" quotes"
        $'line one\nline two\r\nthree'
        '$HOME $(date) `date` \n \\ backslashes'
        '--looks-like-an-option'
        '日本語のテキスト, émoji 🙂, combining é'
    )
    # Not `i`: bats' own `run` assigns a global i.
    local sent=0 prompt

    for prompt in "${prompts[@]}"; do
        sent=$((sent + 1))
        run --separate-stderr "$WRAPPER" --json --provider ollama --base-url "$MOCK_URL" -- "$prompt"

        [ "$status" -eq 0 ]
        [ "$(json_get "$output" end)" = complete ]
        python3 - "$BATS_TEST_TMPDIR/requests/request-$sent.json" "$prompt" <<'PY'
import json, sys
body = json.load(open(sys.argv[1], encoding="utf-8"))
assert body["messages"] == [{"role": "user", "content": sys.argv[2]}], body["messages"]
PY
    done
}

@test "a prompt on stdin reaches the provider without its one trailing newline" {
    start_mock_ollama

    run --separate-stderr "$WRAPPER" --json --provider ollama --base-url "$MOCK_URL" \
        < <(printf 'from stdin: $x "q"\n\n')

    [ "$status" -eq 0 ]
    python3 - "$BATS_TEST_TMPDIR/requests/request-1.json" <<'PY'
import json, sys
body = json.load(open(sys.argv[1], encoding="utf-8"))
assert body["messages"][0]["content"] == 'from stdin: $x "q"\n', body["messages"]
PY
}

@test "usage errors: exit 2, nothing on stdout, one stderr line, like the Python CLI" {
    local -a bad=("--budget 0" "--chars-per-token nan" "--provider nope" "--provider openai")
    local words

    for words in "${bad[@]}"; do
        read -r -a nx_args <<<"$words"

        run --separate-stderr "$WRAPPER" --json "${nx_args[@]}" -- hi

        [ "$status" -eq 2 ]
        [ -z "$output" ]
        [ "${#stderr_lines[@]}" -eq 1 ]
        [[ "$stderr" == "token-budget: "* ]]
    done
    # The missing key is named.
    [[ "$stderr" == *OPENAI_API_KEY* ]]
}

@test "an unreachable provider is exit 1 with a typed connection error naming the URL" {
    # A port nobody listens on: bind one, note it, release it.
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

    run --separate-stderr "$WRAPPER" --json --provider ollama --base-url "127.0.0.1:$port" -- hi

    [ "$status" -eq 1 ]
    [ "$(json_get "$output" end)" = error ]
    python3 - "$output" "$port" <<'PY'
import json, sys
result = json.loads(sys.argv[1])
assert result["implementation"] == "bash"
assert result["error"]["kind"] == "connection", result["error"]
assert sys.argv[2] in result["error"]["message"], result["error"]
PY
}
