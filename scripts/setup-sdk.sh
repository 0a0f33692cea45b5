#!/usr/bin/env bash
#
# setup-sdk.sh: build the Python reference (python/) as a wheel and install it into an
# SDK tree that the examples and scripts/test-examples.sh use instead of the checkout.
#
#   scripts/setup-sdk.sh [--sdk-dir DIR] [--python PY] [--source DIR] [--no-exact] [--force]
#
# The tree (DIR: --sdk-dir, else $NXUSKIT_SDK_DIR, else .sdk/ at the repository root):
#
#   python/             an isolated virtualenv holding the token-budget package, with its
#                       `exact` extra when that installs (a warning says when it does not);
#                       a symlink into venvs/, switched atomically on each rebuild
#   bin/token-budget    launcher for the package's CLI
#   env.sh              `source DIR/env.sh` exports NXUSKIT_SDK_DIR and puts bin/ on PATH
#   wheels/             the wheel that was installed
#   sdk.json            what was installed, from which source hash, with which Python
#   .source-hash        written last: a tree without it is incomplete
#
# Running it again is cheap: when the hash of the Python sources (and the options) is
# unchanged and the tree still works, nothing is rebuilt. --force rebuilds anyway.
#
# Exit status: 0 ready, 1 build or install failed (the log is named), 2 usage error.

set -uo pipefail

here="$(dirname -- "$(realpath -e -- "${BASH_SOURCE[0]}")")"
# shellcheck source=SCRIPTDIR/../bash/lib/common.sh
source "$here/../bash/lib/common.sh"
nx_init setup-sdk

# Bump when the tree layout changes, so old trees are rebuilt rather than trusted.
readonly LAYOUT_VERSION=1

sdk_dir=""
python_cmd="${NXUSKIT_PYTHON:-python3}"
source_dir="$NX_REPO_ROOT/python"
want_exact=1
force=0
log_file=/dev/null
wheel=""
exact_installed=0

usage() {
    sed -n '3,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

parse_args() {
    while (($# > 0)); do
        case "$1" in
            --sdk-dir | --python | --source)
                (($# >= 2)) || nx_die "$NX_EXIT_USAGE" "$1 needs a value"
                case "$1" in
                    --sdk-dir) sdk_dir="$2" ;;
                    --python) python_cmd="$2" ;;
                    --source) source_dir="$2" ;;
                esac
                shift 2
                ;;
            --no-exact) want_exact=0 && shift ;;
            --force) force=1 && shift ;;
            -h | --help) usage && exit 0 ;;
            *) nx_die "$NX_EXIT_USAGE" "unknown argument '$1' (try --help)" ;;
        esac
    done

    sdk_dir="${sdk_dir:-${NXUSKIT_SDK_DIR:-$(nx_sdk_default_dir)}}"
}

check_inputs() {
    if [[ ! -f "$source_dir/pyproject.toml" ]]; then
        nx_die "$NX_EXIT_USAGE" "no pyproject.toml in $source_dir: point --source at the Python package"
    fi
    if ! command -v "$python_cmd" >/dev/null 2>&1; then
        nx_die "$NX_EXIT_USAGE" "Python '$python_cmd' not found: pass --python or set NXUSKIT_PYTHON"
    fi

    mkdir -p "$sdk_dir" || nx_die 1 "cannot create the SDK directory $sdk_dir"
    sdk_dir="$(cd "$sdk_dir" && pwd -P)"
    source_dir="$(cd "$source_dir" && pwd -P)"
}

# A hash over everything that ends up in the wheel plus the choices that shape the tree,
# so that any edit to the sources, another Python or another option rebuilds.
source_hash() {
    "$python_cmd" - "$source_dir" "$want_exact" "$LAYOUT_VERSION" <<'PY'
import hashlib, pathlib, sys

root = pathlib.Path(sys.argv[1])
digest = hashlib.sha256()
digest.update(f"{sys.version}|exact={sys.argv[2]}|layout={sys.argv[3]}".encode())

files = [root / "pyproject.toml", root / "README.md"]
files += sorted(p for p in (root / "src").rglob("*") if p.is_file())
for path in files:
    if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
        continue
    digest.update(str(path.relative_to(root)).encode() + b"\0")
    digest.update(path.read_bytes() + b"\0")
print(digest.hexdigest())
PY
}

tree_is_current() {
    local wanted="$1"

    [[ -f "$sdk_dir/.source-hash" && "$(cat "$sdk_dir/.source-hash")" == "$wanted" ]] &&
        [[ -x "$sdk_dir/bin/token-budget" && -f "$sdk_dir/env.sh" ]] &&
        "$sdk_dir/python/bin/python" -c 'import token_budget' >/dev/null 2>&1
}

# Runs a command with its output appended to the setup log; on failure names the log.
logged() {
    local what="$1"
    shift

    printf '\n$ %s\n' "$*" >>"$log_file"
    if ! "$@" >>"$log_file" 2>&1; then
        nx_error "$what failed; the output is in $log_file"
        return 1
    fi
}

build_wheel() {
    local wheel_dir="$sdk_dir/wheels"

    rm -rf "$wheel_dir" && mkdir -p "$wheel_dir"
    logged "building the wheel from $source_dir" \
        "$python_cmd" -m pip wheel --no-deps --disable-pip-version-check -w "$wheel_dir" "$source_dir" ||
        return 1

    wheel="$(find "$wheel_dir" -name '*.whl' | head -n 1)"
    [[ -n "$wheel" ]] || {
        nx_error "pip wheel produced no wheel in $wheel_dir; see $log_file"
        return 1
    }
}

