"""From a request's result to a ledger charge: provider counts first, else estimates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from token_budget.ledger import Ledger, MemoryStore, charge_from_result
from token_budget.ledger.prices import price_for


@dataclass
class FakeUsage:
    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass
class FakeResult:
    estimated_tokens: int
    usage: Any
    cost: Any = None
    model: str = "gpt-4o-mini"
    provider: str = "openai"
    counted_chars: int | None = None


def test_cost_object_is_taken_as_it_is() -> None:
    cost = {"basis": "partial", "prompt_tokens": 11, "completion_tokens": 40,
            "usd": 0.000123, "note": None}  # fmt: skip

    charge = charge_from_result(FakeResult(40, {"prompt_tokens": 11}, cost))

    assert (charge.basis, charge.prompt_tokens, charge.completion_tokens) == (
        "partial",
        11,
        40,
    )
    assert charge.usd_micros == 123


def test_without_cost_provider_usage_wins_over_estimates() -> None:
    charge = charge_from_result(FakeResult(90, FakeUsage(12, 77)), prompt_estimate=30)

    assert (charge.basis, charge.prompt_tokens, charge.completion_tokens) == (
        "provider",
        12,
        77,
    )


def test_without_usage_the_estimates_are_used_and_said_so() -> None:
    charge = charge_from_result(FakeResult(90, None), prompt_estimate=30)

    assert (charge.basis, charge.prompt_tokens, charge.completion_tokens) == (
        "estimate",
        30,
        90,
    )


def test_one_reported_count_is_partial() -> None:
    charge = charge_from_result(FakeResult(90, FakeUsage(None, 70)), prompt_estimate=30)

    assert (charge.basis, charge.prompt_tokens, charge.completion_tokens) == (
        "partial",
        30,
        70,
    )


def test_rejected_request_costs_nothing() -> None:
    cost = {"basis": "none", "prompt_tokens": 0, "completion_tokens": 0, "usd": None}

    charge = charge_from_result(FakeResult(0, None, cost))

    assert (charge.tokens, charge.usd_micros) == (0, 0)


def test_missing_usd_is_priced_from_the_price_table() -> None:
    price = price_for("gpt-4o-mini", "openai")
    if price is None:
        pytest.skip("the package's prices.json has no gpt-4o-mini row to price with")
    cost = {"basis": "provider", "prompt_tokens": 1000, "completion_tokens": 2000,
            "usd": None}  # fmt: skip

    charge = charge_from_result(FakeResult(2000, FakeUsage(1000, 2000), cost))

    expected = round(1000 * price.input_per_mtok + 2000 * price.output_per_mtok)
    assert charge.usd_micros == expected > 0


def test_unknown_model_is_recorded_without_a_price() -> None:
    charge = charge_from_result(
        FakeResult(10, FakeUsage(1, 10), model="no-such-model", provider="x")
    )

    assert (charge.tokens, charge.usd_micros) == (11, 0)


def test_only_provider_counted_results_teach_the_ratio() -> None:
    taught = charge_from_result(FakeResult(10, FakeUsage(5, 50), counted_chars=210))
    guessed = charge_from_result(FakeResult(10, None, counted_chars=210))

    assert taught.teaches_ratio is True
    assert guessed.teaches_ratio is False


def test_a_real_loopback_result_settles_into_the_ledger() -> None:
    budget = pytest.importorskip("token_budget.budget")
    ledger = Ledger(MemoryStore())
    ledger.set_quota("alice", "1000")
    reservation = ledger.reserve("alice", 40, prompt_tokens=3)

    result = budget.stream_with_budget_sync(
        "loopback", "Why budgets?", reservation.tokens
    )
    settlement = ledger.settle_result(reservation, result)

    (standing,) = ledger.usage("alice")
    assert settlement.basis == result.cost.basis
    expected = result.cost.prompt_tokens + result.cost.completion_tokens
    assert standing.used_tokens == settlement.charged_tokens == expected
    assert standing.completion_tokens >= result.estimated_tokens >= 40
