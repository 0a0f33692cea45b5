#!/usr/bin/env bats
# shellcheck disable=SC2016,SC2030,SC2031,SC2154
# (bats idioms: literal `$` in single-quoted commands, per-test subshell exports,
# `output`/`stderr` set by `run`.)
#
# scripts/test-examples.sh: the SDK tree is the only source of the Python package, a
# missing toolchain is a skip with its reason, and the summary never claims success
# for a run where nothing passed.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    SDK="$(shared_sdk)" || return 1
    export SDK
}

setup() {
    load helpers
    unset NXUSKIT_SDK_DIR
    WORK="$BATS_TEST_TMPDIR/work"
    mkdir -p "$WORK/ex/bash" "$WORK/ex/go" "$WORK/ex/python"
}

# Writes a manifest with one example "ex" whose languages are given as JSON members,
# e.g. write_manifest '"bash": {...}'. Folders are absolute, under $WORK/ex.
write_manifest() {
    cat >"$WORK/manifest.json" <<JSON
{"manifest_version": "1.0.0", "examples": [{"id": "ex", "path": "$WORK/ex", "languages": {$1}}]}
JSON
}

lang_entry() {
    local name="$1" status="$2" build="$3" test="${4:-[\"true\"]}"
    printf '"%s": {"path": "%s", "status": "%s", "conformance_impl": "%s", "build": %s, "run": ["true"], "test": %s}' \
        "$name" "$name" "$status" "$name" "$build" "$test"
}

@test "no SDK tree given: exit 2 with one line saying how to get one" {
    run --separate-stderr "$TEST_EXAMPLES" --lang bash

    [ "$status" -eq 2 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "test-examples: no SDK tree: pass --sdk-dir DIR or set NXUSKIT_SDK_DIR"* ]]
}

@test "an empty SDK tree fails clearly, also in --json, and runs nothing" {
    mkdir -p "$BATS_TEST_TMPDIR/empty"

    run --separate-stderr "$TEST_EXAMPLES" --sdk-dir "$BATS_TEST_TMPDIR/empty" --lang python --json

    [ "$status" -eq 2 ]
    [[ "$stderr" == *"is not usable: it is incomplete"*"scripts/setup-sdk.sh --sdk-dir"* ]]
    [ "$(json_at "$output" status)" = failed ]
    [ "$(json_at "$output" ok)" = False ]
}

@test "a tree without its virtualenv fails clearly instead of using the checkout" {
    local broken="$BATS_TEST_TMPDIR/broken"
    mkdir -p "$broken"
    cp -r "$SDK/bin" "$SDK/.source-hash" "$broken/"

    run --separate-stderr "$TEST_EXAMPLES" --sdk-dir "$broken" --lang python

    [ "$status" -eq 2 ]
    [[ "$stderr" == *"is not usable: python/bin/python is missing"* ]]
}

@test "a tree whose Python imports token_budget from the checkout is rejected" {
    local sneaky="$BATS_TEST_TMPDIR/sneaky"
    mkdir -p "$sneaky/python/bin"
    cp -r "$SDK/bin" "$SDK/.source-hash" "$sneaky/"
    # An interpreter that quietly puts the checkout's sources first on sys.path.
    printf '#!/usr/bin/env bash\nPYTHONPATH=%q exec %q "$@"\n' \
        "$REPO_ROOT/python/src" "$SDK/python/bin/python" >"$sneaky/python/bin/python"
    chmod +x "$sneaky/python/bin/python"

    run --separate-stderr "$TEST_EXAMPLES" --sdk-dir "$sneaky" --lang python

    [ "$status" -eq 2 ]
    [[ "$stderr" == *"its token_budget comes from $REPO_ROOT/python/src/"*"outside the tree"* ]]
}

@test "python commands run with the SDK's interpreter and import the SDK's package" {
    write_manifest "$(lang_entry python in-progress \
        '["python3", "-c", "import sys, token_budget; open(\"where\", \"w\").write(sys.executable + \"\\n\" + token_budget.__file__)"]')"

    run --separate-stderr "$TEST_EXAMPLES" --sdk-dir "$SDK" --manifest "$WORK/manifest.json" --lang python --json

    [ "$status" -eq 0 ]
    mapfile -t where <"$WORK/ex/python/where"
    [ "${where[0]}" = "$SDK/python/bin/python" ]
    [[ "${where[1]}" == "$SDK/python/"* ]]
}

