#!/usr/bin/env bash
# README command 2: run every test, the way CI does.
#
# One source of truth for "what CI runs": the default sessions of noxfile.py.
# This script only makes sure nox exists (in the development virtualenv, built
# from nothing but python3) and then hands over; extra arguments go to nox, so
# `scripts/test.sh -s python` runs one session.
set -euo pipefail
# shellcheck source=scripts/lib/devenv.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/devenv.sh"
root=$(tb_root)
tb_ensure_devenv
if ! "$root/.venv/bin/python" -c "import nox" 2>/dev/null; then
  "$root/.venv/bin/python" -m pip install --quiet "nox>=2025.5.1"
fi
cd "$root"
# Rust builds are the slowest step; keep them in one place that survives fresh clones.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/token-budget/cargo-target}"
exec "$root/.venv/bin/nox" "$@"
