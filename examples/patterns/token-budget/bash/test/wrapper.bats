#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031,SC2034,SC2154
# (bats idioms: literal `$` in single-quoted test data, per-test subshell exports,
# arrays read by helpers through namerefs, and `stderr`/`stderr_lines` set by `run`.)
#
# The wrapper against a fake Python CLI: arguments, stdin, exit codes and the process
# itself must pass through untouched; --json / --describe output is relabelled "bash";
# the SDK is found in the documented order and a missing one is one clear error.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    use_fake_sdk
}

@test "awkward prompts and options reach the Python CLI byte for byte" {
    local -a sent=(
        --budget 7 --model 'm o"d$el' --
        $'-starts with a dash, has "quotes", \'single\', $HOME, `tick`, \\back\\slash\n'$'and a newline, tab\t, 日本語 and emoji 🙂 '
    )

    run --separate-stderr "$WRAPPER" "${sent[@]}"

    [ "$status" -eq 0 ]
    read_received_argv
    assert_same_words sent RECEIVED
}

@test "empty and whitespace-only arguments are kept, not dropped" {
    local -a sent=(--case-id "" -- "   ")

    run "$WRAPPER" "${sent[@]}"

    [ "$status" -eq 0 ]
    read_received_argv
    assert_same_words sent RECEIVED
}

@test "stdin passes through unchanged" {
    printf 'line one\n  $x "y" \\z\nünï\n' >"$BATS_TEST_TMPDIR/prompt"

    run "$WRAPPER" --budget 5 <"$BATS_TEST_TMPDIR/prompt"

    [ "$status" -eq 0 ]
    cmp "$BATS_TEST_TMPDIR/prompt" "$FAKE_LOG/stdin"
}

@test "the wrapper execs the CLI: same process, stdout untouched without --json" {
    printf 'streamed "implementation": "python" text' >"$BATS_TEST_TMPDIR/out"
    export FAKE_STDOUT="$BATS_TEST_TMPDIR/out"

    "$WRAPPER" hello >"$BATS_TEST_TMPDIR/got" &
    local pid=$!
    wait "$pid"

    [ "$(cat "$FAKE_LOG/pid")" = "$pid" ]
    cmp "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/got"
}

@test "exit codes pass through, with and without --json" {
    local code

    for code in 0 1 2 3 130; do
        FAKE_EXIT=$code run "$WRAPPER" hello
        [ "$status" -eq "$code" ]
        FAKE_EXIT=$code run "$WRAPPER" --json hello
        [ "$status" -eq "$code" ]
    done
}

@test "--json: the result names the bash implementation and keeps everything else" {
    cat >"$BATS_TEST_TMPDIR/out" <<'JSON'
{"contract_version": 1, "implementation": "python", "content": "x \"implementation\": \"python\" \u00e9\n", "usd": 0.000123, "error": null}
JSON
    export FAKE_STDOUT="$BATS_TEST_TMPDIR/out" FAKE_EXIT=1

    run --separate-stderr "$WRAPPER" --json -- hi

    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    python3 - "$output" "$BATS_TEST_TMPDIR/out" <<'PY'
import json, sys
got = json.loads(sys.argv[1])
want = json.load(open(sys.argv[2]))
assert got["implementation"] == "bash", got
want["implementation"] = "bash"
assert got == want, (got, want)
PY
}

@test "--json: only the top-level member is renamed, never text inside strings" {
    cat >"$BATS_TEST_TMPDIR/out" <<'JSON'
{"contract_version": 1, "case_id": "x, \"implementation\": \"python\"", "implementation": "python", "content": "{\"implementation\": \"python\"}"}
{"a":1,"implementation":"python","content":",\"implementation\":\"python\""}
  "implementation": "python",
not json "implementation": "python"
JSON
    export FAKE_STDOUT="$BATS_TEST_TMPDIR/out"

    run --separate-stderr "$WRAPPER" --json hi

    [ "$status" -eq 0 ]
    [ "${lines[0]}" = '{"contract_version": 1, "case_id": "x, \"implementation\": \"python\"", "implementation": "bash", "content": "{\"implementation\": \"python\"}"}' ]
    [ "${lines[1]}" = '{"a":1,"implementation":"bash","content":",\"implementation\":\"python\""}' ]
    [ "${lines[2]}" = '  "implementation": "bash",' ]
    [ "${lines[3]}" = 'not json "implementation": "python"' ]
}

