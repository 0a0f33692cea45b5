"""The examples manifest: valid, truthful about paths and commands, and in step with
the example's README. A language may be marked available only when its
implementation runs in this suite (and so must pass it)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from harness import registry

CONFORMANCE = Path(__file__).resolve().parent.parent
ROOT = CONFORMANCE.parent
MANIFEST = CONFORMANCE / "examples_manifest.json"
SCHEMA = CONFORMANCE / "schema" / "examples_manifest.schema.json"

# The README's table names languages the way readers know them.
README_NAMES = {"python": "Python", "bash": "CLI/Bash", "go": "Go", "rust": "Rust"}


def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MANIFEST.read_text("utf-8"))
    return data


def _languages() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (example["id"], name, spec)
        for example in _manifest()["examples"]
        for name, spec in example["languages"].items()
    ]


def _example(example_id: str) -> dict[str, Any]:
    (example,) = [e for e in _manifest()["examples"] if e["id"] == example_id]
    return example


def test_manifest_is_valid_against_its_schema() -> None:
    schema = json.loads(SCHEMA.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)

    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(_manifest()))

    assert errors == [], [e.message for e in errors]


def test_token_budget_entry_says_what_the_documented_page_says() -> None:
    example = _example("token-budget")

    assert example["tech_tags"] == ["LLM"]
    assert example["summary"] == "Token budget management and cost estimation"
    assert example["scenario"] == "Track and limit token usage across requests"
    assert set(example["languages"]) == {"python", "bash", "go", "rust"}


@pytest.mark.parametrize(("example_id", "language", "spec"), _languages())
def test_every_path_exists(
    example_id: str, language: str, spec: dict[str, Any]
) -> None:
    folder = ROOT / _example(example_id)["path"] / spec["path"]

    assert folder.is_dir(), f"{example_id}/{language}: {folder} does not exist"


@pytest.mark.parametrize(("example_id", "language", "spec"), _languages())
def test_every_command_names_something_real(
    example_id: str, language: str, spec: dict[str, Any]
) -> None:
    folder = ROOT / _example(example_id)["path"] / spec["path"]

    for phase in ("build", "run", "test"):
        argv = spec[phase]
        program = argv[0]
        assert shutil.which(program) or (folder / program).exists(), (
            f"{language} {phase}: {program!r} is neither on PATH nor in {folder}"
        )
        if program == "make":
            target = argv[1] if len(argv) > 1 else "all"
            makefile = (folder / "Makefile").read_text("utf-8")
            assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), (
                f"{language} {phase}: the Makefile has no target {target!r}"
            )
        if program.startswith("python") and len(argv) > 1:
            assert (folder / argv[1]).is_file(), f"{language}: no {argv[1]}"
        if program == "cargo":
            assert (folder / "Cargo.toml").is_file()


def _readme_table(example_id: str) -> dict[str, tuple[str, str]]:
    """Language -> (path, status) from the README's Languages table."""
    readme = ROOT / _example(example_id)["path"] / "README.md"
    rows: dict[str, tuple[str, str]] = {}
    for line in readme.read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in README_NAMES.values():
            path = re.search(r"`([^`]+)`", cells[1])
            rows[cells[0]] = (path.group(1) if path else "", cells[2])
    return rows


@pytest.mark.parametrize(("example_id", "language", "spec"), _languages())
def test_example_readme_agrees_with_the_manifest(
    example_id: str, language: str, spec: dict[str, Any]
) -> None:
    table = _readme_table(example_id)

    path, status = table[README_NAMES[language]]

    assert path.rstrip("/") == spec["path"]
    assert status.lower() == spec["status"]


@pytest.mark.parametrize(("example_id", "language", "spec"), _languages())
def test_available_only_when_the_suite_runs_it(
    example_id: str, language: str, spec: dict[str, Any]
) -> None:
    """An available language's implementation is registered and runnable here, so
    this very suite run judges it; an unrunnable one cannot claim availability."""
    if spec["status"] != "available":
        pytest.skip(f"{language} is {spec['status']}: nothing is claimed")

    impls = {i.name: i for i in registry.load_registry()}
    assert spec["conformance_impl"] in impls, f"{language}: not in the registry"

    resolved = registry.resolve(impls[spec["conformance_impl"]])
    assert resolved.available, (
        f"{language} is marked available but cannot run here: {resolved.reason}"
    )


def test_readme_run_commands_match_the_manifest() -> None:
    """The example README's run section uses the manifest's commands."""
    example = _example("token-budget")
    readme = (ROOT / example["path"] / "README.md").read_text("utf-8")

    for language, spec in example["languages"].items():
        command = shlex.join(spec["run"])
        assert f"cd {spec['path']} && {command}" in readme, (
            f"{language}: README does not show `cd {spec['path']} && {command}`"
        )
