#!/usr/bin/env bash
#
# bench.sh [ROUNDS]: what the bash wrapper costs on top of the Python CLI it execs.
#
# Each round runs, interleaved so that machine load hits all three alike: the SDK's
# Python CLI directly, the wrapper with --json (relabelling filter) and the wrapper in
# human mode (plain exec). Prints the median wall time of each and the ratios against
# the direct run measured in the same session. No thresholds: this reports, it does
# not judge.

set -uo pipefail

here="$(dirname -- "$(realpath -e -- "${BASH_SOURCE[0]}")")"
# shellcheck source=SCRIPTDIR/../../../../bash/lib/common.sh
source "$here/../../../../bash/lib/common.sh"
nx_init bench

rounds="${1:-15}"
if ! nx_is_uint "$rounds" || ((rounds == 0)); then
    nx_die "$NX_EXIT_USAGE" "ROUNDS must be a positive integer"
fi
nx_sdk_find_tool token-budget "$here/token-budget" || exit "$NX_EXIT_USAGE"
cli="$REPLY"
args=(--budget 3 -- "benchmark prompt")

elapsed_us() {
    local start="${EPOCHREALTIME/./}"
    "$@" >/dev/null 2>&1
    printf '%s ' "$((${EPOCHREALTIME/./} - start))"
}

direct="" json="" human=""
for _ in $(seq "$rounds"); do
    direct+="$(elapsed_us "$cli" --json "${args[@]}")"
    json+="$(elapsed_us "$here/token-budget" --json "${args[@]}")"
    human+="$(elapsed_us "$here/token-budget" "${args[@]}")"
done

"$(nx_python)" - "$rounds" "$cli" "$direct" "$json" "$human" <<'PY'
import statistics, sys

rounds, cli, *series = sys.argv[1:]
direct, json_mode, human = (statistics.median(map(int, s.split())) / 1000 for s in series)
print(f"{rounds} rounds, Python CLI {cli}")
print(f"  python CLI --json     {direct:8.1f} ms  (baseline)")
print(f"  bash wrapper --json   {json_mode:8.1f} ms  x{json_mode / direct:.2f}")
print(f"  bash wrapper (human)  {human:8.1f} ms  x{human / direct:.2f}")
PY
