#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031,SC2154
# (bats idioms: literal `$` in single-quoted scripts, per-test subshell exports,
# `output`/`stderr` set by `run`.)
#
# scripts/setup-sdk.sh on a private copy of the Python sources, so that a test can edit
# them and watch the tree rebuild without touching the checkout.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    export SRC="$BATS_FILE_TMPDIR/python"
    export SDK="$BATS_FILE_TMPDIR/sdk"

    mkdir -p "$SRC"
    cp -r "$REPO_ROOT/python/pyproject.toml" "$REPO_ROOT/python/src" "$SRC/"
    cp "$REPO_ROOT/python/README.md" "$SRC/" 2>/dev/null || true
    find "$SRC" -name __pycache__ -prune -exec rm -rf {} +

    "$SETUP_SDK" --sdk-dir "$SDK" --source "$SRC"
}

setup() {
    load helpers
}

@test "the tree has the documented layout and its launcher runs the installed CLI" {
    [ -x "$SDK/python/bin/python" ]
    [ -x "$SDK/bin/token-budget" ]
    [ -f "$SDK/env.sh" ]
    [ -s "$SDK/.source-hash" ]
    [ "$(json_at "$(cat "$SDK/sdk.json")" package)" = token-budget ]

    run --separate-stderr "$SDK/bin/token-budget" --describe
    [ "$status" -eq 0 ]
    [ "$(json_at "$output" name)" = python ]

    # The package is the tree's own copy, not the sources it was built from.
    run "$SDK/python/bin/python" -c 'import token_budget; print(token_budget.__file__)'
    [[ "$output" == "$SDK/python/"* ]]
}

@test "the exact extra is installed or the tree says it is not" {
    local exact
    exact="$(json_at "$(cat "$SDK/sdk.json")" exact_extra)"

    if [ "$exact" = True ]; then
        "$SDK/python/bin/python" -c 'import tiktoken'
    else
        # Then the setup log must explain why (pip's output of the failed attempt).
        grep -q 'exact' "$SDK/setup.log"
    fi
}

@test "sourcing env.sh exports NXUSKIT_SDK_DIR and puts bin/ on PATH once" {
    run env -i HOME="$HOME" PATH=/usr/bin:/bin bash -c '
        . "$1/env.sh"; . "$1/env.sh"
        printf "%s\n" "$NXUSKIT_SDK_DIR" "$(command -v token-budget)" "$PATH"' _ "$SDK"

    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$SDK" ]
    [ "${lines[1]}" = "$SDK/bin/token-budget" ]
    [ "${lines[2]}" = "$SDK/bin:/usr/bin:/bin" ]
}

@test "a second run with unchanged sources rebuilds nothing" {
    local before
    before="$(stat -c %Y.%i "$SDK/python/pyvenv.cfg")"

    run --separate-stderr "$SETUP_SDK" --sdk-dir "$SDK" --source "$SRC"

    [ "$status" -eq 0 ]
    [[ "$stderr" == *"is up to date"* ]]
    [ "$(stat -c %Y.%i "$SDK/python/pyvenv.cfg")" = "$before" ]
}

@test "an edited source file rebuilds the tree; the old virtualenv survives for its users" {
    local old_hash old_venv
    old_hash="$(cat "$SDK/.source-hash")"
    old_venv="$(readlink -f "$SDK/python")"
    printf '\nSETUP_SDK_TEST_MARKER = "%s"\n' "$BATS_TEST_NUMBER" >>"$SRC/src/token_budget/__init__.py"

    run --separate-stderr "$SETUP_SDK" --sdk-dir "$SDK" --source "$SRC"

    [ "$status" -eq 0 ]
    [[ "$stderr" == *"building the Python SDK"* ]]
    [ "$(cat "$SDK/.source-hash")" != "$old_hash" ]
    run "$SDK/python/bin/python" -c 'import token_budget; print(token_budget.SETUP_SDK_TEST_MARKER)'
    [ "$output" = "$BATS_TEST_NUMBER" ]

    # A process started from the previous build (a running test suite) keeps working.
    [ "$(readlink -f "$SDK/python")" != "$old_venv" ]
    "$old_venv/bin/python" -c 'import token_budget'
}

@test "an unfinished tree (no .source-hash) is rebuilt, not trusted" {
    rm "$SDK/.source-hash"

    run --separate-stderr "$SETUP_SDK" --sdk-dir "$SDK" --source "$SRC"

    [ "$status" -eq 0 ]
    [[ "$stderr" == *"building the Python SDK"* ]]
    [ -s "$SDK/.source-hash" ]
}

@test "usage errors exit 2 with one line" {
    run --separate-stderr "$SETUP_SDK" --bogus
    [ "$status" -eq 2 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "setup-sdk: unknown argument '--bogus'"* ]]

    run --separate-stderr "$SETUP_SDK" --sdk-dir "$BATS_TEST_TMPDIR/x" --source "$BATS_TEST_TMPDIR"
    [ "$status" -eq 2 ]
    [[ "$stderr" == "setup-sdk: no pyproject.toml in $BATS_TEST_TMPDIR"* ]]
}

@test "a failing build exits 1, names the log and leaves no .source-hash" {
    local broken="$BATS_TEST_TMPDIR/broken"
    cp -r "$SRC" "$broken"
    printf '[project\nname = \n' >"$broken/pyproject.toml"

    run --separate-stderr "$SETUP_SDK" --sdk-dir "$BATS_TEST_TMPDIR/sdk" --source "$broken"

    [ "$status" -eq 1 ]
    [[ "$stderr" == *"failed; the output is in $BATS_TEST_TMPDIR/sdk/setup.log"* ]]
    [ ! -e "$BATS_TEST_TMPDIR/sdk/.source-hash" ]
}
