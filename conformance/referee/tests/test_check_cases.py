"""check_cases.py: the real cases pass, and each kind of broken case is reported."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFORMANCE = Path(__file__).resolve().parents[2]
CHECKER = CONFORMANCE / "check_cases.py"
CASE = "br-05-no-usage-in-stream"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECKER), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    folder = tmp_path / "cases"
    shutil.copytree(CONFORMANCE / "cases", folder)
    return folder


def _edit(folder: Path, case_id: str, change: dict[str, object]) -> None:
    path = folder / f"{case_id}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        target = data
        *parents, last = dotted.split(".")
        for key in parents:
            target = target[key]
        target[last] = value
    path.write_text(json.dumps(data), encoding="utf-8")


def test_the_shipped_cases_pass() -> None:
    result = _run()

    assert result.returncode == 0, result.stdout
    assert result.stdout == ""
    assert "case(s), ok" in result.stderr


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"expect.estimated_tokens": 3}, "ratio_estimate(5, 4.0) is 2"),
        ({"expect.exit_code": 1}, "needs exit_code 0"),
        ({"expect.cost_basis": "provider"}, "the usage gives 'estimate'"),
        ({"expect.cost_prompt_tokens": 9}, "SPEC 6.3 gives 3"),
        (
            {
                "expect.usage": {
                    "prompt_tokens": 1,
                    "completion_tokens": 2,
                    "total_tokens": 4,
                }
            },
            "total_tokens must be 3",
        ),
        ({"id": "something-else"}, "must equal the file name"),
        ({"expect.bogus": 1}, "schema"),
        ({"server.writes": [{"sse": {"type": "x"}}]}, "self-check"),
        ({"server.writes": [{"text": "a", "hex": "00"}]}, "schema"),
    ],
)
def test_a_broken_case_is_one_line(
    cases: Path, change: dict[str, object], problem: str
) -> None:
    _edit(cases, CASE, change)

    result = _run("--cases", str(cases))

    assert result.returncode == 1
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith(f"{CASE}.json")]
    assert any(problem in ln for ln in lines), result.stdout


def test_orphans_and_missing_files_are_reported(cases: Path) -> None:
    (cases / f"{CASE}.json").rename(cases / "seed-new-unlisted.json")
    _edit(cases, "seed-new-unlisted", {"id": "seed-new-unlisted", "source": "seed"})

    result = _run("--cases", str(cases))

    assert result.returncode == 1
    assert f"index.json: {CASE} is listed but has no file" in result.stdout
    assert "seed-new-unlisted.json: not listed in index.json (orphan)" in result.stdout


def test_a_stale_catalogue_fails_and_write_catalogue_fixes_it(cases: Path) -> None:
    (cases / "README.md").write_text("# old\n", encoding="utf-8")

    stale = _run("--cases", str(cases))
    fixed = _run("--cases", str(cases), "--write-catalogue")

    assert stale.returncode == 1
    assert "README.md: stale catalogue" in stale.stdout
    assert fixed.returncode == 0, fixed.stdout
    assert f"`{CASE}`" in (cases / "README.md").read_text(encoding="utf-8")


def test_every_bug_report_of_the_index_needs_a_case(cases: Path) -> None:
    index = json.loads((cases / "index.json").read_text(encoding="utf-8"))
    index["bug_reports"]["BR-99"] = "an uncovered report"
    (cases / "index.json").write_text(json.dumps(index), encoding="utf-8")

    result = _run("--cases", str(cases))

    assert "index.json: bug report BR-99 has no case" in result.stdout
