"""Check the case files of conformance/cases/ (and write their catalogue).

    python conformance/check_cases.py                     # exit 1 and one line per problem
    python conformance/check_cases.py --write-catalogue   # regenerate cases/README.md

What is checked, so that a broken case is caught before any implementation sees it:

* every case is valid against ``schema/case.schema.json``, its file name equals its id,
  and ids are unique;
* every server section builds a referee Script, and every well-formed frame passes the
  referee's dialect self-check (a case marks malformed bytes with ``"raw": true``);
* the ``expect`` section agrees with itself and with SPEC.md's arithmetic (exit code and
  end, the ratio estimate of ``counted_chars``, usage totals, the cost basis ...);
* ``cases/index.json`` lists every case exactly once under its source, every listed
  case exists, and every bug report the index names has at least one case;
* ``cases/README.md`` is exactly what ``--write-catalogue`` would write.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

CONFORMANCE = Path(__file__).resolve().parent
if str(CONFORMANCE) not in sys.path:
    sys.path.insert(0, str(CONFORMANCE))

from oracle import ratio_estimate
from referee import ScriptError, dialects, scripts_for_case

CASES_DIR = CONFORMANCE / "cases"
SCHEMA_PATH = CONFORMANCE / "schema" / "case.schema.json"
EXIT_FOR_END = {"complete": 0, "budget": 0, "error": 1, "truncated": 1}
DEFAULT_PROMPT = (
    "Explain in a few paragraphs why streaming answers need a token budget."
)


@dataclass
class Report:
    """Problems found, one readable line each, tagged with the file they are about."""

    problems: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


@dataclass(frozen=True)
class LoadedCase:
    path: Path
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data.get("id", self.path.stem))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check the conformance case files.")
    parser.add_argument(
        "--cases", type=Path, default=CASES_DIR, help="folder of case files"
    )
    parser.add_argument(
        "--write-catalogue", action="store_true", help="regenerate <cases>/README.md"
    )
    args = parser.parse_args(argv)

    report = Report()
    cases = load_cases(args.cases, report)
    if args.write_catalogue:
        (args.cases / "README.md").write_text(
            catalogue(cases, args.cases), encoding="utf-8"
        )

    check_all(cases, args.cases, report)
    for line in report.problems:
        print(line)

    status = "ok" if not report.problems else f"{len(report.problems)} problem(s)"
    print(f"check_cases: {len(cases)} case(s), {status}", file=sys.stderr)
    return 1 if report.problems else 0


def load_cases(folder: Path, report: Report) -> list[LoadedCase]:
    """Every ``*.json`` except index.json, parsed; unparsable files become problems."""
    cases = []
    for path in sorted(folder.glob("*.json")):
        if path.name == "index.json":
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            report.add(path.name, f"not valid JSON: {exc}")
            continue
        if not isinstance(data, dict):
            report.add(path.name, "a case must be a JSON object")
            continue
        cases.append(LoadedCase(path, data))
    return cases


def check_all(cases: list[LoadedCase], folder: Path, report: Report) -> None:
    validator = _validator(report)
    seen: dict[str, str] = {}
    for case in cases:
        name = case.path.name
        if validator is not None:
            for error in sorted(
                validator.iter_errors(case.data), key=lambda e: list(e.path)
            ):
                where = "/".join(str(p) for p in error.absolute_path)
                report.add(name, f"schema: {_short(error.message)} (at /{where})")

        if case.id != case.path.stem:
            report.add(
                name, f"id {case.id!r} must equal the file name {case.path.stem!r}"
            )
        if case.id in seen:
            report.add(name, f"id {case.id!r} is also used by {seen[case.id]}")
        seen.setdefault(case.id, name)

        for message in check_server(case.data):
            report.add(name, message)
        for message in check_expect(case.data):
            report.add(name, message)

    check_index(cases, folder, report)
    check_catalogue(cases, folder, report)


def _validator(report: Report) -> jsonschema.Draft202012Validator | None:
    try:
        schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as exc:
        report.add(SCHEMA_PATH.name, f"unusable schema: {exc}")
        return None
    return jsonschema.Draft202012Validator(schema)


# -- server sections ----------------------------------------------------------------


def check_server(case: Mapping[str, Any]) -> Iterator[str]:
    """The server section builds Scripts whose frames pass the dialect self-check."""
    try:
        scripts = scripts_for_case(case)
    except (ScriptError, TypeError, ValueError, KeyError) as exc:
        yield f"server: cannot build a script: {exc}"
        return

    for number, script in enumerate(scripts):
        where = (
            f"server[{number}]" if isinstance(case.get("server"), list) else "server"
        )
        if script.dialect is None or script.raw or not 200 <= script.status < 300:
            continue
        if not dialects.media_type_matches(
            script.dialect, script.header("Content-Type")
        ):
            continue
        for problem in dialects.check_body(script.dialect, script.body):
            yield f"{where}: self-check: {problem} (mark the server raw if on purpose)"

    # Our CLI makes one request, so the crossing write is one of the first script's.
    crossing = case.get("crossing_write")
    if crossing is not None and scripts and crossing >= len(scripts[0].writes):
        yield f"crossing_write {crossing} is past the last write ({len(scripts[0].writes)})"


# -- expect sections ----------------------------------------------------------------


def check_expect(case: Mapping[str, Any]) -> Iterator[str]:
    """The expectations agree with each other and with SPEC.md's arithmetic."""
    expect = case.get("expect")
    client = case.get("client")
    if not isinstance(expect, Mapping) or not isinstance(client, Mapping):
        return

    yield from _check_end(expect, case)
    yield from _check_counts(expect, client)
    yield from _check_usage_and_cost(expect, client)
    yield from _check_wire(expect, client, case)


