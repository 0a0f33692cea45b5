"""JSON Lines reports of a conformance run, and their Markdown and JUnit renderings.

A report is one header line, one line per implementation x check, and one footer line
(schema: ``conformance/schema/report.schema.json``). Every run writes
``conformance/reports/<timestamp>.jsonl`` and copies it to ``latest.jsonl``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from xml.etree import ElementTree as ET

from . import HARNESS_VERSION
from .errors import ReportError
from .judge import UNEXPECTED, Finding, Outcome
from .registry import CONFORMANCE_DIR
from .runner import RunResult

log = logging.getLogger("harness.reports")

REPORTS_DIR = CONFORMANCE_DIR / "reports"
REPORT_VERSION = 1
SUITE = "token-budget-conformance"
_TEXT_LIMIT = 4000


def host_info() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clip(data: bytes | str) -> str:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "...[clipped]"


def timeline(run: RunResult, crossing_write: int | None = None) -> dict[str, Any]:
    """The exchange in seconds since the process started (lesson 5)."""
    t0 = run.t_start

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - t0, 4)

    connections = []
    record = run.record
    for conn in getattr(record, "connections", []):
        connections.append(
            {
                "method": conn.method,
                "path": conn.path,
                "t_request": rel(conn.t_request),
                "writes": [[w.index, rel(w.t), w.nbytes, w.ok] for w in conn.writes],
                "disconnected_at": rel(conn.disconnected_at),
                "finished": conn.finished,
                "errors": list(conn.errors),
            }
        )
    return {
        "t_first_stdout": rel(run.t_first_stdout),
        "t_exit": rel(run.t_exit),
        "crossing_write": crossing_write,
        "requests": getattr(record, "requests", None),
        "connections": connections,
    }


def run_record(
    *,
    impl: str,
    check_id: str,
    kind: str,
    outcome: Outcome,
    findings: Iterable[Finding],
    run: RunResult | None = None,
    inputs: Mapping[str, Any] | None = None,
    expectation: Mapping[str, Any] | None = None,
    crossing_write: int | None = None,
    expected_reason: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One report line for one implementation x check."""
    record: dict[str, Any] = {
        "type": "record",
        "impl": impl,
        "check_id": check_id,
        "kind": kind,
        "outcome": outcome.value,
        "findings": [{"kind": f.kind, "message": f.message} for f in findings],
        "expected_reason": expected_reason,
        "inputs": dict(inputs or {}),
        "expectation": dict(expectation or {}),
        "observed": None,
        "timeline": None,
        "repro": None,
    }
    if run is not None:
        record["inputs"].setdefault("argv", run.argv)
        record["inputs"].setdefault("env", run.env_set)
        record["observed"] = {
            "exit_code": run.exit_code,
            "timed_out": run.timed_out,
            "duration_s": round(run.duration_s, 4),
            "result": run.result,
            "stdout": _clip(run.stdout) if run.result is None else None,
            "stderr": _clip(run.stderr),
        }
        record["timeline"] = timeline(run, crossing_write)
        record["repro"] = run.repro
    if extra:
        record["extra"] = dict(extra)
    return record


