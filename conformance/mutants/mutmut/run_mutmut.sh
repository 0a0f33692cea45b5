#!/usr/bin/env bash
# Source-level mutation testing of the Python reference's core modules with mutmut 3.
#
#   conformance/mutants/mutmut/run_mutmut.sh [WORKDIR] [MAX_SECONDS]
#
# Copies python/src, python/tests, python/pyproject.toml, this folder's setup.cfg and
# the parts of conformance/ the tests import into WORKDIR (default: a new temp folder),
# runs `mutmut run` there bounded by MAX_SECONDS (default 2400), then writes
# WORKDIR/summary.json and prints the survivors. python/ itself is never modified.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
work="${1:-$(mktemp -d /tmp/tb-mutmut-XXXXXX)}"
limit="${2:-2400}"
py="${PYTHON:-$root/.venv/bin/python}"
mutmut="$(dirname "$py")/mutmut"

[ -x "$mutmut" ] || { echo "mutmut is not installed: $py -m pip install 'mutmut>=3,<4'" >&2; exit 2; }

mkdir -p "$work"
cp -r "$root/python/src" "$root/python/tests" "$root/python/pyproject.toml" "$work/"
cp "$here/setup.cfg" "$work/setup.cfg"
# python/tests/conftest.py finds the referee and the oracle at parents[2]/conformance,
# which inside mutmut's copy (WORKDIR/mutants/tests) is WORKDIR/conformance.
mkdir -p "$work/conformance"
for part in referee oracle.py schema cases; do
  cp -r "$root/conformance/$part" "$work/conformance/"
done
find "$work" -name __pycache__ -prune -exec rm -rf {} +

cd "$work"
# The folder must exist before Python starts: a PYTHONPATH entry that is missing at
# start-up is cached as absent, and the editable install's original code wins.
mkdir -p "$work/mutants/src"
# Subprocess tests run `python -m token_budget`: make them import the mutated copy
# (mutmut's trampolines read MUTANT_UNDER_TEST from the inherited environment).
export PYTHONPATH="$work/mutants/src"
export PYTHONDONTWRITEBYTECODE=1
echo "mutmut: working in $work, at most ${limit} s" >&2
set +e
timeout --signal=INT --kill-after=30 "$limit" "$mutmut" run --max-children 2 > "$work/mutmut-run.log" 2>&1
status=$?
set -e
echo "mutmut run exited $status (124 = stopped at the time limit)" >&2

"$mutmut" results --all true > "$work/results.txt" 2>&1 || true
"$py" "$here/summarize.py" "$work" "$status"