def _check_end(expect: Mapping[str, Any], case: Mapping[str, Any]) -> Iterator[str]:
    end = expect.get("end")
    wanted_exit = EXIT_FOR_END.get(str(end))
    if wanted_exit is not None and expect.get("exit_code") != wanted_exit:
        yield f"expect: end {end!r} needs exit_code {wanted_exit} (SPEC 8)"

    if "budget_reached" in expect and expect["budget_reached"] != (end == "budget"):
        yield "expect: budget_reached must be true exactly when end is budget"

    if "error_kind" in expect:
        kind = expect["error_kind"]
        if (kind is None) != (end in ("complete", "budget")):
            yield f"expect: error_kind {kind!r} does not fit end {end!r} (SPEC 6)"
        if (kind == "truncated") != (end == "truncated"):
            yield "expect: error_kind truncated goes with end truncated and only with it"

    if "crossing_write" in case and end != "budget":
        yield "crossing_write only makes sense when end is budget"


def _ratio(client: Mapping[str, Any]) -> float:
    return float(client.get("chars_per_token", 4))


def _check_counts(
    expect: Mapping[str, Any], client: Mapping[str, Any]
) -> Iterator[str]:
    chars = expect.get("counted_chars")
    tokens = expect.get("estimated_tokens")
    exact = client.get("estimator") == "exact"
    if isinstance(chars, int) and isinstance(tokens, int) and not exact:
        wanted = ratio_estimate(chars, _ratio(client))
        if tokens != wanted:
            yield (
                f"expect: estimated_tokens {tokens} but ratio_estimate({chars}, "
                f"{_ratio(client)}) is {wanted} (SPEC 3)"
            )

    budget = client.get("budget", 100)
    if isinstance(tokens, int) and "end" in expect:
        if expect["end"] == "budget" and tokens < budget:
            yield f"expect: end budget needs estimated_tokens >= budget {budget}"
        if expect["end"] != "budget" and tokens >= budget:
            yield f"expect: estimated_tokens {tokens} >= budget {budget} must end budget"

    content = expect.get("content")
    if isinstance(content, str) and isinstance(chars, int) and len(content) > chars:
        yield "expect: content has more code points than counted_chars"

    chunks = expect.get("chunks")
    if (
        isinstance(chunks, int)
        and isinstance(chars, int)
        and (chunks > chars or (chunks == 0) != (chars == 0))
    ):
        yield f"expect: {chunks} chunk(s) cannot hold {chars} counted character(s)"