@test "--json written to a file is complete when the wrapper exits" {
    # A long result keeps the filter busy after the CLI has exited, so a wrapper that
    # did not wait for its filter would leave a short file behind.
    python3 -c 'import json; print(json.dumps({"implementation": "python", "content": "x" * 300000}))' \
        >"$BATS_TEST_TMPDIR/out"
    export FAKE_STDOUT="$BATS_TEST_TMPDIR/out"

    "$WRAPPER" --json hi >"$BATS_TEST_TMPDIR/got"

    sed 's/"implementation": "python"/"implementation": "bash"/' "$BATS_TEST_TMPDIR/out" >"$BATS_TEST_TMPDIR/want"
    cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "--json: a lingering CLI's result is readable before the process exits" {
    printf '{"implementation": "python", "end": "budget"}\n' >"$BATS_TEST_TMPDIR/out"
    export FAKE_STDOUT="$BATS_TEST_TMPDIR/out" FAKE_WAIT_FOR="$BATS_TEST_TMPDIR/release"
    mkfifo "$BATS_TEST_TMPDIR/pipe"

    "$WRAPPER" --json --linger-ms 5000 hi >"$BATS_TEST_TMPDIR/pipe" &
    local pid=$! line=""
    # The fake CLI does not exit until we create the release file, so reading the line
    # here proves the filter forwards the object while the CLI is still alive.
    exec {fd}<"$BATS_TEST_TMPDIR/pipe"
    read -r -t 20 -u "$fd" line || true
    touch "$BATS_TEST_TMPDIR/release"
    exec {fd}<&-
    wait "$pid"

    [ "$line" = '{"implementation": "bash", "end": "budget"}' ]
}

@test "--describe reports name and language bash and keeps providers and capabilities" {
    cat >"$BATS_TEST_TMPDIR/out" <<'JSON'
{
  "contract_version": 1,
  "name": "python",
  "language": "python",
  "version": "0.1.0",
  "providers": ["loopback", "ollama"],
  "capabilities": ["linger", "verbose"]
}
JSON
    export FAKE_STDOUT="$BATS_TEST_TMPDIR/out"

    run --separate-stderr "$WRAPPER" --describe

    [ "$status" -eq 0 ]
    python3 - "$output" <<'PY'
import json, sys
got = json.loads(sys.argv[1])
assert got == {"contract_version": 1, "name": "bash", "language": "bash", "version": "0.1.0",
               "providers": ["loopback", "ollama"], "capabilities": ["linger", "verbose"]}, got
PY
}

@test "--json after -- is part of the prompt and does not switch on relabelling" {
    printf '{"implementation": "python"}\n' >"$BATS_TEST_TMPDIR/out"
    export FAKE_STDOUT="$BATS_TEST_TMPDIR/out"

    run "$WRAPPER" --model --json -- --json

    [ "$output" = '{"implementation": "python"}' ]
}

@test "NXUSKIT_SDK_DIR set to an empty tree: exit 2, one line naming setup-sdk.sh" {
    mkdir -p "$BATS_TEST_TMPDIR/empty"
    make_fake_cli "$BATS_TEST_TMPDIR/onpath"

    PATH="$BATS_TEST_TMPDIR/onpath:$PATH" NXUSKIT_SDK_DIR="$BATS_TEST_TMPDIR/empty" \
        run --separate-stderr "$WRAPPER" hello

    [ "$status" -eq 2 ]
    [ -z "$output" ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "token-budget: "*"setup-sdk.sh"* ]]
    # It must not have fallen back to the copy on PATH.
    [ ! -e "$FAKE_LOG/argv" ]
}

@test "without NXUSKIT_SDK_DIR the checkout's .sdk tree comes before PATH" {
    local root="$BATS_TEST_TMPDIR/checkout"
    make_fake_checkout "$root"
    make_fake_cli "$root/.sdk/bin" checkout-sdk
    make_fake_cli "$BATS_TEST_TMPDIR/onpath" on-path
    unset NXUSKIT_SDK_DIR

    PATH="$BATS_TEST_TMPDIR/onpath:$PATH" run "$root/examples/patterns/token-budget/bash/token-budget" hi

    [ "$status" -eq 0 ]
    [ "$(cat "$FAKE_LOG/who")" = checkout-sdk ]
}

@test "without NXUSKIT_SDK_DIR or a .sdk tree, token-budget on PATH is used" {
    local root="$BATS_TEST_TMPDIR/checkout"
    make_fake_checkout "$root"
    make_fake_cli "$BATS_TEST_TMPDIR/onpath" on-path
    unset NXUSKIT_SDK_DIR

    PATH="$BATS_TEST_TMPDIR/onpath:$PATH" run "$root/examples/patterns/token-budget/bash/token-budget" hi

    [ "$status" -eq 0 ]
    [ "$(cat "$FAKE_LOG/who")" = on-path ]
}

@test "the wrapper never finds itself on PATH: no SDK anywhere is a clear exit 2" {
    local root="$BATS_TEST_TMPDIR/checkout"
    make_fake_checkout "$root"
    unset NXUSKIT_SDK_DIR

    PATH="$root/examples/patterns/token-budget/bash:/usr/bin:/bin" \
        run --separate-stderr token-budget hi

    [ "$status" -eq 2 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "token-budget: the Python SDK (token-budget) is not installed: install it with scripts/setup-sdk.sh"* ]]
}

@test "environment variables reach the CLI and LANG is left alone" {
    TOKEN_BUDGET_MAX=40 NXUSKIT_VERBOSE=1 LANG=C.UTF-8 run --separate-stderr "$WRAPPER" hi

    [ "$status" -eq 0 ]
    grep -qx 'TOKEN_BUDGET_MAX=40' "$FAKE_LOG/env"
    grep -qx 'NXUSKIT_VERBOSE=1' "$FAKE_LOG/env"
    grep -qx 'LANG=C.UTF-8' "$FAKE_LOG/env"
    # Verbose mode also says which CLI the wrapper picked.
    [[ "$stderr" == *"running the Python CLI $NXUSKIT_SDK_DIR/bin/token-budget"* ]]
}
