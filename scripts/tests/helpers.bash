# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are read by the .bats files
#
# Shared setup for the tests of scripts/setup-sdk.sh and scripts/test-examples.sh.

REPO_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd -P)"
SETUP_SDK="$REPO_ROOT/scripts/setup-sdk.sh"
TEST_EXAMPLES="$REPO_ROOT/scripts/test-examples.sh"

# One SDK tree built from the checkout's python/ for the whole bats run. setup-sdk.sh
# is idempotent, so every file that needs it just asks for it again.
shared_sdk() {
    local sdk="$BATS_RUN_TMPDIR/shared-sdk"

    "$SETUP_SDK" --sdk-dir "$sdk" --no-exact >&2 || return 1
    printf '%s' "$sdk"
}

# Prints a value from the JSON document in $1 at the path given as further arguments
# (keys or list indexes), e.g. json_at "$output" results 0 status.
json_at() {
    python3 - "$@" <<'PY'
import json, sys
value = json.loads(sys.argv[1])
for key in sys.argv[2:]:
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value if not isinstance(value, (dict, list)) else json.dumps(value))
PY
}

# Prints "example/lang/phase=status" for every result of a --json summary, one a line.
json_statuses() {
    python3 - "$1" <<'PY'
import json, sys
for r in json.loads(sys.argv[1])["results"]:
    print("{example}/{lang}/{phase}={status}".format(**r))
PY
}
