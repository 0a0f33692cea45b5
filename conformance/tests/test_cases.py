"""Every case file x every implementation x every variant (original and re-chunked)."""

from __future__ import annotations

from typing import Any

import support
from harness import judge, runner
from harness.cases import ORIGINAL, RECHUNK_SEED, Case
from oracle import crossing_write


def _spec(case: Case, variant: str) -> runner.RunSpec:
    from referee import scripts_for_case

    scripts = scripts_for_case(case.data)
    if variant != ORIGINAL:
        scripts = [s.rechunked(variant, seed=RECHUNK_SEED) for s in scripts]
    return runner.RunSpec(
        case_id=case.id,
        provider=case.provider,
        client=case.client,
        scripts=scripts,
        variant=variant,
        case_path=case.path if variant == ORIGINAL else None,
    )


def _crossing(case: Case, spec: runner.RunSpec) -> int | None:
    """The write that completes the crossing delta, to bound the disconnect time."""
    budget = case.client.get("budget")
    if budget is None or case.expect.get("end") != "budget" or not spec.scripts:
        return None
    ratio = float(case.client.get("chars_per_token") or 4)
    writes = [w.data for w in spec.scripts[-1].writes]
    return crossing_write(case.provider, writes, int(budget), ratio)


def test_case(
    suite: support.Suite, ready: support.ImplState, case_check: tuple[Case, str]
) -> None:
    case, variant = case_check
    check = f"{case.id}@{variant}" if variant != ORIGINAL else case.id
    suite.applies(ready, check, "case", case.provider, case.requires)

    spec = _spec(case, variant)
    run = runner.run(ready.argv, spec)
    crossing = _crossing(case, spec)
    usage_error = case.expect.get("exit_code") in (2, 3)
    findings = judge.check_contract(run, case.id, usage_error=usage_error)
    if not any(f.kind in ("timeout", "referee") for f in findings):
        findings += judge.check_expect(
            run, case.expect, crossing, int(case.client.get("linger_ms") or 0)
        )
    if run.record is not None and run.record.errors:
        findings += [judge.Finding("referee", e) for e in run.record.errors]

    expectation: dict[str, Any] = dict(case.expect)
    suite.conclude(
        ready.name,
        check,
        "case",
        findings,
        run=run,
        spec=spec,
        expectation=expectation,
        crossing_write=crossing,
    )