@dataclass
class ReportWriter:
    """Writes one run's report as it goes, so a crashed run still leaves its lines."""

    folder: Path = REPORTS_DIR
    path: Path | None = None
    counts: Counter[str] = field(default_factory=Counter)
    by_impl: dict[str, Counter[str]] = field(default_factory=dict)
    _out: TextIO | None = None
    _started: float = 0.0

    def open(self, header: Mapping[str, Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.path = self.folder / f"{stamp}.jsonl"
        self._out = self.path.open("w", encoding="utf-8")
        self._started = time.monotonic()
        line = {
            "type": "header",
            "suite": SUITE,
            "report_version": REPORT_VERSION,
            "harness_version": HARNESS_VERSION,
            "started_at": _utc_now(),
            "host": host_info(),
            **header,
        }
        self._write(line)
        return self.path

    def add(self, record: Mapping[str, Any]) -> None:
        self.counts[record["outcome"]] += 1
        self.by_impl.setdefault(record["impl"], Counter())[record["outcome"]] += 1
        self._write(record)

    def close(self, stopped_early: bool = False) -> Path | None:
        if self._out is None or self.path is None:
            return None

        self._write(
            {
                "type": "footer",
                "finished_at": _utc_now(),
                "duration_s": round(time.monotonic() - self._started, 3),
                "counts": dict(self.counts),
                "by_impl": {k: dict(v) for k, v in self.by_impl.items()},
                "unexpected": sum(self.counts[o.value] for o in UNEXPECTED),
                "stopped_early": stopped_early,
            }
        )
        self._out.close()
        self._out = None
        shutil.copyfile(self.path, self.folder / "latest.jsonl")
        return self.path

    def _write(self, line: Mapping[str, Any]) -> None:
        assert self._out is not None, "ReportWriter.open() first"
        self._out.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        self._out.flush()


def summary_line(counts: Mapping[str, int]) -> str:
    """The line printed after every run; a skip is never counted as a pass."""
    unexpected = sum(counts.get(o.value, 0) for o in UNEXPECTED)
    return (
        f"{counts.get('pass', 0)} passed / {counts.get('expected-fail', 0)} expected-fail"
        f" / {counts.get('not-applicable', 0)} not-applicable"
        f" / {counts.get('unavailable', 0)} unavailable"
        f" / {unexpected} unexpected (fail {counts.get('fail', 0)}, error "
        f"{counts.get('error', 0)}, timeout {counts.get('timeout', 0)}, harness-error "
        f"{counts.get('harness-error', 0)})"
    )


# --- reading and rendering -----------------------------------------------------------


@dataclass
class Report:
    header: dict[str, Any]
    records: list[dict[str, Any]]
    footer: dict[str, Any] | None

    @property
    def unexpected(self) -> list[dict[str, Any]]:
        bad = {o.value for o in UNEXPECTED}
        return [r for r in self.records if r["outcome"] in bad]


def load_report(path: Path) -> Report:
    try:
        lines = [
            json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln
        ]
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read report {path}: {exc}") from exc

    if not lines or lines[0].get("type") != "header":
        raise ReportError(f"{path} does not start with a report header line")
    records = [ln for ln in lines if ln.get("type") == "record"]
    footer = lines[-1] if lines[-1].get("type") == "footer" else None
    return Report(lines[0], records, footer)


_CELL = {
    "pass": "🟩 pass",
    "fail": "🟥 fail",
    "error": "🟧 error",
    "timeout": "🟪 timeout",
    "harness-error": "🟫 harness",
    "expected-fail": "🟨 xfail",
    "not-applicable": "⬜ n/a",
    "unavailable": "⬛ unavail",
}

_LEGEND = (
    "Legend: 🟩 pass: matches the contract; 🟥 fail: wrong behaviour; 🟧 error: broke the "
    "CLI contract (crash, invalid JSON, schema, exit code, stderr, cross-talk); 🟪 "
    "timeout: killed at the wall-clock limit; 🟫 harness: the referee or the case is at "
    "fault, nothing is known about the implementation; 🟨 xfail: a listed known failure; "
    "⬜ n/a: capability or provider not claimed in --describe; ⬛ unavail: the "
    "implementation could not be run here."
)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    """A matrix of checks x implementations, coloured by outcome, then the failures."""
    impls = sorted({r["impl"] for r in report.records})
    checks = sorted({r["check_id"] for r in report.records})
    cell: dict[tuple[str, str], str] = {}
    for r in report.records:
        cell[(r["check_id"], r["impl"])] = _CELL.get(r["outcome"], r["outcome"])

    head = report.header
    digest = str(head.get("cases_sha256"))[:16]
    seed = (head.get("hypothesis") or {}).get("seed")
    title = f"{head.get('suite')}, contract v{head.get('contract_version')}"
    out = [
        f"# Conformance report ({title})",
        "",
        f"Started {head.get('started_at')}, cases sha256 `{digest}`, seed `{seed}`.",
        "",
    ]
    if report.footer:
        out += [f"**{summary_line(report.footer.get('counts', {}))}**", ""]
    out += [_LEGEND, ""]
    out.append("| check | " + " | ".join(impls) + " |")
    out.append("| --- | " + " | ".join("---" for _ in impls) + " |")
    for check in checks:
        row = [cell.get((check, i), "") for i in impls]
        out.append(f"| `{check}` | " + " | ".join(row) + " |")

    if report.unexpected:
        out += ["", "## Unexpected results", ""]
        for r in report.unexpected:
            out.append(f"### {r['impl']} / `{r['check_id']}`: {r['outcome']}")
            out += [
                f"- {_md_escape(f['kind'])}: {_md_escape(f['message'])}"
                for f in r["findings"]
            ]
            if r.get("repro"):
                out += ["", "```sh", r["repro"], "```"]
            out.append("")
    return "\n".join(out) + "\n"


def render_junit(report: Report) -> bytes:
    """JUnit XML: one testsuite per implementation, one testcase per check."""
    root = ET.Element("testsuites", name=str(report.header.get("suite")))
    for impl in sorted({r["impl"] for r in report.records}):
        mine = [r for r in report.records if r["impl"] == impl]
        suite = ET.SubElement(root, "testsuite", name=impl, tests=str(len(mine)))
        counts = Counter(r["outcome"] for r in mine)
        suite.set("failures", str(counts["fail"]))
        suite.set(
            "errors", str(counts["error"] + counts["timeout"] + counts["harness-error"])
        )
        suite.set(
            "skipped",
            str(
                counts["expected-fail"]
                + counts["not-applicable"]
                + counts["unavailable"]
            ),
        )
        for r in mine:
            _junit_case(suite, impl, r)
    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml


def _junit_case(suite: ET.Element, impl: str, r: Mapping[str, Any]) -> None:
    duration = (r.get("observed") or {}).get("duration_s") or 0
    case = ET.SubElement(
        suite, "testcase", classname=impl, name=r["check_id"], time=str(duration)
    )
    text = "\n".join(f"[{f['kind']}] {f['message']}" for f in r["findings"])
    if r.get("repro"):
        text += f"\nrepro: {r['repro']}"
    outcome = r["outcome"]
    if outcome == "fail":
        ET.SubElement(case, "failure", message=outcome).text = text
    elif outcome in ("error", "timeout", "harness-error"):
        ET.SubElement(case, "error", message=outcome).text = text
    elif outcome in ("expected-fail", "not-applicable", "unavailable"):
        reason = r.get("expected_reason") or text or outcome
        ET.SubElement(case, "skipped", message=f"{outcome}: {reason}")
