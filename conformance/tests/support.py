"""Glue between pytest and the harness: the session state, smoke checks, verdicts.

Every test ends in :meth:`Suite.conclude`, which turns findings into an outcome,
applies the implementation's expected-failure file, writes the report line, and then
tells pytest (pass, xfail, skip with the not-applicable/unavailable reason, or fail).
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from harness import judge, runner
from harness.cases import CaseSet, applicable
from harness.expectations import Expectations, load_expectations
from harness.judge import Finding, Outcome
from harness.registry import Resolved
from harness.reports import REPORTS_DIR, ReportWriter, run_record

log = logging.getLogger("conformance.support")

CONFORMANCE = Path(__file__).resolve().parent.parent
SMOKE_ID = "smoke"
PROPERTY_IDS = frozenset(
    {
        "prop-stream",
        "prop-rechunk",
        "prop-errors",
        "prop-request",
        "prop-paced",
        "prop-paced-full",
        "differential",
    }
)
# The session's Hypothesis seed, set by conftest before the test modules are imported.
SEED: int | None = None


@dataclass
class ImplState:
    """One implementation in this session."""

    resolved: Resolved
    expectations: Expectations
    describe: dict[str, Any] | None = None
    describe_problems: list[str] = field(default_factory=list)
    smoke_findings: list[Finding] | None = None

    @property
    def name(self) -> str:
        return self.resolved.name

    @property
    def argv(self) -> tuple[str, ...]:
        assert self.resolved.argv is not None
        return self.resolved.argv

    @property
    def capabilities(self) -> set[str]:
        return set((self.describe or {}).get("capabilities", []))


@dataclass
class Suite:
    """Everything a test needs to know about the session."""

    impls: dict[str, ImplState]
    cases: CaseSet
    writer: ReportWriter
    seed: int | None
    profile: str
    outcomes: list[tuple[str, str, str]] = field(default_factory=list)

    def state(self, impl: str) -> ImplState:
        return self.impls[impl]

    def ready(self, impl: str, check_id: str, kind: str) -> ImplState:
        """The implementation, or a recorded unavailable / smoke-error verdict."""
        state = self.impls[impl]
        if not state.resolved.available:
            self.conclude(
                impl,
                check_id,
                kind,
                [],
                outcome=Outcome.UNAVAILABLE,
                note=state.resolved.reason,
            )
        ensure_smoke(self, state)
        if state.smoke_findings:
            summary = "; ".join(str(f) for f in state.smoke_findings[:3])
            self.conclude(
                impl,
                check_id,
                kind,
                [Finding("smoke", f"smoke tier failed, not judged: {summary}")],
                as_error=True,
            )
        return state

    def applies(
        self,
        state: ImplState,
        check_id: str,
        kind: str,
        provider: str,
        requires: Sequence[str] = (),
    ) -> None:
        """Record not-applicable (and skip) when --describe rules the check out."""
        why = applicable(requires, provider, state.describe or {})
        if why is not None:
            self.conclude(
                state.name, check_id, kind, [], outcome=Outcome.NOT_APPLICABLE, note=why
            )

    def conclude(
        self,
        impl: str,
        check_id: str,
        kind: str,
        findings: list[Finding],
        *,
        run: runner.RunResult | None = None,
        spec: runner.RunSpec | None = None,
        expectation: Mapping[str, Any] | None = None,
        crossing_write: int | None = None,
        outcome: Outcome | None = None,
        note: str | None = None,
        as_error: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the verdict and hand it to pytest."""
        decided = outcome if outcome is not None else judge.outcome_of(findings)
        state = self.impls.get(impl)
        reason = None
        if state is not None and decided not in (
            Outcome.NOT_APPLICABLE,
            Outcome.UNAVAILABLE,
        ):
            entry = state.expectations.reason_for(check_id)
            reason = entry[1] if entry else None
            decided, more = state.expectations.settle(check_id, decided)
            findings = findings + more

        # Generated and re-chunked exchanges have no case file: write a replayable one.
        if (
            run is not None
            and spec is not None
            and spec.case_path is None
            and (decided is not Outcome.PASS)
        ):
            runner.write_repro_case(spec, REPORTS_DIR / "repro")
        inputs: dict[str, Any] = {}
        if spec is not None:
            inputs = {
                "provider": spec.provider,
                "client": dict(spec.client),
                "variant": spec.variant,
            }
        record = run_record(
            impl=impl,
            check_id=check_id,
            kind=kind,
            outcome=decided,
            findings=findings,
            run=run,
            inputs=inputs,
            expectation=expectation,
            crossing_write=crossing_write,
            expected_reason=reason or note,
            extra=extra,
        )
        self.writer.add(record)
        self.outcomes.append((impl, check_id, decided.value))
        _tell_pytest(decided, findings, run, reason or note, as_error)


