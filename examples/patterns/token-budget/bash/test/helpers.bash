# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the .bats files
#
# Shared setup for the bats tests of the bash example.
#
# Most tests replace the Python CLI with a fake one (fake_cli below) that records what
# it received: argv (NUL-separated), stdin, its PID and a few environment variables.
# That checks the wrapper itself, byte for byte, without depending on the Python SDK.
# e2e.bats runs the real Python CLI.

EXAMPLE_DIR="$(cd "$BATS_TEST_DIRNAME/.." && pwd -P)"
REPO_ROOT="$(cd "$EXAMPLE_DIR/../../../.." && pwd -P)"
WRAPPER="$EXAMPLE_DIR/token-budget"
RUN_SH="$EXAMPLE_DIR/run.sh"

# Writes a fake Python CLI to "$1/token-budget", labelled "$2" (written to $FAKE_LOG/who
# so a test can tell which copy ran). It logs into $FAKE_LOG, prints
# $FAKE_STDOUT (a file) when set, waits for $FAKE_WAIT_FOR (a file) when set, and exits
# with $FAKE_EXIT (default 0).
make_fake_cli() {
    local dir="$1" label="${2:-fake}"

    mkdir -p "$dir"
    {
        printf '#!/usr/bin/env bash\nlabel=%q\n' "$label"
        cat <<'FAKE'
log="${FAKE_LOG:?FAKE_LOG must be set}"
mkdir -p "$log"
printf '%s' "$label" >"$log/who"
if (($#)); then printf '%s\0' "$@"; fi >"$log/argv"
printf '%s' "$$" >"$log/pid"
printf 'TOKEN_BUDGET_MAX=%s\nNXUSKIT_VERBOSE=%s\nLANG=%s\n' \
    "${TOKEN_BUDGET_MAX-<unset>}" "${NXUSKIT_VERBOSE-<unset>}" "${LANG-<unset>}" >"$log/env"
if [[ ! -t 0 ]]; then cat >"$log/stdin"; fi
if [[ -n "${FAKE_STDOUT:-}" ]]; then cat "$FAKE_STDOUT"; fi
if [[ -n "${FAKE_WAIT_FOR:-}" ]]; then
    for _ in $(seq 1 200); do [[ -e "$FAKE_WAIT_FOR" ]] && break; sleep 0.05; done
    [[ -e "$FAKE_WAIT_FOR" ]] || exit 99
fi
exit "${FAKE_EXIT:-0}"
FAKE
    } >"$dir/token-budget"
    chmod +x "$dir/token-budget"
}

# A fake SDK tree in $BATS_TEST_TMPDIR/sdk, selected through NXUSKIT_SDK_DIR.
use_fake_sdk() {
    export FAKE_LOG="$BATS_TEST_TMPDIR/log"
    make_fake_cli "$BATS_TEST_TMPDIR/sdk/bin"
    export NXUSKIT_SDK_DIR="$BATS_TEST_TMPDIR/sdk"
}

# Reads the fake CLI's argv into the array RECEIVED.
read_received_argv() {
    RECEIVED=()
    mapfile -d '' -t RECEIVED <"$FAKE_LOG/argv"
}

# Fails with a readable diff when two arrays (passed as names) differ.
assert_same_words() {
    local -n expected_ref="$1" actual_ref="$2"
    local i

    if ((${#expected_ref[@]} != ${#actual_ref[@]})); then
        printf 'expected %d words, got %d\n' "${#expected_ref[@]}" "${#actual_ref[@]}" >&2
        printf 'expected: %q\n' "${expected_ref[@]}" >&2
        printf 'actual:   %q\n' "${actual_ref[@]}" >&2
        return 1
    fi
    for i in "${!expected_ref[@]}"; do
        if [[ "${expected_ref[$i]}" != "${actual_ref[$i]}" ]]; then
            printf 'word %d: expected %q, got %q\n' "$i" "${expected_ref[$i]}" "${actual_ref[$i]}" >&2
            return 1
        fi
    done
}

# Copies the wrapper and the shared library into a fresh checkout-shaped tree, so the
# tests can try the .sdk/ and PATH fallbacks without touching the real checkout.
make_fake_checkout() {
    local root="$1"

    mkdir -p "$root/bash/lib" "$root/examples/patterns/token-budget/bash"
    cp "$REPO_ROOT/bash/lib/common.sh" "$root/bash/lib/"
    cp "$WRAPPER" "$EXAMPLE_DIR/rename_impl.py" "$EXAMPLE_DIR/run.sh" \
        "$root/examples/patterns/token-budget/bash/"
}

# Prints the value of a top-level key of the JSON object in $1.
json_get() {
    python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}