# Each build gets its own virtualenv under venvs/, and python/ is a symlink switched
# atomically to the new one. Processes still running from the previous build (a test
# run, a conformance suite) keep working while we rebuild; a virtualenv cannot be moved
# after creation, so building in place would pull it from under them.
install_venv() {
    local hash="$1"
    # A fresh name even for the same sources (--force): never rebuild a live one.
    local venv="$sdk_dir/venvs/${hash:0:12}.$EPOCHSECONDS.$$"
    local pip=("$venv/bin/python" -m pip install --disable-pip-version-check)

    mkdir -p "$sdk_dir/venvs"
    logged "creating the virtualenv $venv" "$python_cmd" -m venv "$venv" || return 1

    exact_installed=0
    if ((want_exact)); then
        if logged "installing the wheel with its exact extra" "${pip[@]}" "${wheel}[exact]"; then
            exact_installed=1
        else
            nx_warn "the exact extra did not install (see $log_file); continuing without it"
        fi
    fi
    if ((!exact_installed)); then
        logged "installing the wheel" "${pip[@]}" "$wheel" || return 1
    fi

    switch_venv "${venv##*/}"
}

switch_venv() {
    local name="$1" previous="" old

    if [[ -L "$sdk_dir/python" ]]; then
        previous="$(readlink "$sdk_dir/python")"
    elif [[ -e "$sdk_dir/python" ]]; then
        rm -rf "$sdk_dir/python" # a tree from before venvs/ existed
    fi

    ln -sfn "venvs/$name" "$sdk_dir/python.switch" &&
        mv -Tf "$sdk_dir/python.switch" "$sdk_dir/python" || return 1

    # Keep the new virtualenv and the one just replaced; older ones have no users left.
    for old in "$sdk_dir"/venvs/*; do
        [[ "$old" == */"$name" || "venvs/${old##*/}" == "$previous" ]] || rm -rf "$old"
    done
}

write_launcher() {
    mkdir -p "$sdk_dir/bin"
    cat >"$sdk_dir/bin/token-budget" <<'LAUNCHER'
#!/usr/bin/env bash
# token-budget launcher of an SDK tree, written by scripts/setup-sdk.sh: runs the CLI
# of the package installed in this tree's python/ virtualenv.
sdk="$(cd "$(dirname -- "$(realpath -e -- "${BASH_SOURCE[0]}")")/.." && pwd -P)"
exec "$sdk/python/bin/token-budget" "$@"
LAUNCHER
    chmod +x "$sdk_dir/bin/token-budget"
}

write_env() {
    {
        printf '# Source this file to use the token-budget SDK tree: . %q/env.sh\n' "$sdk_dir"
        printf 'export NXUSKIT_SDK_DIR=%q\n' "$sdk_dir"
        # shellcheck disable=SC2016 # the expansions are for the sourcing shell
        printf 'case ":${PATH:-}:" in *":$NXUSKIT_SDK_DIR/bin:"*) ;; *) export PATH="$NXUSKIT_SDK_DIR/bin${PATH:+:$PATH}" ;; esac\n'
    } >"$sdk_dir/env.sh"
}

write_metadata() {
    local hash="$1"

    "$sdk_dir/python/bin/python" - "$sdk_dir/sdk.json" "$hash" "$exact_installed" \
        "$source_dir" "$(basename "$wheel")" <<'PY'
import importlib.metadata, json, sys

path, source_hash, exact, source, wheel = sys.argv[1:]
info = {
    "layout_version": 1,
    "package": "token-budget",
    "package_version": importlib.metadata.version("token-budget"),
    "python": sys.version.split()[0],
    "exact_extra": exact == "1",
    "source": source,
    "source_hash": source_hash,
    "wheel": wheel,
}
with open(path, "w", encoding="utf-8") as handle:
    json.dump(info, handle, indent=2)
    handle.write("\n")
PY
}

# The tree is only declared ready once its launcher answers like a token-budget CLI.
verify_tree() {
    local describe

    if ! describe="$("$sdk_dir/bin/token-budget" --describe 2>>"$log_file")"; then
        nx_error "the installed CLI fails '--describe'; see $log_file"
        return 1
    fi
    if [[ "$describe" != *'"contract_version"'* ]]; then
        nx_error "the installed CLI's --describe output is not a description: $describe"
        return 1
    fi
}

main() {
    local hash

    parse_args "$@"
    check_inputs

    # Two runs at once (parallel nox sessions) must not build into the same tree.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$sdk_dir/.setup.lock"
        flock 9 || nx_die 1 "cannot lock $sdk_dir/.setup.lock"
    else
        nx_warn "flock not found: not protected against a parallel setup-sdk.sh run"
    fi

    hash="$(source_hash)" || nx_die 1 "cannot hash the sources in $source_dir"
    if ((!force)) && tree_is_current "$hash"; then
        nx_info "SDK tree $sdk_dir is up to date (source hash ${hash:0:12})"
        return 0
    fi

    log_file="$sdk_dir/setup.log"
    : >"$log_file"
    rm -f "$sdk_dir/.source-hash"
    nx_info "building the Python SDK into $sdk_dir (log: $log_file)"

    build_wheel || exit 1
    install_venv "$hash" || exit 1
    write_launcher
    write_env
    write_metadata "$hash" || nx_die 1 "cannot write $sdk_dir/sdk.json"
    verify_tree || exit 1

    printf '%s\n' "$hash" >"$sdk_dir/.source-hash"
    nx_info "SDK ready: source $sdk_dir/env.sh, or set NXUSKIT_SDK_DIR=$sdk_dir"
}

main "$@"
