"""The interface every ledger store implements, and the rule they all share.

A store owns atomicity: ``reserve`` and ``settle`` are each one indivisible step
(a lock in memory, one ``BEGIN IMMEDIATE`` transaction in SQLite, one Lua script in
Redis). The arithmetic that decides a grant lives here once, in ``decide_grant``, and
the Redis script mirrors it line for line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .errors import QuotaExceeded
from .quota import Period, PeriodKeys, Quota
from .records import Charge, Reservation, Settlement, UsageRow


@dataclass(frozen=True)
class ReserveRequest:
    user: str
    tokens: int
    prompt_tokens: int
    now: float
    ttl: float
    reservation_id: str
    keys: PeriodKeys


@dataclass(frozen=True)
class SettleRequest:
    reservation_id: str
    user: str
    charge: Charge
    now: float
    keys: PeriodKeys
    # How long a settled or expired reservation is remembered, so that a late or
    # repeated settle is recognised instead of counted again.
    retention: float


class LedgerStore(Protocol):
    """Where quotas, usage, reservations and calibration sums are kept."""

    url: str

    def set_quota(self, user: str, quota: Quota) -> None: ...

    def get_quota(self, user: str) -> Quota | None: ...

    def remove_quota(self, user: str) -> bool: ...

    def reset_usage(self, user: str, keys: PeriodKeys) -> None: ...

    def reserve(self, request: ReserveRequest) -> Reservation: ...

    def settle(self, request: SettleRequest) -> Settlement: ...

    def usage(
        self, user: str | None, now: float, keys: PeriodKeys
    ) -> list[UsageRow]: ...

    def calibration(self, model: str) -> tuple[int, int] | None:
        """The (characters, tokens) sums learned for a model, or None."""
        ...

    def close(self) -> None: ...


def decide_grant(
    *,
    quota: Quota | None,
    user: str,
    period_key: str,
    used: int,
    reserved: int,
    used_usd_micros: int,
    tokens: int,
    prompt_tokens: int,
) -> tuple[int, int | None]:
    """Return (granted completion tokens, remaining after the grant) or refuse.

    The grant is min(asked, what is left once the prompt estimate is held too). A user
    without a quota is always granted what was asked, so the ledger still records use.
    """
    if quota is None:
        return tokens, None

    if quota.usd_micros is not None and used_usd_micros >= quota.usd_micros:
        raise QuotaExceeded(
            f"user {user!r} has spent ${used_usd_micros / 1e6:.6f} of the "
            f"${quota.usd_micros / 1e6:.6f} allowed for {period_key}; "
            + _hint(user, quota, "--usd AMOUNT"),
            user=user,
            period_key=period_key,
            limit=quota.tokens or 0,
            used=used,
            reserved=reserved,
        )
    if quota.tokens is None:
        return tokens, None

    left = quota.tokens - used - reserved - prompt_tokens
    if left < 1:
        raise QuotaExceeded(
            f"user {user!r} has no tokens left for {period_key}: {used} used and "
            f"{reserved} reserved of {quota.tokens}"
            + (f" (the prompt needs {prompt_tokens})" if prompt_tokens else "")
            + "; "
            + _hint(user, quota, ""),
            user=user,
            period_key=period_key,
            limit=quota.tokens,
            used=used,
            reserved=reserved,
        )

    granted = min(tokens, left)
    return granted, left - granted


def _hint(user: str, quota: Quota, extra: str) -> str:
    """Tell a refused user what would let the request through."""
    command = f"token-budget quota set {user} N/{quota.period.value}"
    if extra:
        command += f" {extra}"
    if quota.period is Period.NONE:
        return f"raise the quota with `{command}` or reset it"
    return f"wait for the next {quota.period.value} (UTC) or raise it with `{command}`"
