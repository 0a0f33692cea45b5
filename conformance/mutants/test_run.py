"""Self-tests of the mutant runner's own logic (no suite runs, no network).

Run: ``.venv/bin/python -m pytest conformance/mutants/test_run.py -q``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run
from tb_mutant_select import matches

TARGET = "python/src/token_budget/budget.py"


def _write(folder: Path, name: str, data: object) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _mutant(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": "demo",
        "fault": "one line",
        "patches": [{"file": TARGET, "find": "a >= b", "replace": "a > b"}],
        "killed_by": ["seed-budget-exact-boundary"],
    }
    data.update(changes)
    return data


def _box(tmp_path: Path, source: str) -> Path:
    target = tmp_path / TARGET
    target.parent.mkdir(parents=True)
    target.write_text(source, encoding="utf-8")
    return tmp_path


def test_every_checked_in_mutant_file_is_valid_and_there_are_at_least_twelve() -> None:
    zoo = run.load_zoo()
    assert len(zoo) >= 12
    assert len({m.id for m in zoo}) == len(zoo)


def test_a_valid_file_loads(tmp_path: Path) -> None:
    mutant = run.load_mutant(_write(tmp_path, "demo", _mutant()))
    assert mutant.patches == (run.Patch(TARGET, "a >= b", "a > b"),)
    assert mutant.killed_by == ("seed-budget-exact-boundary",)


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"id": "other"}, "must equal the file name"),
        ({"fault": "two\nlines"}, "one line"),
        ({"killed_by": []}, "killed_by"),
        ({"patches": []}, "non-empty list"),
        (
            {
                "patches": [
                    {"file": "conformance/oracle.py", "find": "x", "replace": "y"}
                ]
            },
            "must be under",
        ),
        ({"patches": [{"file": TARGET, "find": "x", "replace": "x"}]}, "differ"),
    ],
)
def test_malformed_files_are_rejected_with_the_reason(
    tmp_path: Path, changes: dict[str, object], complaint: str
) -> None:
    with pytest.raises(run.MutantFileError, match=complaint):
        run.load_mutant(_write(tmp_path, "demo", _mutant(**changes)))


def test_a_patch_is_applied_exactly_once(tmp_path: Path) -> None:
    box = _box(tmp_path, "def f(a, b):\n    return a >= b\n")
    mutant = run.load_mutant(_write(tmp_path, "demo", _mutant()))
    assert run.apply_patches(box, mutant) == [TARGET]
    assert (box / TARGET).read_text() == "def f(a, b):\n    return a > b\n"


@pytest.mark.parametrize("source", ["x = 1\n", "p = a >= b\nq = a >= b\n"])
def test_a_find_that_is_missing_or_ambiguous_is_stale(
    tmp_path: Path, source: str
) -> None:
    box = _box(tmp_path, source)
    mutant = run.load_mutant(_write(tmp_path, "demo", _mutant()))
    with pytest.raises(run.StaleMutant, match="exactly once"):
        run.apply_patches(box, mutant)


def test_a_patch_that_breaks_the_syntax_is_invalid(tmp_path: Path) -> None:
    box = _box(tmp_path, "ok = a >= b\n")
    data = _mutant(patches=[{"file": TARGET, "find": "a >= b", "replace": "a >= ("}])
    mutant = run.load_mutant(_write(tmp_path, "demo", data))
    with pytest.raises(run.InvalidMutant, match="does not compile"):
        run.apply_patches(box, mutant)


@pytest.mark.parametrize(
    ("check", "names", "expected"),
    [
        ("seed-budget-one-below", ["seed-budget-one-below"], True),
        ("seed-budget-one-below@bytewise", ["seed-budget-one-below"], False),
        ("prop-stream:ollama", ["prop-stream"], True),
        ("prop-stream:ollama", ["prop-stream:openai"], False),
        ("prop-stream-x:ollama", ["prop-stream"], False),
    ],
)
def test_check_names_select_checks(
    check: str, names: list[str], expected: bool
) -> None:
    assert matches(check, names) is expected


def test_only_failures_the_honest_reference_does_not_share_catch_a_mutant() -> None:
    suite = run.SuiteRun(
        [],
        1,
        1.0,
        outcomes={
            "a": "fail",
            "b": "pass",
            "c": "timeout",
            "d": "expected-fail",
            "e": "error",
        },
    )
    assert suite.failing(ignore=["e"]) == ["a", "c"]

    verdict = run.Verdict("m", "fault", "SURVIVED", killed_by=["a", "b"])
    run._settle(verdict, suite, ["e"], "killed_by")
    assert verdict.caught and verdict.match == "partly"
    assert verdict.named_caught == ["a"] and verdict.named_missed == ["b"]


def test_a_run_with_no_failures_leaves_the_mutant_alive() -> None:
    suite = run.SuiteRun([], 0, 1.0, outcomes={"a": "pass"})
    verdict = run.Verdict("m", "fault", "SURVIVED", killed_by=["a"])
    run._settle(verdict, suite, [], "killed_by")
    assert not verdict.caught and verdict.match == "-"
    assert "NO (SURVIVED)" in run.table([verdict])