def _check_usage_and_cost(
    expect: Mapping[str, Any], client: Mapping[str, Any]
) -> Iterator[str]:
    usage = expect.get("usage")
    prompt_tokens = completion_tokens = None
    if isinstance(usage, Mapping):
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        both = isinstance(prompt_tokens, int) and isinstance(completion_tokens, int)
        wanted_total = prompt_tokens + completion_tokens if both else None  # type: ignore[operator]
        if usage.get("total_tokens") != wanted_total:
            yield f"expect: usage.total_tokens must be {wanted_total} (SPEC 6.1)"

    basis = expect.get("cost_basis")
    if basis is None:
        return

    reported = sum(isinstance(v, int) for v in (prompt_tokens, completion_tokens))
    if basis != "none" and "usage" in expect:
        wanted_basis = {2: "provider", 1: "partial", 0: "estimate"}[reported]
        if basis != wanted_basis:
            yield f"expect: cost_basis {basis!r} but the usage gives {wanted_basis!r} (6.3)"

    if basis == "none":
        yield from _check_no_cost(expect)
        return

    prompt = str(client.get("prompt", DEFAULT_PROMPT))
    wanted_prompt = prompt_tokens if isinstance(prompt_tokens, int) else None
    if wanted_prompt is None and client.get("estimator") != "exact":
        wanted_prompt = ratio_estimate(len(prompt), _ratio(client))
    got_prompt = expect.get("cost_prompt_tokens")
    if (
        got_prompt is not None
        and wanted_prompt is not None
        and got_prompt != wanted_prompt
    ):
        yield f"expect: cost_prompt_tokens {got_prompt}, SPEC 6.3 gives {wanted_prompt}"

    wanted_completion = completion_tokens
    if not isinstance(wanted_completion, int):
        wanted_completion = expect.get("estimated_tokens")
    got_completion = expect.get("cost_completion_tokens")
    if (
        got_completion not in (None, wanted_completion)
        and wanted_completion is not None
    ):
        yield (
            f"expect: cost_completion_tokens {got_completion}, "
            f"SPEC 6.3 gives {wanted_completion}"
        )


def _check_no_cost(expect: Mapping[str, Any]) -> Iterator[str]:
    if expect.get("end") != "error":
        yield "expect: cost_basis none only fits an error before the stream"
    for key in ("cost_prompt_tokens", "cost_completion_tokens", "counted_chars"):
        if expect.get(key, 0) != 0:
            yield f"expect: cost_basis none needs {key} 0"
    if expect.get("usage") is not None:
        yield "expect: cost_basis none needs usage null"


def _check_wire(
    expect: Mapping[str, Any], client: Mapping[str, Any], case: Mapping[str, Any]
) -> Iterator[str]:
    if expect.get("disconnect") == "early" and expect.get("end") not in (
        "budget",
        "error",
    ):
        yield "expect: an early disconnect needs end budget (or a client-side error)"

    literal_url = client.get("base_url", "referee") != "referee"
    if literal_url and expect.get("requests", 0) != 0:
        yield "expect: with a literal base_url the referee sees no request (requests 0)"

    lingers = int(client.get("linger_ms", 0)) > 0
    needs_linger = "linger" in case.get("requires", [])
    if lingers != needs_linger:
        yield "client.linger_ms > 0 and requires ['linger'] go together"

    if math.isclose(_ratio(client), 0.0):
        yield "client.chars_per_token must be > 0"


# -- index and catalogue ------------------------------------------------------------


