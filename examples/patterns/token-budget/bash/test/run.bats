#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031,SC2034,SC2154
# (bats idioms: literal `$` in single-quoted test data, per-test subshell exports,
# arrays read by helpers through namerefs, and `stderr`/`stderr_lines` set by `run`.)
#
# run.sh and the Makefile's `run` target: the provider shorthand and ARGS splitting.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    use_fake_sdk
}

@test "run.sh: a first bare provider name becomes --provider" {
    local provider

    for provider in loopback openai claude anthropic ollama; do
        run "$RUN_SH" "$provider" --budget 5

        [ "$status" -eq 0 ]
        read_received_argv
        local -a want=(--provider "$provider" --budget 5)
        assert_same_words want RECEIVED
    done
}

@test "run.sh: other first words, and provider names after --, stay the prompt" {
    run "$RUN_SH" --budget 5 -- ollama

    [ "$status" -eq 0 ]
    read_received_argv
    local -a want=(--budget 5 -- ollama)
    assert_same_words want RECEIVED

    run "$RUN_SH" "ollama is great"
    read_received_argv
    local -a want_prompt=("ollama is great")
    assert_same_words want_prompt RECEIVED
}

@test "make run: ARGS is split like a shell would, without expanding anything" {
    make -s -C "$EXAMPLE_DIR" run ARGS="ollama --budget 5 -- 'a b' \"c \\\"d\" \$HOME"

    read_received_argv
    local -a want=(--provider ollama --budget 5 -- 'a b' 'c "d' '$HOME')
    assert_same_words want RECEIVED
}

@test "make run with no ARGS runs the default provider with no arguments" {
    make -s -C "$EXAMPLE_DIR" run

    read_received_argv
    [ "${#RECEIVED[@]}" -eq 0 ]
}

@test "TOKEN_BUDGET_MAX=40 make run ARGS=ollama passes the budget through the environment" {
    TOKEN_BUDGET_MAX=40 make -s -C "$EXAMPLE_DIR" run ARGS="ollama"

    read_received_argv
    local -a want=(--provider ollama)
    assert_same_words want RECEIVED
    grep -qx 'TOKEN_BUDGET_MAX=40' "$FAKE_LOG/env"
}

@test "make run: unbalanced quotes in ARGS are a usage error, nothing runs" {
    run --separate-stderr make -s -C "$EXAMPLE_DIR" run ARGS="'unterminated"

    [ "$status" -ne 0 ]
    [[ "$stderr" == *"run.sh: cannot split ARGS="* ]]
    [ ! -e "$FAKE_LOG/argv" ]
}

@test "run.sh: a bad NXUSKIT_STEP value is a usage error (exit 2)" {
    NXUSKIT_STEP=maybe run --separate-stderr "$RUN_SH" hi

    [ "$status" -eq 2 ]
    [[ "$stderr" == "run.sh: NXUSKIT_STEP must be 1, true, 0 or false, not 'maybe'" ]]
}

@test "run.sh --step explains on stderr and does not wait without a terminal" {
    run --separate-stderr "$RUN_SH" --step hi </dev/null

    [ "$status" -eq 0 ]
    [[ "$stderr" == *"[step] run.sh hands the arguments to ./token-budget"* ]]
    read_received_argv
    local -a want=(--step hi)
    assert_same_words want RECEIVED
}
