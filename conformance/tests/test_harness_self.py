"""Self-tests of the harness: it must catch implementations that are wrong.

The fakes in ``fakes/`` speak the contract badly on purpose; each test runs one as a
real subprocess against the real referee and checks the verdict the harness reaches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import support
from harness import judge, registry, runner
from harness.errors import ExpectationFileError, RegistryError
from harness.expectations import load_expectations
from harness.judge import Outcome
from harness.reports import (
    ReportWriter,
    load_report,
    render_junit,
    render_markdown,
    run_record,
)

FAKES = Path(__file__).resolve().parent / "fakes"
CONFORMANCE = Path(__file__).resolve().parent.parent


def fake(name: str) -> list[str]:
    return [sys.executable, str(FAKES / f"{name}.py")]


def verdict(
    argv: list[str], spec: runner.RunSpec, expect: dict[str, object]
) -> tuple[runner.RunResult, list[judge.Finding]]:
    run = runner.run(argv, spec)
    findings = judge.check_contract(run, spec.case_id)
    if run.result is not None or "disconnect" in expect:
        findings += judge.check_expect(
            run, expect, linger_ms=int(spec.client.get("linger_ms") or 0)
        )
    return run, findings


def trivial() -> tuple[runner.RunSpec, dict[str, object]]:
    return support.smoke_spec("openai")


def paced_spec(
    frames: int = 30,
    pace_s: float = 0.05,
    budget: int = 3,
    linger_ms: int = 0,
    end: str = "close",
) -> runner.RunSpec:
    from referee import Script, Write, dialects

    body = dialects.openai_frames(dialects.deltas(*["abcd"] * frames))
    writes = [Write(f, pace_s if i else 0.0) for i, f in enumerate(body)]
    return runner.RunSpec(
        case_id="self-paced",
        provider="openai",
        client={"budget": budget, "prompt": "p", "linger_ms": linger_ms},
        scripts=[Script(writes=writes, end=end, hold_s=5.0, dialect="openai")],
    )


def kinds(findings: list[judge.Finding]) -> set[str]:
    return {f.kind for f in findings}


# --- the runner's verdicts on broken implementations ---------------------------------


def test_sleeper_is_a_timeout_and_its_whole_group_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    spec, _ = trivial()
    spec = runner.RunSpec(
        **{
            **spec.__dict__,
            "limit_s": 2.0,
            "client": {**spec.client, "env": {"FAKE_PIDFILE": str(pidfile)}},
        }
    )

    started = time.monotonic()
    run, findings = verdict(fake("sleeper"), spec, {})

    assert run.timed_out and run.exit_code is None
    assert judge.outcome_of(findings) is Outcome.TIMEOUT
    assert time.monotonic() - started < 15
    child = int(pidfile.read_text())
    assert _gone(child), f"child {child} of the timed-out fake survived"


def _gone(pid: int) -> bool:
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


def test_garbage_on_stdout_is_an_error() -> None:
    spec, expect = trivial()
    run, findings = verdict(fake("garbage"), spec, expect)

    assert run.result is None and run.json_error
    assert "invalid-json" in kinds(findings)
    assert judge.outcome_of(findings) is Outcome.ERROR


def test_a_wrongly_typed_field_is_a_schema_violation() -> None:
    spec, _ = trivial()
    run, findings = verdict(fake("wrong_field"), spec, {})

    assert run.result is not None
    schema = [f for f in findings if f.kind == "schema"]
    assert schema and "counted_chars" in schema[0].message
    assert judge.outcome_of(findings) is Outcome.ERROR


def test_a_wrong_echoed_case_id_is_cross_talk() -> None:
    spec, _ = trivial()
    _, findings = verdict(fake("crosstalk"), spec, {})

    assert kinds(findings) == {"cross-talk"}
    assert judge.outcome_of(findings) is Outcome.ERROR


def test_a_traceback_is_an_error_with_a_stderr_finding() -> None:
    spec, _ = trivial()
    run, findings = verdict(fake("crasher"), spec, {})

    assert run.exit_code == 1
    assert {"traceback", "stderr", "invalid-json"} <= kinds(findings)


def test_the_honest_fake_passes_the_trivial_case() -> None:
    spec, expect = trivial()
    run, findings = verdict(fake("honest"), spec, expect)

    assert findings == [], findings
    assert run.result is not None and run.result["content"] == "Hi"
    assert run.record is not None and run.record.requests == 1


def test_a_wrong_expectation_is_a_failure() -> None:
    spec, expect = trivial()
    _, findings = verdict(fake("honest"), spec, {**expect, "content": "Hello"})

    assert kinds(findings) == {"expectation"}
    assert judge.outcome_of(findings) is Outcome.FAIL


# --- cancellation as the referee sees it ---------------------------------------------


def test_a_client_that_drains_the_stream_is_caught() -> None:
    spec = paced_spec()
    spec = runner.RunSpec(
        **{**spec.__dict__, "client": {**spec.client, "env": {"FAKE_MODE": "drain"}}}
    )
    run, findings = verdict(fake("honest"), spec, {"disconnect": "early"})

    assert run.result is not None and run.result["end"] == "budget"
    assert "disconnect" in kinds(findings)


def test_a_client_that_only_closes_at_exit_is_caught_by_linger() -> None:
    spec = paced_spec(linger_ms=1500, end="hold")
    env = {"FAKE_MODE": "late-linger"}
    spec = runner.RunSpec(**{**spec.__dict__, "client": {**spec.client, "env": env}})
    _, findings = verdict(fake("honest"), spec, {"disconnect": "early"})

    assert any("linger" in f.message for f in findings), findings


def test_an_honest_cancel_with_linger_passes() -> None:
    spec = paced_spec(linger_ms=1500, end="hold")
    run, findings = verdict(
        fake("honest"), spec, {"disconnect": "early", "end": "budget"}
    )

    assert findings == [], findings
    conn = run.record.connections[-1]
    assert conn.disconnected_at is not None and not conn.finished


# --- expected-failure files ----------------------------------------------------------


def _expectations(tmp_path: Path, entries: dict[str, str]):  # type: ignore[no-untyped-def]
    (tmp_path / "fake.json").write_text(json.dumps(entries))
    return load_expectations("fake", tmp_path)


def test_listed_and_passing_is_stale(tmp_path: Path) -> None:
    expectations = _expectations(tmp_path, {"trivial": "known bug #1"})

    outcome, extra = expectations.settle("trivial", Outcome.PASS)

    assert outcome is Outcome.FAIL
    assert extra and extra[0].kind == "stale" and "remove the entry" in extra[0].message


def test_listed_and_failing_is_expected_fail_and_unlisted_failing_is_a_failure(
    tmp_path: Path,
) -> None:
    expectations = _expectations(tmp_path, {"case-a": "known bug #1"})

    assert (
        expectations.settle("case-a@bytewise", Outcome.FAIL)[0] is Outcome.EXPECTED_FAIL
    )
    assert expectations.settle("case-b", Outcome.FAIL)[0] is Outcome.FAIL
    assert (
        expectations.settle("case-a", Outcome.HARNESS_ERROR)[0] is Outcome.HARNESS_ERROR
    )


def test_an_entry_without_a_reason_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ExpectationFileError, match="non-empty reason"):
        _expectations(tmp_path, {"case-a": "  "})


def test_the_checked_in_expected_files_are_well_formed() -> None:
    for path in sorted((CONFORMANCE / "expected").glob("*.json")):
        load_expectations(path.stem, path.parent)


# --- runner details ------------------------------------------------------------------


def test_the_environment_is_scrubbed() -> None:
    parent = {
        "OPENAI_API_KEY": "x",
        "ANTHROPIC_BASE_URL": "x",
        "OLLAMA_HOST": "x",
        "TOKEN_BUDGET_MAX": "5",
        "NXUSKIT_VERBOSE": "1",
        "HOME": "/root",
        "LC_ALL": "C",
    }

    env = runner.scrubbed_env(parent)

    assert env["HOME"] == "/root" and env["LC_ALL"] == "C.UTF-8" and env["TZ"] == "UTC"
    assert not {
        "OPENAI_API_KEY",
        "ANTHROPIC_BASE_URL",
        "OLLAMA_HOST",
        "TOKEN_BUDGET_MAX",
        "NXUSKIT_VERBOSE",
    } & set(env)


def test_argv_puts_the_prompt_after_the_separator() -> None:
    spec = runner.RunSpec(
        case_id="c",
        provider="anthropic",
        scripts=[],
        client={
            "budget": 7,
            "chars_per_token": 0.1,
            "prompt": "-x $y",
            "verbose": True,
            "max_tokens": None,
        },
    )

    argv = runner.build_argv(["impl"], spec, "http://127.0.0.1:1")

    assert argv[-2:] == ["--", "-x $y"]
    assert argv[argv.index("--chars-per-token") + 1] == "0.1"
    assert "--verbose" in argv and "--max-tokens" not in argv
    assert argv[argv.index("--case-id") + 1] == "c" and "--json" in argv


def test_the_registry_is_valid_and_missing_commands_say_how_to_build() -> None:
    impls = {i.name: i for i in registry.load_registry()}
    assert {"python", "bash", "go", "rust"} <= set(impls)

    ghost = registry.Implementation(
        name="ghost",
        language="go",
        command=("{root}/nope/token-budget",),
        alternatives=(("{env:TB_SELFTEST_UNSET}/token-budget",),),
        build=("make", "-C", "{root}/nope", "build"),
        toolchain=("make",),
    )
    resolved = registry.resolve(ghost, env={})

    assert not resolved.available
    assert resolved.reason is not None and "nope/token-budget" in resolved.reason


def test_an_unknown_requested_implementation_is_a_registry_error() -> None:
    with pytest.raises(RegistryError, match="unknown implementation"):
        registry.select(registry.load_registry(), ["cobol"])


# --- reports -------------------------------------------------------------------------


def test_reports_are_schema_valid_and_render(tmp_path: Path) -> None:
    spec, expect = trivial()
    run, findings = verdict(fake("garbage"), spec, expect)
    writer = ReportWriter(folder=tmp_path)
    writer.open(
        {
            "contract_version": 1,
            "cases_sha256": "0" * 64,
            "implementations": {},
            "hypothesis": {"seed": 1, "profile": "ci"},
        }
    )
    writer.add(
        run_record(
            impl="garbage",
            check_id="trivial",
            kind="case",
            outcome=judge.outcome_of(findings),
            findings=findings,
            run=run,
        )
    )
    writer.add(
        run_record(
            impl="garbage",
            check_id="other",
            kind="case",
            outcome=Outcome.NOT_APPLICABLE,
            findings=[],
        )
    )
    path = writer.close()
    assert path is not None and (tmp_path / "latest.jsonl").exists()

    schema = json.loads((CONFORMANCE / "schema" / "report.schema.json").read_text())
    for line in path.read_text().splitlines():
        jsonschema.validate(json.loads(line), schema)
    report = load_report(path)
    markdown = render_markdown(report)
    assert "🟧 error" in markdown and "⬜ n/a" in markdown and "Legend" in markdown
    junit = render_junit(report).decode()
    assert "<error" in junit and "<skipped" in junit

    cli = [
        sys.executable,
        str(CONFORMANCE / "report.py"),
        str(path),
        "--junit",
        str(tmp_path / "j.xml"),
    ]
    done = subprocess.run(
        cli, capture_output=True, text=True, check=False, env={**os.environ}
    )
    assert done.returncode == 1, done.stderr
    assert "1 unexpected" in done.stderr and (tmp_path / "j.xml").exists()
