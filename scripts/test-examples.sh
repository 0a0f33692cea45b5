#!/usr/bin/env bash
#
# test-examples.sh: build (and test) every example in conformance/examples_manifest.json
# against an installed SDK tree, never against the checkout's Python sources.
#
#   scripts/test-examples.sh --sdk-dir DIR [--lang python|bash|go|rust|all[,...]]
#                            [--example ID] [--test] [--conformance] [--json]
#                            [--manifest FILE] [--log-dir DIR]
#
# --sdk-dir    the tree made by scripts/setup-sdk.sh (default: $NXUSKIT_SDK_DIR). Python
#              commands run with its interpreter and its bin/ comes first on PATH. An
#              empty, unfinished or broken tree is an error (exit 2), not a fallback.
# --lang       languages to run (repeatable, or comma-separated; default all)
# --test       also run each example's test command (python: plus python/tests)
# --conformance  also run `pytest conformance/tests --impl NAME` with the SDK's Python
# --json       print one summary object on stdout instead of the table
#
# Each phase is passed, failed or skipped (with the reason: a missing toolchain is a
# skip, never a pass). Exit status: 0 when something passed and nothing failed,
# 1 when anything failed, 3 when nothing ran (everything skipped), 2 usage/SDK error.

set -uo pipefail

here="$(dirname -- "$(realpath -e -- "${BASH_SOURCE[0]}")")"
# shellcheck source=SCRIPTDIR/../bash/lib/common.sh
source "$here/../bash/lib/common.sh"
nx_init test-examples

readonly ALL_LANGUAGES=(python bash go rust)
readonly PHASE_TIMEOUT="${TB_PHASE_TIMEOUT:-1800}"

sdk_dir="${NXUSKIT_SDK_DIR:-}"
manifest="$NX_REPO_ROOT/conformance/examples_manifest.json"
only_example=""
log_dir=""
run_tests=0
run_conformance=0
json_output=0
declare -a want_languages=()

# One entry per phase result, in order; the summary is built from these at the end.
declare -a R_EXAMPLE=() R_LANGUAGE=() R_PHASE=() R_STATUS=() R_MS=() R_DETAIL=() R_LOG=()

sdk_python=""
bats_dir=""
test_extra_ready=""
declare -A conformance_done=()

# --- arguments -------------------------------------------------------------------------

usage() {
    sed -n '3,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

add_languages() {
    local item
    local -a items

    IFS=, read -r -a items <<<"$1"
    for item in "${items[@]}"; do
        case "$item" in
            all) want_languages+=("${ALL_LANGUAGES[@]}") ;;
            python | bash | go | rust) want_languages+=("$item") ;;
            *) nx_die "$NX_EXIT_USAGE" "unknown language '$item': use python, bash, go, rust or all" ;;
        esac
    done
}