def _tell_pytest(
    outcome: Outcome,
    findings: list[Finding],
    run: runner.RunResult | None,
    reason: str | None,
    as_error: bool,
) -> None:
    if outcome is Outcome.PASS:
        return
    if outcome is Outcome.EXPECTED_FAIL:
        pytest.xfail(f"expected failure: {reason}")
    if outcome is Outcome.NOT_APPLICABLE:
        pytest.skip(f"not-applicable: {reason}")
    if outcome is Outcome.UNAVAILABLE:
        pytest.skip(f"unavailable: {reason}")

    lines = [f"{outcome.value}:"] + [f"  {f}" for f in findings]
    if run is not None:
        lines.append(
            f"  exit={run.exit_code} stderr tail: "
            f"{run.stderr.decode('utf-8', 'replace')[-400:]!r}"
        )
        lines.append(f"  repro: {run.repro}")
    # Called from the ``ready`` fixture (as_error) this shows as a pytest error.
    pytest.fail("\n".join(lines), pytrace=False)


# --- describe and smoke --------------------------------------------------------------


def run_describe(state: ImplState) -> None:
    """``IMPL --describe`` must print one schema-valid object (SPEC 7)."""
    if not state.resolved.available:
        return
    try:
        done = subprocess.run(
            [*state.argv, "--describe"],
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            env=runner.scrubbed_env(),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        state.describe_problems.append(f"--describe could not run: {exc}")
        return

    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace")[-300:]
        state.describe_problems.append(f"--describe exited {done.returncode}: {tail!r}")
    try:
        value = json.loads(done.stdout)
    except ValueError:
        state.describe_problems.append(
            f"--describe printed no JSON: {done.stdout[:200]!r}"
        )
        return
    state.describe = value if isinstance(value, dict) else None
    state.describe_problems += judge.schema_errors(value, "describe.schema.json")
    if isinstance(value, dict) and value.get("name") != state.name:
        state.describe_problems.append(
            f"--describe name {value.get('name')!r} differs from the registry name "
            f"{state.name!r}"
        )


def smoke_spec(provider: str) -> tuple[runner.RunSpec, dict[str, Any]]:
    """The trivial exchange every implementation must get right before anything else."""
    from referee import Script, Write, dialects

    builders = {
        "openai": lambda d: dialects.openai_frames(
            d, usage={"prompt_tokens": 3, "completion_tokens": 1}
        ),
        "anthropic": lambda d: dialects.anthropic_frames(
            d, input_tokens=3, output_tokens=1
        ),
        "ollama": lambda d: dialects.ollama_frames(
            d, prompt_eval_count=3, eval_count=1
        ),
    }
    frames = builders[provider](dialects.deltas("Hi"))
    script = Script(
        headers=[("Content-Type", dialects.CONTENT_TYPES[provider])],
        writes=[Write(f) for f in frames],
        dialect=provider,
    )
    spec = runner.RunSpec(
        case_id=f"smoke-{provider}",
        provider=provider,
        client={
            "budget": 100,
            "prompt": "Say hi",
            "timeout": "10",
            "env": {f"{provider.upper()}_API_KEY": "sk-smoke-0000"},
        },
        scripts=[script],
    )
    expect = {
        "exit_code": 0,
        "end": "complete",
        "content": "Hi",
        "counted_chars": 2,
        "estimated_tokens": 1,
        "chunks": 1,
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        "requests": 1,
        "disconnect": "none",
    }
    return spec, expect


def ensure_smoke(suite: Suite, state: ImplState) -> None:
    """Run the smoke tier once per implementation and remember its findings."""
    if state.smoke_findings is not None or not state.resolved.available:
        return

    findings = [Finding("smoke", p) for p in state.describe_problems]
    providers = [
        p
        for p in ("openai", "anthropic", "ollama")
        if p in (state.describe or {}).get("providers", [])
    ]
    run = None
    if state.describe is not None and providers:
        spec, expect = smoke_spec(providers[0])
        run = runner.run(state.argv, spec)
        findings += judge.check_contract(run, spec.case_id)
        findings += judge.check_expect(run, expect)
    elif state.describe is not None:
        findings.append(
            Finding("smoke", "--describe lists none of openai/anthropic/ollama")
        )
    state.smoke_findings = findings
    record = run_record(
        impl=state.name,
        check_id=SMOKE_ID,
        kind="smoke",
        outcome=Outcome.PASS if not findings else Outcome.ERROR,
        findings=findings,
        run=run,
    )
    suite.writer.add(record)
    suite.outcomes.append((state.name, SMOKE_ID, record["outcome"]))


def build_suite(
    resolved: list[Resolved],
    cases: CaseSet,
    writer: ReportWriter,
    seed: int | None,
    profile: str,
) -> Suite:
    impls = {r.name: ImplState(r, load_expectations(r.name)) for r in resolved}
    for state in impls.values():
        run_describe(state)
    return Suite(impls, cases, writer, seed, profile)