@test "--json: passed, failed, planned and missing-toolchain phases, each with its reason" {
    write_manifest "$(lang_entry bash in-progress '["bash", "-c", "echo building; exit 3"]'),
        $(lang_entry python in-progress '["true"]' '["bash", "-c", "exit 0"]'),
        $(lang_entry go planned '["true"]'),
        $(lang_entry rust in-progress '["true"]')"

    # No cargo on this PATH: rust must be skipped with the reason, never passed.
    PATH="/usr/bin:/bin" run --separate-stderr "$TEST_EXAMPLES" --sdk-dir "$SDK" \
        --manifest "$WORK/manifest.json" --json

    [ "$status" -eq 1 ]
    [ "$(json_at "$output" status)" = failed ]
    [ "$(json_at "$output" ok)" = False ]
    local statuses
    statuses="$(json_statuses "$output")"
    [[ "$statuses" == *"ex/bash/build=failed"* ]]
    [[ "$statuses" == *"ex/python/build=passed"* ]]
    [[ "$statuses" == *"ex/go/build=skipped"* ]]
    [[ "$statuses" == *"ex/rust/build=skipped"* ]]
    python3 - "$output" <<'PY'
import json, sys
results = {(r["lang"], r["phase"]): r for r in json.loads(sys.argv[1])["results"]}
assert "exit 3" in results["bash", "build"]["detail"], results["bash", "build"]
assert "building" in results["bash", "build"]["detail"], results["bash", "build"]
assert results["go", "build"]["detail"].startswith("planned"), results["go", "build"]
assert results["rust", "build"]["detail"] == "toolchain missing: cargo is not installed"
assert all(isinstance(r["ms"], int) and r["ms"] >= 0 for r in results.values())
PY
}

@test "--test runs the test command only after a successful build" {
    write_manifest "$(lang_entry bash in-progress '["true"]' '["bash", "-c", "echo ran > tested"]'),
        $(lang_entry go in-progress '["false"]' '["bash", "-c", "echo ran > tested"]')"

    run --separate-stderr "$TEST_EXAMPLES" --sdk-dir "$SDK" --manifest "$WORK/manifest.json" \
        --lang bash,go --test --json

    [ "$status" -eq 1 ]
    local statuses
    statuses="$(json_statuses "$output")"
    [[ "$statuses" == *"ex/bash/test=passed"* ]]
    [[ "$statuses" == *"ex/go/test=skipped"* ]]
    [ -e "$WORK/ex/bash/tested" ]
    [ ! -e "$WORK/ex/go/tested" ]
}

@test "a run where everything is skipped is not ok (exit 3)" {
    write_manifest "$(lang_entry go planned '["true"]'), $(lang_entry rust planned '["true"]')"

    run --separate-stderr "$TEST_EXAMPLES" --manifest "$WORK/manifest.json" --lang go,rust --json

    [ "$status" -eq 3 ]
    [ "$(json_at "$output" status)" = skipped ]
    [ "$(json_at "$output" ok)" = False ]
}

@test "only passes: exit 0 and ok; the locale variable LANG reaches the commands intact" {
    write_manifest "$(lang_entry bash in-progress '["bash", "-c", "printf %s \"$LANG\" > lang"]')"

    LANG=C.UTF-8 run --separate-stderr "$TEST_EXAMPLES" --sdk-dir "$SDK" \
        --manifest "$WORK/manifest.json" --lang bash --json

    [ "$status" -eq 0 ]
    [ "$(json_at "$output" ok)" = True ]
    [ "$(cat "$WORK/ex/bash/lang")" = C.UTF-8 ]
}

@test "an unknown language is a usage error" {
    run --separate-stderr "$TEST_EXAMPLES" --lang cobol

    [ "$status" -eq 2 ]
    [[ "$stderr" == "test-examples: unknown language 'cobol'"* ]]
}

@test "the real bash example builds against the SDK tree" {
    run --separate-stderr "$TEST_EXAMPLES" --sdk-dir "$SDK" --lang bash --json

    [ "$status" -eq 0 ]
    [[ "$(json_statuses "$output")" == *"token-budget/bash/build=passed"* ]]
}