parse_args() {
    while (($# > 0)); do
        case "$1" in
            --sdk-dir | --lang | --example | --manifest | --log-dir)
                (($# >= 2)) || nx_die "$NX_EXIT_USAGE" "$1 needs a value"
                case "$1" in
                    --sdk-dir) sdk_dir="$2" ;;
                    --lang) add_languages "$2" ;;
                    --example) only_example="$2" ;;
                    --manifest) manifest="$2" ;;
                    --log-dir) log_dir="$2" ;;
                esac
                shift 2
                ;;
            --test) run_tests=1 && shift ;;
            --conformance) run_conformance=1 && shift ;;
            --json) json_output=1 && shift ;;
            -h | --help) usage && exit 0 ;;
            *) nx_die "$NX_EXIT_USAGE" "unknown argument '$1' (try --help)" ;;
        esac
    done

    if ((${#want_languages[@]} == 0)); then
        want_languages=("${ALL_LANGUAGES[@]}")
    fi
    [[ -f "$manifest" ]] || nx_die "$NX_EXIT_USAGE" "manifest $manifest not found"
}

wants_language() {
    local item

    for item in "${want_languages[@]}"; do
        [[ "$item" == "$1" ]] && return 0
    done
    return 1
}

# --- the SDK tree ----------------------------------------------------------------------

sdk_error() {
    nx_error "SDK tree '$sdk_dir' is not usable: $1;" \
        "build it with scripts/setup-sdk.sh --sdk-dir '$sdk_dir'"
    if ((json_output)); then
        "$(nx_python)" -c 'import json, sys; print(json.dumps({"ok": False, "status": "failed", "sdk_dir": sys.argv[1], "error": sys.argv[2], "results": []}))' \
            "$sdk_dir" "$1"
    fi
    exit "$NX_EXIT_USAGE"
}

# Proves the tree is complete and that its Python imports token_budget from inside the
# tree: an editable install or a PYTHONPATH pointing at the checkout would otherwise
# test the sources while claiming to test the SDK.
check_sdk() {
    local location

    if [[ -z "$sdk_dir" ]]; then
        nx_die "$NX_EXIT_USAGE" "no SDK tree: pass --sdk-dir DIR or set NXUSKIT_SDK_DIR" \
            "(scripts/setup-sdk.sh builds one)"
    fi
    [[ -d "$sdk_dir" ]] || sdk_error "the directory does not exist"
    sdk_dir="$(cd "$sdk_dir" && pwd -P)"

    [[ -f "$sdk_dir/.source-hash" ]] || sdk_error "it is incomplete (no .source-hash: setup-sdk.sh did not finish)"
    [[ -x "$sdk_dir/bin/token-budget" ]] || sdk_error "bin/token-budget is missing"
    sdk_python="$sdk_dir/python/bin/python"
    [[ -x "$sdk_python" ]] || sdk_error "python/bin/python is missing"

    location="$(cd / && env -u PYTHONPATH -u PYTHONHOME "$sdk_python" -c \
        'import os, token_budget; print(os.path.realpath(token_budget.__file__))' 2>/dev/null)" ||
        sdk_error "its Python cannot import token_budget"
    [[ "$location" == "$sdk_dir/"* ]] ||
        sdk_error "its token_budget comes from $location, outside the tree"
}

# Everything the phases run sees the SDK first: its launcher, its virtualenv's python.
export_sdk_env() {
    export NXUSKIT_SDK_DIR="$sdk_dir"
    export VIRTUAL_ENV="$sdk_dir/python"
    export PATH="$sdk_dir/bin:$sdk_dir/python/bin:$PATH"
    unset PYTHONPATH PYTHONHOME
}

needs_sdk() {
    wants_language python || wants_language bash || ((run_conformance))
}

# --- recording -------------------------------------------------------------------------

record() {
    local example="$1" language="$2" phase="$3" status="$4" ms="$5" detail="$6" log="${7:-}"
    local label

    R_EXAMPLE+=("$example") R_LANGUAGE+=("$language") R_PHASE+=("$phase")
    R_STATUS+=("$status") R_MS+=("$ms") R_DETAIL+=("$detail") R_LOG+=("$log")

    case "$status" in
        passed) label="$(nx__paint 32 PASS)" ;;
        failed) label="$(nx__paint 31 FAIL)" ;;
        *) label="$(nx__paint 33 SKIP)" ;;
    esac
    printf '%s %-14s %-7s %-12s %7s ms  %s\n' "$label" "$example" "$language" "$phase" "$ms" \
        "$(nx__one_line "${detail:0:160}")" >&2
    # A CI log must show why a phase failed, not only where its log file was.
    if [[ "$status" == failed && -n "$log" && -f "$log" ]]; then
        tail -n 40 "$log" | sed 's/^/    | /' >&2
    fi
}

now_ms() {
    local now="${EPOCHREALTIME/./}"
    printf '%s' "$((now / 1000))"
}

# Runs one phase: argv after the first three arguments, in directory $3, output to a
# log file. Records passed or failed with the time and, on failure, the log's tail.
run_phase() {
    local example="$1" language="$2" phase="$3" cwd="$4"
    shift 4
    local log="$log_dir/$example-$language-$phase.log" start status elapsed detail

    printf '$ (cd %q && %s)\n' "$cwd" "$*" >"$log"
    start="$(now_ms)"
    # --foreground keeps the phase in our process group, so Ctrl-C stops it too.
    (cd "$cwd" && timeout --foreground --kill-after=30 "$PHASE_TIMEOUT" "$@") </dev/null >>"$log" 2>&1
    status=$?
    elapsed=$(($(now_ms) - start))

    if ((status == 0)); then
        record "$example" "$language" "$phase" passed "$elapsed" "$*" "$log"
        return 0
    fi

    detail="exit $status from: $*"
    ((status == 124)) && detail="timed out after ${PHASE_TIMEOUT}s: $*"
    detail+=$'\n'"$(tail -n 25 "$log")"
    record "$example" "$language" "$phase" failed "$elapsed" "$detail" "$log"
    return 1
}

# --- toolchains ------------------------------------------------------------------------

# Prints why LANGUAGE cannot be built here, or nothing when its toolchain is present.
missing_toolchain() {
    local tool

    case "$1" in
        python) [[ -x "$sdk_python" ]] || printf 'the SDK tree has no Python' ;;
        bash | go)
            for tool in make "$1"; do
                command -v "$tool" >/dev/null 2>&1 || {
                    printf '%s is not installed' "$tool"
                    return
                }
            done
            ;;
        rust) command -v cargo >/dev/null 2>&1 || printf 'cargo is not installed' ;;
    esac
}

