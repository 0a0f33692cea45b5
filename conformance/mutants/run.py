#!/usr/bin/env python3
"""Prove the conformance suite has teeth: run it against deliberately broken references.

Each ``conformance/mutants/<id>.json`` describes one real fault as text patches against
``python/src/token_budget/``. For every mutant this script copies ``python/src`` and the
conformance suite into a private temporary folder, applies the patches there, and runs
the suite against the patched copy as the ``python`` implementation (the same command,
``{python} -m token_budget``, with PYTHONPATH pointing at the copy, so the installed
reference and the shared ``conformance/reports`` stay untouched).

A mutant is CAUGHT when at least one check fails (fail, error or timeout) that the
honest reference passes. The run first checks the honest reference with the whole
suite, then each mutant with the checks its ``killed_by`` names, and only when none of
those fails, with the whole suite (stopping at the first failure).

Usage (from the repository root)::

    .venv/bin/python conformance/mutants/run.py            # the whole zoo
    .venv/bin/python conformance/mutants/run.py --only floor-not-ceil --no-baseline
    .venv/bin/python conformance/mutants/run.py --json     # one JSON object on stdout

Exit status: 0 when the honest reference passes and every mutant is caught; 1 when a
mutant survives, is STALE (a ``find`` no longer matches exactly once) or INVALID, or the
honest reference fails; 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import py_compile
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("mutants.run")

HERE = Path(__file__).resolve().parent
CONFORMANCE = HERE.parent
ROOT = CONFORMANCE.parent
PATCHABLE = "python/src/token_budget/"
IMPL = "python"

# The suite's implementation-facing tests; the harness self-tests and the differential
# test (which needs a second implementation) say nothing about a mutant.
TEST_FILES = (
    "tests/test_smoke.py",
    "tests/test_cases.py",
    "tests/test_properties.py",
    "tests/test_paced.py",
)
CATCHING = frozenset({"fail", "error", "timeout"})
COPY_IGNORE = shutil.ignore_patterns(
    "reports", ".hypothesis", "mutants", "__pycache__", ".pytest_cache"
)
DEFAULT_SEED = 20261204
DEFAULT_LIMIT_S = 900.0


class ZooError(Exception):
    """Base of this runner's errors; the message says what to fix."""


class MutantFileError(ZooError):
    """A mutant file is malformed."""


class StaleMutant(ZooError):
    """A patch no longer applies: its ``find`` text does not occur exactly once."""


class InvalidMutant(ZooError):
    """The patched code does not even compile, so it proves nothing."""


# --- mutant files ---------------------------------------------------------------------


@dataclass(frozen=True)
class Patch:
    file: str
    find: str
    replace: str


@dataclass(frozen=True)
class Mutant:
    id: str
    fault: str
    patches: tuple[Patch, ...]
    killed_by: tuple[str, ...]


