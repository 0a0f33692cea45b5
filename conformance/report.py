"""Render a conformance report: ``python conformance/report.py latest --markdown``.

REPORT is a path to a ``.jsonl`` report or ``latest`` (``conformance/reports/latest.jsonl``).
Prints the summary line; ``--markdown`` prints (or ``--markdown FILE`` writes) the
matrix, ``--junit FILE`` writes JUnit XML. Exits 1 when the report holds unexpected
results (fail, error, timeout, harness-error) or has no footer, 2 when it cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.errors import ReportError
from harness.reports import (
    REPORTS_DIR,
    load_report,
    render_junit,
    render_markdown,
    summary_line,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="report.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("report", nargs="?", default="latest", help="path or 'latest'")
    parser.add_argument("--markdown", nargs="?", const="-", metavar="FILE")
    parser.add_argument("--junit", metavar="FILE")
    args = parser.parse_args(argv)

    path = (
        REPORTS_DIR / "latest.jsonl" if args.report == "latest" else Path(args.report)
    )
    try:
        report = load_report(path)
    except ReportError as exc:
        sys.stderr.write(f"report.py: {exc}\n")
        return 2

    if args.markdown == "-":
        sys.stdout.write(render_markdown(report))
    elif args.markdown:
        Path(args.markdown).write_text(render_markdown(report), encoding="utf-8")
    if args.junit:
        Path(args.junit).write_bytes(render_junit(report))

    if report.footer is None:
        sys.stderr.write(f"report.py: {path} has no footer: the run did not finish\n")
        return 1
    sys.stderr.write(summary_line(report.footer.get("counts", {})) + "\n")
    return 1 if report.unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