# bats is installed on demand (bash/bin/ensure-bats); prints why when that fails.
ensure_bats() {
    local path

    [[ -n "$bats_dir" ]] && return 0
    if ! path="$("$NX_REPO_ROOT/bash/bin/ensure-bats" 2>>"$log_dir/ensure-bats.log")"; then
        printf 'bats is not available (see %s)' "$log_dir/ensure-bats.log"
        return 1
    fi
    bats_dir="$(dirname -- "$path")"
    export PATH="$bats_dir:$PATH"
}

# The python tests and the conformance suite need the package's `test` extra (and the
# suite's requirements.txt); install them into the SDK's virtualenv from the tree's own
# wheel, once per run. The package itself stays the tree's copy.
ensure_test_extra() {
    local wheel

    [[ -n "$test_extra_ready" ]] && return 0
    wheel="$(find "$sdk_dir/wheels" -name '*.whl' 2>/dev/null | head -n 1)"
    [[ -n "$wheel" ]] || return 1
    local -a extra=()
    if [[ -f "$NX_REPO_ROOT/conformance/requirements.txt" ]]; then
        extra=(-r "$NX_REPO_ROOT/conformance/requirements.txt")
    fi
    "$sdk_python" -m pip install -q --disable-pip-version-check "${wheel}[test]" "${extra[@]}" \
        >>"$log_dir/test-extra.log" 2>&1 || return 1
    test_extra_ready=1
}

# --- one example in one language -------------------------------------------------------

