"""The same behaviour, checked on every store (memory, SQLite, Redis)."""

from __future__ import annotations

import pytest

from token_budget.ledger import Charge, Ledger, Quota, QuotaExceeded
from token_budget.ledger.quota import Period

from .ledger_support import FakeClock


def provider_charge(prompt: int, completion: int, **extra: object) -> Charge:
    return Charge(prompt, completion, "provider", **extra)  # type: ignore[arg-type]


def row(ledger: Ledger, user: str = "alice"):  # type: ignore[no-untyped-def]
    (only,) = ledger.usage(user)
    return only


def test_grant_is_the_smaller_of_asked_and_remaining(ledger: Ledger) -> None:
    ledger.set_quota("alice", "100/day")

    first = ledger.reserve("alice", 60)
    second = ledger.reserve("alice", 60)

    assert (first.tokens, first.remaining) == (60, 40)
    assert (second.tokens, second.remaining) == (40, 0)
    assert row(ledger).reserved_tokens == 100


def test_nothing_left_is_refused_with_what_to_do(ledger: Ledger) -> None:
    ledger.set_quota("alice", "50/day")
    ledger.reserve("alice", 50)

    with pytest.raises(QuotaExceeded) as caught:
        ledger.reserve("alice", 1)

    assert caught.value.exit_code == 3
    assert caught.value.reserved == 50
    message = str(caught.value)
    assert "alice" in message and "quota set alice" in message
    assert "\n" not in message


def test_settle_records_the_real_cost_and_releases_the_rest(ledger: Ledger) -> None:
    ledger.set_quota("alice", "100")
    reservation = ledger.reserve("alice", 80, prompt_tokens=10)

    settlement = ledger.settle(reservation, provider_charge(12, 30, usd_micros=7))

    assert settlement.outcome == "settled"
    assert settlement.charged_tokens == 42
    assert settlement.released_tokens == 90 - 42
    standing = row(ledger)
    assert (standing.used_tokens, standing.reserved_tokens) == (42, 0)
    assert (standing.prompt_tokens, standing.completion_tokens) == (12, 30)
    assert (standing.usd_micros, standing.requests, standing.remaining) == (7, 1, 58)


def test_prompt_estimate_is_held_beside_the_budget(ledger: Ledger) -> None:
    ledger.set_quota("alice", "100")

    reservation = ledger.reserve("alice", 100, prompt_tokens=30)

    assert reservation.tokens == 70
    with pytest.raises(QuotaExceeded, match="the prompt needs 5"):
        ledger.reserve("alice", 10, prompt_tokens=5)


def test_overshoot_is_recorded_as_it_was(ledger: Ledger) -> None:
    ledger.set_quota("alice", "100")
    reservation = ledger.reserve("alice", 100)

    ledger.settle(reservation, provider_charge(0, 104))

    assert row(ledger).used_tokens == 104
    assert row(ledger).remaining == 0
    with pytest.raises(QuotaExceeded):
        ledger.reserve("alice", 1)


def test_users_are_kept_apart(ledger: Ledger) -> None:
    ledger.set_quota("alice", "10")
    ledger.set_quota("bob:{x}", "1000")
    ledger.reserve("alice", 10)

    granted = ledger.reserve("bob:{x}", 500)

    assert granted.tokens == 500
    assert [r.user for r in ledger.usage()] == ["alice", "bob:{x}"]


def test_a_user_without_quota_is_granted_and_still_recorded(ledger: Ledger) -> None:
    reservation = ledger.reserve("carol", 300)
    ledger.settle(reservation, provider_charge(5, 200))

    assert (reservation.tokens, reservation.remaining) == (300, None)
    standing = row(ledger, "carol")
    assert (standing.quota_tokens, standing.used_tokens, standing.period) == (
        None,
        205,
        Period.NONE,
    )


def test_money_quota_refuses_once_spent(ledger: Ledger) -> None:
    ledger.set_quota("alice", Quota(tokens=None, usd_micros=1_000))
    reservation = ledger.reserve("alice", 100)
    ledger.settle(reservation, provider_charge(10, 10, usd_micros=1_000))

    with pytest.raises(QuotaExceeded, match=r"\$0\.001000"):
        ledger.reserve("alice", 100)


def test_lapsed_reservation_is_charged_once_in_full(
    ledger: Ledger, clock: FakeClock
) -> None:
    ledger.set_quota("alice", "100/day")
    ledger.reserve("alice", 30, prompt_tokens=5)

    clock.advance(61)
    seen_before_sweep = row(ledger)
    ledger.reserve("alice", 10)
    ledger.reserve("alice", 10)  # a second sweep must not charge it again

    assert (seen_before_sweep.used_tokens, seen_before_sweep.reserved_tokens) == (35, 0)
    standing = row(ledger)
    assert (standing.used_tokens, standing.reserved_tokens) == (35, 20)
    assert standing.requests == 1


