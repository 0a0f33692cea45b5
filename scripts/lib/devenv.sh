# shellcheck shell=bash
# Shared by scripts/token-budget and scripts/test.sh: make sure the development
# virtualenv at the repository root exists and holds the Python reference.
#
# Why a stamp file: pip is slow to decide that nothing changed, and command 1 of
# the README should start in well under a second once the environment is built.

tb_root() {
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd
}

tb_ensure_devenv() {
  local root venv stamp want
  root=$(tb_root)
  venv="$root/.venv"
  stamp="$venv/.token-budget-stamp"
  want=$(cat "$root/python/pyproject.toml" "$root/conformance/requirements.txt" 2>/dev/null | cksum)

  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi

  command -v python3 >/dev/null 2>&1 || {
    echo "token-budget: python3 3.11 or newer is required; install it and run this again" >&2
    return 2
  }
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "token-budget: python3 is $(python3 -c 'import platform; print(platform.python_version())'), but 3.11 or newer is required" >&2
    return 2
  fi
  echo "token-budget: setting up $venv (first run only)..." >&2
  # --clear: a half-built or outdated environment from an earlier attempt is rebuilt,
  # never reused (the stamp is written only after a complete install).
  python3 -m venv --clear "$venv" >&2 || return 2
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2 || return 2
  "$venv/bin/python" -m pip install --quiet -e "$root/python[exact,redis,test]" >&2 || return 2
  if [ -f "$root/conformance/requirements.txt" ]; then
    "$venv/bin/python" -m pip install --quiet -r "$root/conformance/requirements.txt" >&2 || return 2
  fi
  echo "$want" >"$stamp"
}
