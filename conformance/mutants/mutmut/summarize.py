#!/usr/bin/env python3
"""Summarize a mutmut 3 run: counts per module and the surviving mutants.

    summarize.py WORKDIR [RUN_EXIT_STATUS]

Reads ``WORKDIR/results.txt`` (the output of ``mutmut results --all true``), asks
``mutmut show`` for the diff of every survivor, writes ``WORKDIR/summary.json`` and
prints a Markdown summary ready to paste into ``conformance/mutants/README.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

_LINE = re.compile(r"^\s+(?P<key>\S+): (?P<status>.+)$")
_SURVIVING = ("survived", "no tests")


def parse_results(text: str) -> list[tuple[str, str]]:
    """(mutant name, status) for every line of ``mutmut results --all true``."""
    found = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            found.append((match["key"], match["status"].strip()))
    return found


def module_of(key: str) -> str:
    # Names look like token_budget.budget.x__run__mutmut_12 (classes: xǁClassǁmethod).
    head = key.split("__mutmut_")[0]
    parts = head.split(".")
    return ".".join(p for p in parts if not p.startswith("x"))


def changed_lines(work: Path, key: str) -> str:
    """The mutated line(s) of one mutant, from ``mutmut show``."""
    mutmut = Path(sys.executable).parent / "mutmut"
    done = subprocess.run(
        [str(mutmut), "show", key],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    minus = [
        ln[1:].strip()
        for ln in done.stdout.splitlines()
        if ln.startswith("-") and not ln.startswith("---")
    ]
    plus = [
        ln[1:].strip()
        for ln in done.stdout.splitlines()
        if ln.startswith("+") and not ln.startswith("+++")
    ]
    if not minus and not plus:
        return "(no diff available)"
    return f"`{' / '.join(minus)[:110]}` -> `{' / '.join(plus)[:110]}`"


def summarize(work: Path, run_status: int | None) -> dict[str, Any]:
    results = parse_results((work / "results.txt").read_text(encoding="utf-8"))
    totals = Counter(status for _, status in results)
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for key, status in results:
        by_module[module_of(key)][status] += 1

    survivors = [key for key, status in results if status in _SURVIVING]
    return {
        "date": dt.date.today().isoformat(),
        "run_exit_status": run_status,
        "stopped_at_time_limit": run_status == 124,
        "totals": dict(totals),
        "by_module": {m: dict(c) for m, c in sorted(by_module.items())},
        "survivors": {key: changed_lines(work, key) for key in survivors},
    }


def markdown(summary: dict[str, Any]) -> str:
    totals = summary["totals"]
    done = sum(v for k, v in totals.items() if k != "not checked")
    killed = totals.get("killed", 0)
    statuses = sorted({s for c in summary["by_module"].values() for s in c})
    lines = [
        f"mutmut run of {summary['date']}: {sum(totals.values())} mutants, "
        f"{done} checked, {killed} killed"
        + (f" ({100 * killed / done:.1f} % of those checked)" if done else "")
        + (", stopped at the time limit" if summary["stopped_at_time_limit"] else ""),
        "",
        "| module | " + " | ".join(statuses) + " |",
        "| --- | " + " | ".join("---" for _ in statuses) + " |",
    ]
    for module, counts in summary["by_module"].items():
        lines.append(
            f"| {module} | "
            + " | ".join(str(counts.get(s, 0)) for s in statuses)
            + " |"
        )
    lines += ["", "Surviving mutants:", ""]
    for key, change in summary["survivors"].items():
        lines.append(f"- `{key}`: {change}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: summarize.py WORKDIR [RUN_EXIT_STATUS]\n")
        return 2
    work = Path(argv[0])
    status = int(argv[1]) if len(argv) > 1 else None
    summary = summarize(work, status)
    (work / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    sys.stdout.write(markdown(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