def test_late_settle_replaces_the_lapse_charge(
    ledger: Ledger, clock: FakeClock
) -> None:
    ledger.set_quota("alice", "100/day")
    reservation = ledger.reserve("alice", 40)
    clock.advance(61)
    ledger.reserve("alice", 1)  # sweeps: 40 charged

    settlement = ledger.settle(reservation, provider_charge(3, 7))

    assert settlement.outcome == "late"
    assert settlement.released_tokens == 30
    standing = row(ledger)
    assert (standing.used_tokens, standing.requests) == (10, 1)


def test_settle_after_ttl_but_before_sweep_counts_once(
    ledger: Ledger, clock: FakeClock
) -> None:
    ledger.set_quota("alice", "100/day")
    reservation = ledger.reserve("alice", 40)
    clock.advance(61)

    settlement = ledger.settle(reservation, provider_charge(0, 25))
    ledger.reserve("alice", 1)

    assert settlement.outcome == "late"
    assert row(ledger).used_tokens == 25


def test_second_settle_changes_nothing(ledger: Ledger) -> None:
    ledger.set_quota("alice", "100")
    reservation = ledger.reserve("alice", 40)
    ledger.settle(reservation, provider_charge(1, 20))

    again = ledger.settle(reservation, provider_charge(1, 20))

    assert again.outcome == "duplicate"
    assert row(ledger).used_tokens == 21


def test_settle_without_a_recorded_reservation_is_counted(ledger: Ledger) -> None:
    ledger.set_quota("alice", "100")
    reservation = ledger.reserve("alice", 40)
    unrecorded = type(reservation)(
        id="", user="alice", period_key="", tokens=40, prompt_tokens=0,
        expires_at=0.0, remaining=None,
    )  # fmt: skip

    settlement = ledger.settle(unrecorded, provider_charge(2, 8))

    assert settlement.outcome == "unreserved"
    assert (row(ledger).used_tokens, row(ledger).reserved_tokens) == (10, 40)


def test_a_new_day_starts_from_zero(ledger: Ledger, clock: FakeClock) -> None:
    ledger.set_quota("alice", "100/day")
    ledger.settle(ledger.reserve("alice", 100), provider_charge(0, 100))
    with pytest.raises(QuotaExceeded):
        ledger.reserve("alice", 1)

    clock.advance(12 * 3600 + 1)  # past midnight UTC
    reservation = ledger.reserve("alice", 100)

    assert reservation.tokens == 100
    assert reservation.period_key == "2025-12-05"


def test_month_period_spans_days(ledger: Ledger, clock: FakeClock) -> None:
    ledger.set_quota("alice", "100/month")
    ledger.settle(ledger.reserve("alice", 60), provider_charge(0, 60))

    clock.advance(3 * 86400)
    reservation = ledger.reserve("alice", 60)

    assert (reservation.tokens, reservation.period_key) == (40, "2025-12")


def test_reset_forgets_use_but_keeps_holds_and_quota(ledger: Ledger) -> None:
    ledger.set_quota("alice", "100/day")
    ledger.settle(ledger.reserve("alice", 50), provider_charge(0, 50))
    ledger.reserve("alice", 20)

    ledger.reset_usage("alice")

    standing = row(ledger)
    assert (standing.used_tokens, standing.reserved_tokens) == (0, 20)
    assert ledger.quota("alice") == Quota(tokens=100, period=Period.DAY)


def test_remove_quota_makes_the_user_unlimited(ledger: Ledger) -> None:
    ledger.set_quota("alice", "10")

    assert ledger.remove_quota("alice") is True
    assert ledger.remove_quota("alice") is False
    assert ledger.quota("alice") is None
    assert ledger.reserve("alice", 500).tokens == 500


def test_quota_round_trips_through_the_store(ledger: Ledger) -> None:
    quota = Quota(tokens=123_456, period=Period.MONTH, usd_micros=2_500_000)

    ledger.set_quota("alice", quota)

    assert ledger.quota("alice") == quota
    assert ledger.quota("nobody") is None


def test_calibration_learns_chars_per_token(ledger: Ledger) -> None:
    for chars, tokens in ((400, 100), (500, 100)):
        reservation = ledger.reserve("alice", 200)
        ledger.settle(
            reservation,
            provider_charge(9, tokens, model="m-1", counted_chars=chars),
        )
    # Estimates teach nothing: their ratio is the one we assumed.
    reservation = ledger.reserve("alice", 200)
    ledger.settle(reservation, Charge(0, 50, "estimate", model="m-1", counted_chars=1))

    assert ledger.learned_chars_per_token("m-1") == pytest.approx(900 / 200)
    assert ledger.learned_chars_per_token("m-1", min_tokens=201) is None
    assert ledger.learned_chars_per_token("unknown") is None


def test_another_connection_sees_the_same_ledger(
    store_factory,
    clock: FakeClock,  # type: ignore[no-untyped-def]
) -> None:
    first = Ledger(store_factory(), clock=clock)
    second = Ledger(store_factory(), clock=clock)
    first.set_quota("alice", "100")

    first.reserve("alice", 70)

    assert second.reserve("alice", 70).tokens == 30