# Python commands in the manifest say python3; they must run the SDK's interpreter.
resolve_command() {
    RESOLVED=("$@")
    ((${#RESOLVED[@]} > 0)) || return 1
    case "${RESOLVED[0]}" in
        python | python3) RESOLVED[0]="$sdk_python" ;;
    esac
}

skip_phases() {
    local example="$1" language="$2" reason="$3" phase

    for phase in build $( ((run_tests)) && echo test) $( ((run_conformance)) && echo conformance); do
        record "$example" "$language" "$phase" skipped 0 "$reason"
    done
}

run_unit_tests() {
    local example="$1"

    if ! ensure_test_extra; then
        record "$example" python unit failed 0 "cannot install the test extra into the SDK (see $log_dir/test-extra.log)"
        return
    fi
    # -o pythonpath= keeps any ini setting from putting the checkout's src/ on sys.path.
    run_phase "$example" python unit "$NX_REPO_ROOT/python" \
        "$sdk_python" -m pytest -q -p no:cacheprovider -o pythonpath= tests
}

# Conformance runs once for all built implementations at the end (run_conformance_suite):
# the suite's differential checks compare implementations with each other, which a
# run per language could never do. Here we only queue.
declare -a CONF_IMPLS=() CONF_EXAMPLES=() CONF_LANGUAGES=()

run_conformance_for() {
    local example="$1" language="$2" impl="$3"

    if [[ -z "$impl" ]]; then
        record "$example" "$language" conformance skipped 0 "the manifest names no conformance_impl"
        return
    fi
    if [[ -n "${conformance_done[$impl]:-}" ]]; then
        return
    fi
    conformance_done[$impl]=1
    CONF_IMPLS+=("$impl") CONF_EXAMPLES+=("$example") CONF_LANGUAGES+=("$language")
}

# Reads the suite's JSON Lines report and prints, per implementation, one line
# "impl<TAB>status<TAB>detail": failed when any check failed, errored, timed out or
# broke the harness; skipped when the suite found it unavailable; else passed.
conformance_verdicts() {
    "$sdk_python" - "$@" <<'PY'
import collections, json, sys

report, *impls = sys.argv[1:]
bad = {"fail", "error", "timeout", "harness-error"}
outcomes = collections.defaultdict(collections.Counter)
unavailable = {}
with open(report, encoding="utf-8") as handle:
    for line in handle:
        entry = json.loads(line)
        if entry.get("type") == "header":
            for name, info in entry.get("implementations", {}).items():
                if not info.get("available", True):
                    unavailable[name] = info.get("reason") or "unavailable"
        elif entry.get("type") == "record":
            outcomes[entry["impl"]][entry["outcome"]] += 1

for impl in impls:
    counts = outcomes.get(impl, collections.Counter())
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no checks ran"
    if impl in unavailable:
        status, detail = "skipped", f"unavailable: {unavailable[impl]}"
    elif any(counts[k] for k in bad):
        status, detail = "failed", summary
    elif counts["pass"]:
        status, detail = "passed", summary
    else:
        status, detail = "failed", summary
    print(f"{impl}\t{status}\t{detail} (report {report})")
PY
}

run_conformance_suite() {
    local log="$log_dir/conformance.log" start status elapsed report i impl verdict detail
    local -a impl_args=()

    ((${#CONF_IMPLS[@]} > 0)) || return 0
    if [[ ! -d "$NX_REPO_ROOT/conformance/tests" ]]; then
        for i in "${!CONF_IMPLS[@]}"; do
            record "${CONF_EXAMPLES[$i]}" "${CONF_LANGUAGES[$i]}" conformance skipped 0 \
                "conformance/tests does not exist yet"
        done
        return
    fi
    if ! ensure_test_extra; then
        for i in "${!CONF_IMPLS[@]}"; do
            record "${CONF_EXAMPLES[$i]}" "${CONF_LANGUAGES[$i]}" conformance failed 0 \
                "cannot install the test extra into the SDK (see $log_dir/test-extra.log)"
        done
        return
    fi

    for impl in "${CONF_IMPLS[@]}"; do impl_args+=(--impl "$impl"); done
    printf '$ (cd %q && %s)\n' "$NX_REPO_ROOT" "pytest conformance/tests ${impl_args[*]}" >"$log"
    start="$(now_ms)"
    (cd "$NX_REPO_ROOT" && timeout --foreground --kill-after=30 "$PHASE_TIMEOUT" \
        "$sdk_python" -m pytest -q -p no:cacheprovider conformance/tests "${impl_args[@]}") \
        </dev/null >>"$log" 2>&1
    status=$?
    elapsed=$(($(now_ms) - start))
    # The suite's own closing lines (counts, seed, report) belong in the CI output.
    tail -n 4 "$log" | sed 's/^/    | /' >&2

    # The suite prints the report it wrote; `latest.jsonl` may belong to a parallel run.
    report="$(sed -n 's/^ *report: \([^ ]*\.jsonl\).*/\1/p' "$log" | tail -n 1)"
    local -a verdicts=() details=()
    for i in "${!CONF_IMPLS[@]}"; do
        verdict=""
        if [[ -n "$report" && -f "$report" ]]; then
            verdict="$(conformance_verdicts "$report" "${CONF_IMPLS[$i]}" 2>>"$log")"
        fi
        if [[ -z "$verdict" ]]; then
            verdicts+=(failed)
            details+=("exit $status and no readable report"$'\n'"$(tail -n 25 "$log")")
            continue
        fi
        IFS=$'\t' read -r _ verdict detail <<<"$verdict"
        verdicts+=("$verdict") details+=("$detail")
    done

    # pytest failing while the report blames nobody (a crash in the suite itself): then
    # nobody may pass.
    if ((status != 0)) && [[ " ${verdicts[*]} " != *" failed "* ]]; then
        for i in "${!verdicts[@]}"; do
            [[ "${verdicts[$i]}" == passed ]] && verdicts[i]=failed
            details[i]="pytest exit $status; ${details[$i]}"$'\n'"$(tail -n 25 "$log")"
        done
    fi

    for i in "${!CONF_IMPLS[@]}"; do
        record "${CONF_EXAMPLES[$i]}" "${CONF_LANGUAGES[$i]}" conformance "${verdicts[$i]}" \
            "$elapsed" "${details[$i]}" "$log"
    done
}

run_language() {
    local example="$1" language="$2" dir="$3" status="$4" reason="$5" impl="$6"
    local build_cmd="$7" test_cmd="$8" missing built=0

    if [[ "$status" == planned ]]; then
        skip_phases "$example" "$language" "planned in the manifest${reason:+: $reason}"
        return
    fi
    missing="$(missing_toolchain "$language")"
    if [[ -n "$missing" ]]; then
        skip_phases "$example" "$language" "toolchain missing: $missing"
        return
    fi
    if [[ ! -d "$dir" ]]; then
        record "$example" "$language" build failed 0 "the manifest lists $dir, which does not exist"
        return
    fi

    if nx_split_words "$build_cmd" && resolve_command "${NX_WORDS[@]}"; then
        run_phase "$example" "$language" build "$dir" "${RESOLVED[@]}" && built=1
    else
        record "$example" "$language" build failed 0 "the manifest has no build command"
    fi

    if ((run_tests)); then
        if ((!built)); then
            record "$example" "$language" test skipped 0 "the build failed"
        elif [[ "$language" == bash ]] && ! missing="$(ensure_bats)"; then
            record "$example" "$language" test skipped 0 "toolchain missing: $missing"
        else
            if nx_split_words "$test_cmd" && resolve_command "${NX_WORDS[@]}"; then
                run_phase "$example" "$language" test "$dir" "${RESOLVED[@]}"
            else
                record "$example" "$language" test failed 0 "the manifest has no test command"
            fi
            [[ "$language" == python ]] && run_unit_tests "$example"
        fi
    fi

    if ((run_conformance)); then
        if ((built)); then
            run_conformance_for "$example" "$language" "$impl"
        else
            record "$example" "$language" conformance skipped 0 "the build failed"
        fi
    fi
}

# --- the manifest ----------------------------------------------------------------------

# Prints one NUL-separated record of 9 fields per example and language:
# id, language, folder, status, status reason, conformance impl, build, test, run
# (commands as shell words, so that nx_split_words gives back the exact argv).
read_manifest() {
    "$(nx_python)" - "$manifest" "$NX_REPO_ROOT" <<'PY'
import json, os, shlex, sys

manifest_path, root = sys.argv[1:]
with open(manifest_path, encoding="utf-8") as handle:
    manifest = json.load(handle)

for example in manifest.get("examples", []):
    base = os.path.join(root, example.get("path", example["id"]))
    for language, spec in example.get("languages", {}).items():
        fields = [
            example["id"],
            language,
            os.path.join(base, spec.get("path", language)),
            spec.get("status", "available"),
            spec.get("status_reason", ""),
            spec.get("conformance_impl", ""),
            shlex.join(spec.get("build", [])),
            shlex.join(spec.get("test", [])),
            shlex.join(spec.get("run", [])),
        ]
        sys.stdout.write("".join(field + "\0" for field in fields))
PY
}

run_manifest() {
    local -a fields=()
    local field records="$log_dir/manifest.records"

    read_manifest >"$records" || nx_die "$NX_EXIT_USAGE" "cannot read the manifest $manifest"

    while IFS= read -r -d '' field; do
        fields+=("$field")
        if ((${#fields[@]} == 9)); then
            if { [[ -z "$only_example" || "${fields[0]}" == "$only_example" ]]; } &&
                wants_language "${fields[1]}"; then
                run_language "${fields[0]}" "${fields[1]}" "${fields[2]}" "${fields[3]}" \
                    "${fields[4]}" "${fields[5]}" "${fields[6]}" "${fields[7]}"
            fi
            fields=()
        fi
    done <"$records"
}

# --- summary ---------------------------------------------------------------------------

# Prints the summary (JSON or a table) and returns the exit status.
summarize() {
    local -a flat=()
    local i

    for i in "${!R_STATUS[@]}"; do
        flat+=("${R_EXAMPLE[$i]}" "${R_LANGUAGE[$i]}" "${R_PHASE[$i]}" "${R_STATUS[$i]}"
            "${R_MS[$i]}" "${R_DETAIL[$i]}" "${R_LOG[$i]}")
    done

    "$(nx_python)" - "$json_output" "$sdk_dir" "$log_dir" "${flat[@]}" <<'PY'
import json, sys

as_json, sdk_dir, log_dir, *flat = sys.argv[1:]
keys = ("example", "lang", "phase", "status", "ms", "detail", "log")
results = [dict(zip(keys, flat[i : i + 7])) for i in range(0, len(flat), 7)]
for result in results:
    result["ms"] = int(result["ms"])

counts = {s: sum(r["status"] == s for r in results) for s in ("passed", "failed", "skipped")}
# "ok" needs at least one real pass: an all-skipped run proves nothing.
if counts["failed"]:
    status = "failed"
elif counts["passed"]:
    status = "passed"
else:
    status = "skipped"
summary = {"ok": status == "passed", "status": status, "counts": counts,
           "sdk_dir": sdk_dir or None, "log_dir": log_dir, "results": results}

if as_json == "1":
    print(json.dumps(summary, indent=2))
else:
    # "WORD: N passed, N failed, N skipped" is the closing line CI systems read.
    print(f"{status}: {counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['skipped']} skipped")
    if status == "skipped":
        print("nothing ran: every phase was skipped")
    print(f"logs: {log_dir}")
sys.exit({"passed": 0, "failed": 1, "skipped": 3}[status])
PY
}

main() {
    parse_args "$@"

    if needs_sdk; then
        check_sdk
        export_sdk_env
    fi

    log_dir="${log_dir:-$(mktemp -d "${TMPDIR:-/tmp}/test-examples.XXXXXX")}"
    mkdir -p "$log_dir" && log_dir="$(cd "$log_dir" && pwd -P)"

    run_manifest
    run_conformance_suite
    summarize
}

main "$@"