def load_mutant(path: Path) -> Mutant:
    """Read and validate one mutant file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MutantFileError(f"{path}: cannot read it as JSON: {exc}") from exc

    problems = _problems(data, path)
    if problems:
        raise MutantFileError(f"{path}: " + "; ".join(problems))

    patches = tuple(Patch(p["file"], p["find"], p["replace"]) for p in data["patches"])
    return Mutant(data["id"], data["fault"], patches, tuple(data["killed_by"]))


def _problems(data: Any, path: Path) -> list[str]:
    if not isinstance(data, dict):
        return ["the file must hold one JSON object"]

    problems = []
    if data.get("id") != path.stem:
        problems.append(f"id {data.get('id')!r} must equal the file name {path.stem!r}")
    if not isinstance(data.get("fault"), str) or "\n" in data.get("fault", "\n"):
        problems.append("fault must be one line of text")
    killed = data.get("killed_by")
    if (
        not isinstance(killed, list)
        or not killed
        or not all(isinstance(k, str) and k for k in killed)
    ):
        problems.append("killed_by must be a non-empty list of check names")
    patches = data.get("patches")
    if not isinstance(patches, list) or not patches:
        return [*problems, "patches must be a non-empty list"]
    for n, patch in enumerate(patches):
        if not isinstance(patch, dict) or set(patch) != {"file", "find", "replace"}:
            problems.append(f"patch {n} must have exactly file, find and replace")
            continue
        if not all(isinstance(patch[k], str) for k in patch):
            problems.append(f"patch {n}: file, find and replace must be strings")
        elif not patch["file"].startswith(PATCHABLE) or ".." in patch["file"]:
            problems.append(f"patch {n}: file must be under {PATCHABLE}")
        elif not patch["find"] or patch["find"] == patch["replace"]:
            problems.append(
                f"patch {n}: find must be non-empty and differ from replace"
            )
    return problems


def load_zoo(folder: Path = HERE, only: Sequence[str] = ()) -> list[Mutant]:
    mutants = [load_mutant(p) for p in sorted(folder.glob("*.json"))]
    if only:
        known = {m.id for m in mutants}
        unknown = [o for o in only if o not in known]
        if unknown:
            raise ZooError(f"unknown mutant(s) {', '.join(unknown)}; see {folder}")
        mutants = [m for m in mutants if m.id in only]
    return mutants


# --- sandboxes ------------------------------------------------------------------------


def make_sandbox(prefix: str) -> Path:
    """A private copy of the suite and of the reference's source.

    The suite's ``{root}`` is the folder above ``conformance``, so inside the copy it
    points at the copied ``python/src``; its reports and Hypothesis database stay in
    the copy too.
    """
    box = Path(tempfile.mkdtemp(prefix=f"tb-mutant-{prefix}-"))
    shutil.copytree(CONFORMANCE, box / "conformance", ignore=COPY_IGNORE)
    shutil.copytree(ROOT / "python" / "src", box / "python" / "src", ignore=COPY_IGNORE)
    return box


def apply_patches(box: Path, mutant: Mutant) -> list[str]:
    """Patch the copy in order; return the patched files. Raises StaleMutant."""
    touched = []
    for n, patch in enumerate(mutant.patches):
        target = box / patch.file
        if not target.is_file():
            raise StaleMutant(f"patch {n}: {patch.file} does not exist any more")
        text = target.read_text(encoding="utf-8")
        found = text.count(patch.find)
        if found != 1:
            raise StaleMutant(
                f"patch {n}: the find text occurs {found} times in {patch.file} "
                "(must be exactly once); update the mutant to the current code"
            )
        target.write_text(text.replace(patch.find, patch.replace), encoding="utf-8")
        touched.append(patch.file)

    for name in dict.fromkeys(touched):
        try:
            py_compile.compile(str(box / name), doraise=True)
        except py_compile.PyCompileError as exc:
            raise InvalidMutant(f"{name} does not compile: {exc.msg}") from exc
    return touched


def check_import(box: Path) -> None:
    """Make sure the patched copy, not the installed reference, is what runs."""
    done = subprocess.run(
        [sys.executable, "-c", "import token_budget; print(token_budget.__file__)"],
        cwd=box,
        env=_env(box, {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    where = done.stdout.strip()
    if done.returncode != 0 or not where.startswith(str(box)):
        raise ZooError(
            f"the copy in {box} is not what `python -m token_budget` imports "
            f"(got {where or done.stderr.strip()[-300:]!r}); is PYTHONPATH honoured?"
        )


def _env(box: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TB_IMPLS", "PYTHONPATH")}
    env["PYTHONPATH"] = os.pathsep.join([str(box / "python" / "src"), str(HERE)])
    env["TB_HYPOTHESIS_PROFILE"] = "ci"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


# --- running the suite ----------------------------------------------------------------


@dataclass
class SuiteRun:
    """What one pytest run of the suite said, check by check."""

    argv: list[str]
    exit_code: int | None
    seconds: float
    outcomes: dict[str, str] = field(default_factory=dict)
    findings: dict[str, str] = field(default_factory=dict)
    problem: str | None = None

    def failing(self, ignore: Iterable[str] = ()) -> list[str]:
        ignored = set(ignore)
        return [
            c for c, o in self.outcomes.items() if o in CATCHING and c not in ignored
        ]


def run_suite(
    box: Path,
    *,
    checks: Sequence[str] = (),
    skip: Sequence[str] = (),
    stop_early: bool = False,
    seed: int,
    limit_s: float,
) -> SuiteRun:
    """Run the suite in ``box`` for the python implementation; read its report."""
    argv = [sys.executable, "-m", "pytest", *TEST_FILES, "--impl", IMPL, "-q"]
    argv += ["-p", "no:cacheprovider", "-p", "tb_mutant_select", "--tb=no"]
    argv += [f"--hypothesis-seed={seed}"]
    if stop_early:
        argv.append("-x")
    extra = {"TB_MUTANT_CHECKS": ",".join(checks), "TB_MUTANT_SKIP": ",".join(skip)}

    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=box / "conformance",
        env=_env(box, extra),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=limit_s)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        # Our own pytest and everything it started share one new session.
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        code = None
    run = SuiteRun(argv, code, round(time.monotonic() - started, 1))

    report = box / "conformance" / "reports" / "latest.jsonl"
    if code is None:
        run.problem = f"the suite ran longer than {limit_s:.0f} s and was killed"
    if not report.is_file():
        tail = output.decode("utf-8", "replace")[-1500:]
        run.problem = (
            run.problem or f"the suite wrote no report; its output ends:\n{tail}"
        )
        return run
    _read_report(report, run)
    if code not in (0, 1) and run.problem is None:
        tail = output.decode("utf-8", "replace")[-800:]
        run.problem = f"pytest exited {code} (not a test failure); output ends:\n{tail}"
    return run


def _read_report(path: Path, run: SuiteRun) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("type") != "record" or record.get("impl") != IMPL:
            continue
        check = record["check_id"]
        run.outcomes[check] = record["outcome"]
        findings = record.get("findings") or []
        if findings:
            first = findings[0]
            run.findings[check] = f"{first.get('kind')}: {first.get('message')}"[:240]


# --- verdicts -------------------------------------------------------------------------


@dataclass
class Verdict:
    id: str
    fault: str
    status: str  # CAUGHT, SURVIVED, STALE, INVALID, BROKEN-RUN
    caught_by: list[str] = field(default_factory=list)
    killed_by: list[str] = field(default_factory=list)
    named_caught: list[str] = field(default_factory=list)
    named_missed: list[str] = field(default_factory=list)
    phase: str = ""
    seconds: float = 0.0
    detail: str = ""
    evidence: dict[str, str] = field(default_factory=dict)

    @property
    def caught(self) -> bool:
        return self.status == "CAUGHT"

    @property
    def match(self) -> str:
        if not self.killed_by or self.status != "CAUGHT":
            return "-"
        if "smoke" in self.caught_by:
            # The smoke tier stopped it before any named check could judge it.
            return "smoke"
        if not self.named_caught:
            return "no"
        return "yes" if not self.named_missed else "partly"


def _named(name: str, checks: Iterable[str]) -> bool:
    from tb_mutant_select import matches

    return any(matches(check, [name]) for check in checks)


def judge_mutant(
    mutant: Mutant,
    baseline_failures: Sequence[str],
    seed: int,
    limit_s: float,
    keep: bool,
) -> Verdict:
    verdict = Verdict(
        mutant.id, mutant.fault, "SURVIVED", killed_by=list(mutant.killed_by)
    )
    box = make_sandbox(mutant.id)
    started = time.monotonic()
    try:
        apply_patches(box, mutant)
        check_import(box)
        targeted = run_suite(
            box,
            checks=mutant.killed_by,
            skip=baseline_failures,
            seed=seed,
            limit_s=limit_s,
        )
        _settle(verdict, targeted, baseline_failures, "killed_by")
        if not verdict.caught and targeted.problem is None:
            whole = run_suite(
                box, skip=baseline_failures, stop_early=True, seed=seed, limit_s=limit_s
            )
            _settle(verdict, whole, baseline_failures, "whole suite")
    except StaleMutant as exc:
        verdict.status, verdict.detail = "STALE", str(exc)
    except InvalidMutant as exc:
        verdict.status, verdict.detail = "INVALID", str(exc)
    except ZooError as exc:
        verdict.status, verdict.detail = "BROKEN-RUN", str(exc)
    finally:
        verdict.seconds = round(time.monotonic() - started, 1)
        if keep:
            log.warning("kept the sandbox of %s: %s", mutant.id, box)
        else:
            shutil.rmtree(box, ignore_errors=True)
    return verdict


def _settle(verdict: Verdict, run: SuiteRun, ignore: Sequence[str], phase: str) -> None:
    failing = run.failing(ignore)
    if run.problem is not None and not failing:
        verdict.status, verdict.detail = "BROKEN-RUN", run.problem
        return

    verdict.phase = phase
    if not failing:
        return
    verdict.status = "CAUGHT"
    verdict.caught_by = failing
    verdict.evidence = {c: run.findings.get(c, "") for c in failing[:3]}
    verdict.named_caught = [k for k in verdict.killed_by if _named(k, failing)]
    verdict.named_missed = [
        k for k in verdict.killed_by if k not in verdict.named_caught
    ]


# --- report ---------------------------------------------------------------------------


def _short(checks: Sequence[str], limit: int = 3) -> str:
    if not checks:
        return "-"
    if "smoke" in checks:
        return f"smoke (+{len(checks) - 1} not judged)"
    shown = ", ".join(checks[:limit])
    return shown + (f" (+{len(checks) - limit})" if len(checks) > limit else "")


def table(verdicts: Sequence[Verdict]) -> str:
    rows = [("mutant", "caught", "caught by", "killed_by matched", "fault")]
    for v in verdicts:
        caught = "yes" if v.caught else f"NO ({v.status})"
        by = _short(v.caught_by) if v.caught else (v.detail.splitlines() or ["-"])[0]
        if v.caught and v.phase == "whole suite":
            by += " [whole suite]"
        rows.append((v.id, caught, by, v.match, v.fault))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[i].ljust(widths[i]) for i in range(4)] + [row[4]]
        lines.append(" | ".join(cells).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 5)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="ID",
        help="run only this mutant (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="do not run the honest reference first (faster, less sure)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (2)")
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help=f"Hypothesis seed for every run ({DEFAULT_SEED})",
    )
    parser.add_argument(
        "--limit",
        type=float,
        default=DEFAULT_LIMIT_S,
        help="seconds one suite run may take before it is killed",
    )
    parser.add_argument("--keep", action="store_true", help="keep the sandboxes")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only apply and compile the patches (finds STALE mutants fast)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="mutants: %(message)s", stream=sys.stderr
    )

    try:
        zoo = load_zoo(only=args.only)
    except ZooError as exc:
        sys.stderr.write(f"mutants: {exc}\n")
        return 2

    if args.dry_run:
        return _dry_run(zoo)

    started = time.monotonic()
    baseline = None if args.no_baseline else _baseline(args)
    baseline_failures = baseline.failing() if baseline else []

    log.info("running %d mutants, %d at a time", len(zoo), args.jobs)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        verdicts = list(
            pool.map(
                lambda m: _logged(
                    judge_mutant(m, baseline_failures, args.seed, args.limit, args.keep)
                ),
                zoo,
            )
        )

    honest_ok = baseline is None or (not baseline_failures and baseline.problem is None)
    ok = honest_ok and all(v.caught for v in verdicts)
    elapsed = round(time.monotonic() - started, 1)
    if args.json:
        sys.stdout.write(
            json.dumps(_json(verdicts, baseline, ok, elapsed, args.seed), indent=1)
            + "\n"
        )
    else:
        sys.stdout.write(_text(verdicts, baseline, ok, elapsed, args.seed) + "\n")
    return 0 if ok else 1


def _dry_run(zoo: Sequence[Mutant]) -> int:
    """Apply every mutant's patches to a fresh copy; report the ones that do not."""
    bad = 0
    for mutant in zoo:
        box = make_sandbox(mutant.id)
        try:
            files = apply_patches(box, mutant)
            names = dict.fromkeys(f.rsplit("/", 1)[1] for f in files)
            state = f"applies ({', '.join(names)})"
        except (StaleMutant, InvalidMutant) as exc:
            state, bad = f"{type(exc).__name__}: {exc}", bad + 1
        finally:
            shutil.rmtree(box, ignore_errors=True)
        sys.stdout.write(f"{mutant.id:40} {state}\n")
    return 1 if bad else 0


