"""Shared fixtures: the referee on sys.path, a scrubbed environment, a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "conformance"
SCHEMAS = CONFORMANCE / "schema"

# The referee (conformance/referee) and the oracle are imported from conformance/.
if str(CONFORMANCE) not in sys.path:
    sys.path.insert(0, str(CONFORMANCE))

# Provider credentials or hosts from the developer's shell must never leak into a
# test run, or a mis-wired test could reach a real API.
_SCRUB = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OLLAMA_HOST",
    "OLLAMA_API_KEY",
    "TOKEN_BUDGET_MAX",
    "NXUSKIT_VERBOSE",
    "NXUSKIT_STEP",
    "TOKEN_BUDGET_LOOPBACK_CHUNK",
    "TOKEN_BUDGET_LOOPBACK_DELAY_MS",
    "TOKEN_BUDGET_LOOPBACK_CHARS",
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["TOKEN_BUDGET_LOOPBACK_DELAY_MS"] = "0"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def _scrubbed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _SCRUB:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOKEN_BUDGET_LOOPBACK_DELAY_MS", "0")


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    timeout: float = 30.0,
) -> CliRun:
    """Run `python -m token_budget` as a real subprocess."""
    done = subprocess.run(
        [sys.executable, "-m", "token_budget", *args],
        input=input if input is not None else b"",
        capture_output=True,
        env=dict(env) if env is not None else clean_env(),
        timeout=timeout,
        check=False,
    )
    return CliRun(
        done.returncode,
        done.stdout.decode("utf-8"),
        done.stderr.decode("utf-8"),
    )


@pytest.fixture
def cli() -> Callable[..., CliRun]:
    return run_cli


def load_schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text("utf-8"))
    return data


@pytest.fixture(scope="session")
def result_validator() -> Any:
    import jsonschema

    schema = load_schema("result.schema.json")
    return jsonschema.Draft202012Validator(schema)
