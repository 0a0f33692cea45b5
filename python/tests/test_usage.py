"""Usage snapshots replace, never add; cost picks its basis and prices from the table."""

from __future__ import annotations

import pytest

from token_budget.usage import (
    Price,
    PriceTable,
    Usage,
    UsageUpdate,
    as_count,
    compute_cost,
    load_prices,
)


def test_snapshots_replace_instead_of_adding() -> None:
    usage = UsageUpdate.both(5, 0).apply(None)
    usage = UsageUpdate.both(5, 2).apply(usage)
    assert usage == Usage(5, 2)
    assert usage.total_tokens == 7


def test_an_update_keeps_the_counts_it_does_not_set() -> None:
    usage = UsageUpdate(prompt_tokens=20, sets_prompt=True).apply(None)
    assert usage == Usage(20, None)
    assert usage.total_tokens is None

    usage = UsageUpdate(completion_tokens=4, sets_completion=True).apply(usage)
    assert usage == Usage(20, 4)


def test_an_update_that_sets_nothing_keeps_usage_null() -> None:
    assert UsageUpdate().apply(None) is None


@pytest.mark.parametrize(
    ("value", "expected"), [(3, 3), (0, 0), (-1, None), (2.0, None), (True, None)]
)
def test_only_non_negative_integers_are_counts(value: object, expected: object) -> None:
    assert as_count(value) == expected


TABLE = PriceTable(
    "t1",
    "2026-01-01",
    (
        Price("openai", "m", 2.0, 8.0, "test", "2026-01-01"),
        Price("ollama", "*", 0.0, 0.0, "runs locally", "2026-01-01"),
    ),
)


def test_provider_basis_prices_both_reported_counts() -> None:
    cost = compute_cost(
        provider="openai",
        model="m",
        usage=Usage(1000, 500),
        prompt_estimate=1,
        completion_estimate=1,
        prices=TABLE,
    )
    assert (cost.basis, cost.prompt_tokens, cost.completion_tokens) == (
        "provider",
        1000,
        500,
    )
    assert cost.usd == pytest.approx((1000 * 2.0 + 500 * 8.0) / 1e6)


def test_partial_basis_fills_the_missing_count_with_the_estimate() -> None:
    cost = compute_cost(
        provider="openai",
        model="m",
        usage=Usage(30, None),
        prompt_estimate=9,
        completion_estimate=2,
        prices=TABLE,
    )
    assert (cost.basis, cost.prompt_tokens, cost.completion_tokens) == (
        "partial",
        30,
        2,
    )


def test_estimate_basis_when_nothing_was_reported() -> None:
    cost = compute_cost(
        provider="openai",
        model="m",
        usage=None,
        prompt_estimate=3,
        completion_estimate=2,
        prices=TABLE,
    )
    assert (cost.basis, cost.prompt_tokens, cost.completion_tokens) == (
        "estimate",
        3,
        2,
    )
    assert cost.usd == round((3 * 2.0 + 2 * 8.0) / 1e6, 6)


def test_rejected_request_costs_a_real_zero() -> None:
    cost = compute_cost(
        provider="openai",
        model="m",
        usage=None,
        prompt_estimate=3,
        completion_estimate=0,
        rejected=True,
        prices=TABLE,
    )
    assert (cost.basis, cost.prompt_tokens, cost.completion_tokens, cost.usd) == (
        "none",
        0,
        0,
        0.0,
    )


def test_unknown_model_has_null_usd_and_a_note() -> None:
    cost = compute_cost(
        provider="openai",
        model="nope",
        usage=None,
        prompt_estimate=1,
        completion_estimate=1,
        prices=TABLE,
    )
    assert cost.usd is None
    assert cost.note is not None and "nope" in cost.note


def test_usd_is_rounded_to_six_places() -> None:
    cost = compute_cost(
        provider="openai",
        model="m",
        usage=Usage(1, 1),
        prompt_estimate=0,
        completion_estimate=0,
        prices=TABLE,
    )
    assert cost.usd == 0.00001


def test_shipped_table_has_versions_sources_and_current_models() -> None:
    table = load_prices()
    assert table.version and table.date
    for provider, model in [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
        ("openai", "gpt-4.1-nano"),
        ("openai", "o4-mini"),
        ("openai", "gpt-5-mini"),
        ("anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5"),
        ("anthropic", "claude-opus-4-1"),
    ]:
        row = table.lookup(provider, model)
        assert row is not None, model
        assert row.source.startswith("http") and row.read_on
        assert row.output_per_million > row.input_per_million > 0

    local = table.lookup("ollama", "anything")
    assert local is not None and local.source == "runs locally"


def test_dated_snapshots_price_as_their_family_but_new_names_do_not() -> None:
    table = load_prices()
    dated = table.lookup("anthropic", "claude-sonnet-4-5-20250929")
    assert dated is not None and dated.model == "claude-sonnet-4-5"
    assert table.lookup("openai", "gpt-4o-mini-2024-07-18").model == "gpt-4o-mini"  # type: ignore[union-attr]
    assert table.lookup("anthropic", "claude-opus-4-9") is None