def load_index(folder: Path, report: Report) -> dict[str, Any]:
    path = folder / "index.json"
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.add(path.name, f"cannot read the index: {exc}")
        return {}

    if not isinstance(index, dict) or not all(
        isinstance(index.get(key), dict) for key in ("bug_reports", "cases")
    ):
        report.add(path.name, "needs objects 'bug_reports' (id -> title) and 'cases'")
        return {}
    return dict(index)


def check_index(cases: list[LoadedCase], folder: Path, report: Report) -> None:
    """No orphans: every case listed once under its source, every entry a file."""
    index = load_index(folder, report)
    if not index:
        return

    by_id = {c.id: c for c in cases}
    listed: dict[str, str] = {}
    for source, ids in index["cases"].items():
        for case_id in ids:
            if case_id in listed:
                report.add("index.json", f"{case_id} is listed twice")
            listed[case_id] = source
            if case_id not in by_id:
                report.add("index.json", f"{case_id} is listed but has no file")
            elif by_id[case_id].data.get("source") != source:
                found = by_id[case_id].data.get("source")
                report.add(
                    "index.json",
                    f"{case_id} is listed under {source}, its source is {found}",
                )

    for case_id in sorted(set(by_id) - set(listed)):
        report.add(by_id[case_id].path.name, "not listed in index.json (orphan)")

    bugs = index["bug_reports"]
    for bug in bugs:
        if not index["cases"].get(bug):
            report.add("index.json", f"bug report {bug} has no case")
    for source in index["cases"]:
        if source not in bugs and source not in ("seed", "spec"):
            report.add(
                "index.json", f"source {source} is not a bug report of the index"
            )


def check_catalogue(cases: list[LoadedCase], folder: Path, report: Report) -> None:
    path = folder / "README.md"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current != catalogue(cases, folder):
        report.add(
            path.name,
            "stale catalogue; run: python conformance/check_cases.py --write-catalogue",
        )


def catalogue(cases: list[LoadedCase], folder: Path) -> str:
    """The Markdown catalogue, generated from the case files and the index only."""
    index = load_index(folder, Report()) or {"bug_reports": {}, "cases": {}}
    lines = [
        "# Conformance cases",
        "",
        "<!-- Generated by `python conformance/check_cases.py --write-catalogue` from the",
        "     case files and index.json. Do not edit by hand: `check_cases.py` fails when",
        "     this file is stale. -->",
        "",
        f"{len(cases)} cases. Each file `<id>.json` follows `../schema/case.schema.json`;",
        "ids are permanent. Sources: `BR-xx` (bug reports), `seed` (the seed list of the",
        "conformance anchors), `spec` (SPEC.md itself).",
        "",
        "## Bug reports covered",
        "",
        "| bug report | cases |",
        "| --- | --- |",
    ]
    for bug, title in index["bug_reports"].items():
        ids = ", ".join(f"`{i}`" for i in index["cases"].get(bug, []))
        lines.append(f"| {bug}: {_cell(str(title))} | {ids or '**none**'} |")

    lines += ["", "## All cases", ""]
    lines += ["| id | provider | spec | expected | requires | what it checks |"]
    lines += ["| --- | --- | --- | --- | --- | --- |"]
    for case in sorted(cases, key=lambda c: c.id):
        lines.append(_catalogue_row(case.data))
    return "\n".join(lines) + "\n"


def _catalogue_row(data: Mapping[str, Any]) -> str:
    expect = data.get("expect", {})
    outcome = f"{expect.get('end')} / exit {expect.get('exit_code')}"
    if expect.get("error_kind"):
        outcome += f" / {expect['error_kind']}"
    if expect.get("disconnect") == "early":
        outcome += " / hangs up early"
    spec = ", ".join(data.get("spec", []))
    requires = ", ".join(data.get("requires", [])) or "-"
    return (
        f"| `{data.get('id')}` | {data.get('provider')} | {spec} | {outcome} | "
        f"{requires} | {_cell(str(data.get('title', '')))} |"
    )


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    raise SystemExit(main())
