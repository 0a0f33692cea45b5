# shellcheck shell=bash
#
# Shared helpers for the bash examples: messages on stderr, the --verbose / --step
# switches and their NXUSKIT_* variables, safe word splitting for Makefile ARGS, and
# locating the Python SDK (NXUSKIT_SDK_DIR).
#
# Source it, then call nx_init with the program name users should see in messages:
#
#     source "$(dirname "$0")/../../bash/lib/common.sh"
#     nx_init token-budget
#
# Every function is prefixed nx_; private helpers use nx__. The library sets no shell
# options of its own, so the caller keeps control over `set -e` and friends.

if [[ -n "${_NX_COMMON_LOADED:-}" ]]; then
    return 0
fi
_NX_COMMON_LOADED=1

# Resolved without subshells or external commands: the wrappers source this file on
# every run, so each fork here is paid by every conformance case.
nx__physical_dir() {
    local back="$PWD" back_old="${OLDPWD:-}"

    builtin cd -P -- "$1" 2>/dev/null || return 1
    REPLY="$PWD"
    builtin cd -- "$back" 2>/dev/null || return 1
    OLDPWD="$back_old"
}

# An absolute path keeps CDPATH out of the way.
nx__lib_source="${BASH_SOURCE[0]}"
[[ "$nx__lib_source" == /* ]] || nx__lib_source="$PWD/$nx__lib_source"
nx__physical_dir "${nx__lib_source%/*}/../.." || return 1
NX_REPO_ROOT="$REPLY"
# shellcheck disable=SC2034 # for scripts that ship files next to the library
NX_LIB_DIR="$NX_REPO_ROOT/bash/lib"
NX_PROG="${NX_PROG:-${0##*/}}"
NX_VERBOSE=0
NX_STEP=0
# Output of nx_split_words, read by the caller.
# shellcheck disable=SC2034
NX_WORDS=()

# The exit codes of SPEC.md section 8 that the shell side can produce by itself.
readonly NX_EXIT_USAGE=2
readonly NX_EXIT_QUIT=130

nx_init() {
    NX_PROG="$1"
}

# --- messages --------------------------------------------------------------------------

# Colour only helps a human looking at a terminal; pipes and log files get plain text,
# and NO_COLOR (https://no-color.org) switches it off whenever it is set and not empty.
nx_color_enabled() {
    [[ -t 2 && -z "${NO_COLOR:-}" && "${TERM:-dumb}" != "dumb" ]]
}

nx__paint() {
    local code="$1" text="$2"

    if nx_color_enabled; then
        printf '\033[%sm%s\033[0m' "$code" "$text"
    else
        printf '%s' "$text"
    fi
}

# Messages must stay one line: tools that read our stderr (and the conformance suite)
# count lines, so embedded newlines and carriage returns become spaces.
nx__one_line() {
    local text="$*"

    text="${text//$'\r'/ }"
    printf '%s' "${text//$'\n'/ }"
}

nx_error() {
    printf '%s: %s\n' "$NX_PROG" "$(nx__paint 31 "$(nx__one_line "$@")")" >&2
}

nx_warn() {
    printf '%s: %s\n' "$NX_PROG" "$(nx__paint 33 "$(nx__one_line "$@")")" >&2
}

nx_info() {
    printf '%s: %s\n' "$NX_PROG" "$(nx__one_line "$@")" >&2
}

nx_die() {
    local code="$1"
    shift

    nx_error "$@"
    exit "$code"
}

# --- verbose and step modes ------------------------------------------------------------

# Reads a boolean NXUSKIT_* variable the way SPEC.md section 1 defines it: 1/true turn
# the mode on, 0/false/empty leave it off, anything else is a usage error (status 2).
# The answer (1 or 0) lands in REPLY.
nx_env_flag() {
    local name="$1"
    local value="${!name:-}"

    case "${value,,}" in
        1 | true) REPLY=1 ;;
        "" | 0 | false) REPLY=0 ;;
        *)
            nx_error "$name must be 1, true, 0 or false, not '$value'"
            return "$NX_EXIT_USAGE"
            ;;
    esac
}

# Sets NX_VERBOSE and NX_STEP from the environment, then from the options (options win).
# Only options before `--` count: after it everything is the prompt.
nx_load_modes() {
    local arg

    nx_env_flag NXUSKIT_VERBOSE || return
    NX_VERBOSE="$REPLY"
    nx_env_flag NXUSKIT_STEP || return
    NX_STEP="$REPLY"

    for arg in "$@"; do
        case "$arg" in
            --) break ;;
            --verbose) NX_VERBOSE=1 ;;
            --step) NX_STEP=1 ;;
        esac
    done
}

nx_trace() {
    if [[ "$NX_VERBOSE" == 1 ]]; then
        printf '%s %s: %s\n' "$(date -u +%H:%M:%S.%3N)" "$NX_PROG" "$(nx__one_line "$@")" >&2
    fi
}