def _baseline(args: argparse.Namespace) -> SuiteRun:
    log.info("checking the honest reference with the whole suite")
    box = make_sandbox("honest")
    try:
        check_import(box)
        run = run_suite(box, seed=args.seed, limit_s=args.limit)
    finally:
        shutil.rmtree(box, ignore_errors=True)
    passed = sum(1 for o in run.outcomes.values() if o == "pass")
    log.info(
        "honest reference: %d checks, %d pass, failing: %s (%.0f s)",
        len(run.outcomes),
        passed,
        run.failing() or "none",
        run.seconds,
    )
    return run


def _logged(verdict: Verdict) -> Verdict:
    log.info(
        "%-40s %s in %.0f s%s",
        verdict.id,
        verdict.status,
        verdict.seconds,
        f" by {_short(verdict.caught_by)}" if verdict.caught else "",
    )
    return verdict


def _text(
    verdicts: Sequence[Verdict],
    baseline: SuiteRun | None,
    ok: bool,
    elapsed: float,
    seed: int,
) -> str:
    caught = sum(v.caught for v in verdicts)
    lines = [table(verdicts), ""]
    if baseline is None:
        lines.append("honest reference: not run (--no-baseline)")
    else:
        failing = baseline.failing()
        state = "passes" if not failing and baseline.problem is None else "FAILS"
        lines.append(
            f"honest reference: {state} ({len(baseline.outcomes)} checks, "
            f"failing: {', '.join(failing) or 'none'})"
        )
        if baseline.problem:
            lines.append(f"  problem: {baseline.problem}")
    for v in verdicts:
        if v.status != "CAUGHT" and v.detail:
            lines.append(f"{v.id}: {v.status}: {v.detail}")
        elif v.status != "CAUGHT":
            lines.append(
                f"{v.id}: SURVIVED the whole suite: a suite gap "
                f"(killed_by named {', '.join(v.killed_by)})"
            )
    lines.append(
        f"{caught}/{len(verdicts)} mutants caught in {elapsed:.0f} s "
        f"(Hypothesis seed {seed}): {'OK' if ok else 'FAILED'}"
    )
    return "\n".join(lines)


def _json(
    verdicts: Sequence[Verdict],
    baseline: SuiteRun | None,
    ok: bool,
    elapsed: float,
    seed: int,
) -> dict[str, Any]:
    return {
        "ok": ok,
        "seconds": elapsed,
        "seed": seed,
        "baseline": None
        if baseline is None
        else {
            "checks": len(baseline.outcomes),
            "failing": baseline.failing(),
            "problem": baseline.problem,
            "seconds": baseline.seconds,
        },
        "mutants": [
            {**asdict(v), "caught": v.caught, "match": v.match} for v in verdicts
        ],
    }


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
