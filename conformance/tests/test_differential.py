"""Differential testing: every implementation must agree with a baseline.

For each generated stream the baseline (the first available implementation in registry
order, normally the Python reference) and the implementation under test run on the same
bytes; their results must be equal on every contract field except ``implementation``.
Free-text fields (``error.message``, ``cost.note``) and ``cost.usd`` between
implementations that do not both price (capability ``prices``) are left out: the
contract does not fix them (see the harness report's spec questions).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import streams
import support
from harness.judge import Finding, Outcome
from hypothesis import given, seed, settings
from test_properties import run_plan


def comparable(
    result: dict[str, Any] | None, both_price: bool
) -> dict[str, Any] | None:
    if result is None:
        return None
    view = copy.deepcopy(result)
    view.pop("implementation", None)
    view.pop("case_id", None)
    if isinstance(view.get("error"), dict):
        view["error"].pop("message", None)
    if isinstance(view.get("cost"), dict):
        view["cost"].pop("note", None)
        if not both_price:
            view["cost"].pop("usd", None)
    return view


@pytest.mark.check("differential")
def test_implementations_agree(
    suite: support.Suite, ready: support.ImplState, provider: str
) -> None:
    check = f"differential:{provider}"
    baseline_name = next(
        (n for n, s in suite.impls.items() if s.resolved.available), None
    )
    if baseline_name is None or baseline_name == ready.name:
        suite.conclude(
            ready.name,
            check,
            "differential",
            [],
            outcome=Outcome.NOT_APPLICABLE,
            note="the baseline itself, or no second implementation to compare",
        )
        return
    baseline = suite.ready(baseline_name, check, "differential")
    suite.applies(ready, check, "differential", provider)
    suite.applies(baseline, check, "differential", provider)
    both_price = {"prices"} <= ready.capabilities & baseline.capabilities
    failure: dict[str, Any] = {}

    @seed(support.SEED)
    @settings(max_examples=max(2, settings().max_examples // 2))
    @given(plan=streams.plans(provider, errors=False))
    def prop(plan: streams.Plan) -> None:
        ours, spec, _ = run_plan(ready, plan, "differential")
        theirs, _, broken = run_plan(baseline, plan, "differential")
        contract = [
            f for f in broken if f.kind not in ("oracle", "requests", "disconnect")
        ]
        if contract:
            # The baseline itself broke the contract: nothing is known about ours.
            stderr = theirs.stderr.decode("utf-8", "replace")[-300:]
            findings = [
                Finding(
                    "referee",
                    f"baseline {baseline_name} failed this example: {f}; "
                    f"exit {theirs.exit_code}, stderr {stderr!r}",
                )
                for f in contract[:3]
            ]
            failure.update(run=theirs, spec=spec, findings=findings)
            raise AssertionError(str(findings[0]))
        a = comparable(ours.result, both_price)
        b = comparable(theirs.result, both_price)
        if a != b or ours.exit_code != theirs.exit_code:
            keys = sorted({*(a or {}), *(b or {})})
            diff = [k for k in keys if (a or {}).get(k) != (b or {}).get(k)]
            detail = ", ".join(
                f"{k}: {(a or {}).get(k)!r} vs {baseline_name} {(b or {}).get(k)!r}"
                for k in diff[:4]
            )
            findings = [
                Finding(
                    "oracle",
                    f"differs from {baseline_name} (exit "
                    f"{ours.exit_code} vs {theirs.exit_code}): {detail}",
                )
            ]
            failure.update(run=ours, spec=spec, findings=findings)
            raise AssertionError(detail)

    try:
        prop()
    except AssertionError:
        pass
    except Exception as exc:  # noqa: BLE001 - Hypothesis' own verdicts (flaky, ...)
        failure.setdefault("findings", [])
        failure["findings"] = [
            *failure["findings"],
            Finding("referee", f"{type(exc).__name__}: {str(exc)[:300]}"),
        ]
    suite.conclude(
        ready.name,
        check,
        "differential",
        failure.get("findings", []),
        run=failure.get("run"),
        spec=failure.get("spec"),
    )