# Explains a step; when a human is at the terminal, waits for Enter (q quits with 130).
# Without a terminal on stdin it only prints, so scripts and CI never hang.
nx_step() {
    local answer=""

    if [[ "$NX_STEP" != 1 ]]; then
        return 0
    fi

    printf '%s [step] %s\n' "$NX_PROG" "$(nx__one_line "$@")" >&2
    if [[ -t 0 ]]; then
        printf '%s [step] Enter continues, q quits: ' "$NX_PROG" >&2
        read -r answer || answer=""
        if [[ "${answer,,}" == q* ]]; then
            exit "$NX_EXIT_QUIT"
        fi
    fi
}

# --- small parsers ---------------------------------------------------------------------

nx_is_uint() {
    [[ "$1" =~ ^[0-9]+$ ]]
}

# The interpreter used for the small JSON and splitting helpers. Any Python 3 will do.
nx_python() {
    local candidate

    for candidate in "${NX_PYTHON:-}" python3 python; do
        if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1; then
            printf '%s' "$candidate"
            return 0
        fi
    done

    nx_error "python3 is required but was not found on PATH"
    return "$NX_EXIT_USAGE"
}

# Splits a string into words the way a POSIX shell would (quotes, backslashes) but
# without expanding anything: `$HOME` or `$(cmd)` stay literal text. The result lands in
# the array NX_WORDS. Used for `make run ARGS="..."` only.
nx_split_words() {
    local text="$1" py

    py="$(nx_python)" || return
    NX_WORDS=()
    if [[ -z "${text//[[:space:]]/}" ]]; then
        return 0
    fi

    # NUL-separated output keeps newlines inside words intact; `wait $!` collects the
    # status of the process substitution so a quoting error is not lost.
    mapfile -d '' -t NX_WORDS < <("$py" -c '
import shlex, sys
try:
    words = shlex.split(sys.argv[1])
except ValueError as exc:
    sys.stderr.write(f"cannot split ARGS: {exc}\n")
    sys.exit(2)
sys.stdout.write("".join(w + "\0" for w in words))
' "$text" 2>/dev/null)
    if ! wait "$!"; then
        # shellcheck disable=SC2034
        NX_WORDS=()
        nx_error "cannot split ARGS='$text': check its quotes"
        return "$NX_EXIT_USAGE"
    fi
}

# --- the Python SDK --------------------------------------------------------------------

nx_sdk_default_dir() {
    printf '%s/.sdk' "$NX_REPO_ROOT"
}

nx_sdk_install_hint() {
    printf 'install it with scripts/setup-sdk.sh (in %s), or set NXUSKIT_SDK_DIR to an SDK tree' \
        "$NX_REPO_ROOT"
}

# Sets REPLY to the first executable called TOOL on PATH that is not the file SELF, so
# that a wrapper named like the tool it wraps never finds (and execs) itself.
nx_path_find_other() {
    local tool="$1" self="$2" dir candidate
    local -a dirs

    IFS=: read -r -a dirs <<<"${PATH:-}"
    for dir in "${dirs[@]}"; do
        candidate="${dir:-.}/$tool"
        if [[ -f "$candidate" && -x "$candidate" ]]; then
            # -ef compares device and inode, so symlinks and relative paths count too.
            if [[ -z "$self" || ! "$candidate" -ef "$self" ]]; then
                REPLY="$candidate"
                return 0
            fi
        fi
    done
    return 1
}

# Finds the SDK's command TOOL and sets REPLY to its path. Order:
#   1. $NXUSKIT_SDK_DIR/bin/TOOL when NXUSKIT_SDK_DIR is set. If it is set but the tool
#      is missing there, that is an error: silently running some other copy would hide
#      a broken installation.
#   2. the checkout's default SDK tree (.sdk/ at the repository root).
#   3. TOOL on PATH (never SELF, the calling wrapper).
# On failure prints one error line and returns 2.
nx_sdk_find_tool() {
    local tool="$1" self="${2:-}" sdk_dir candidate

    if [[ -n "${NXUSKIT_SDK_DIR:-}" ]]; then
        sdk_dir="$NXUSKIT_SDK_DIR"
        candidate="$sdk_dir/bin/$tool"
        if [[ -f "$candidate" && -x "$candidate" ]]; then
            REPLY="$candidate"
            return 0
        fi
        nx_error "NXUSKIT_SDK_DIR=$sdk_dir has no executable bin/$tool;" \
            "rebuild it with scripts/setup-sdk.sh --sdk-dir '$sdk_dir' or unset NXUSKIT_SDK_DIR"
        return "$NX_EXIT_USAGE"
    fi

    candidate="$NX_REPO_ROOT/.sdk/bin/$tool"
    if [[ -f "$candidate" && -x "$candidate" ]]; then
        REPLY="$candidate"
        return 0
    fi

    if nx_path_find_other "$tool" "$self"; then
        return 0
    fi

    nx_error "the Python SDK ($tool) is not installed: $(nx_sdk_install_hint)"
    return "$NX_EXIT_USAGE"
}
