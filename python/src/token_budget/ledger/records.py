"""The values that cross the ledger's boundary: reservations, charges, settlements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .quota import Period

# Where the numbers of a charge come from; the words of SPEC.md section 6.3.
Basis = Literal["provider", "partial", "estimate", "none"]

# What a settlement did with its reservation:
#   settled     released the hold and recorded the real cost
#   late        the reservation had expired (charged in full); the charge was corrected
#   duplicate   this reservation was settled before; nothing changed
#   unreserved  no reservation was known (fail-open, pruned); the cost was recorded
Outcome = Literal["settled", "late", "duplicate", "unreserved"]


@dataclass(frozen=True)
class Reservation:
    """Tokens held for one request until it settles or ``expires_at`` passes.

    ``tokens`` is the request's effective budget (its completion tokens); the prompt
    estimate is held beside it because the quota counts prompt and completion alike.
    An empty ``id`` marks a grant that the ledger did not record (no user, fail-open).
    """

    id: str
    user: str
    period_key: str
    tokens: int
    prompt_tokens: int
    expires_at: float
    remaining: int | None

    @property
    def held(self) -> int:
        return self.tokens + self.prompt_tokens

    @property
    def recorded(self) -> bool:
        return bool(self.id)


@dataclass(frozen=True)
class Charge:
    """What one finished request really cost, and where the numbers came from."""

    prompt_tokens: int
    completion_tokens: int
    basis: Basis
    usd_micros: int = 0
    model: str | None = None
    counted_chars: int | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def teaches_ratio(self) -> bool:
        """Only provider-counted completions say how many characters a token holds."""
        return (
            self.basis == "provider"
            and self.model is not None
            and self.counted_chars is not None
            and self.counted_chars > 0
            and self.completion_tokens > 0
        )


@dataclass(frozen=True)
class Settlement:
    """The ledger's answer to a settle: what it recorded and what it gave back."""

    reservation_id: str
    user: str
    period_key: str
    outcome: Outcome
    charged_tokens: int
    released_tokens: int
    basis: Basis
    usd_micros: int


@dataclass(frozen=True)
class UsageRow:
    """One user's standing in one period, as ``token-budget usage`` shows it.

    Reservations that expired but were not swept yet already count as used here.
    """

    user: str
    period: Period
    period_key: str
    quota_tokens: int | None
    quota_usd_micros: int | None
    used_tokens: int
    prompt_tokens: int
    completion_tokens: int
    reserved_tokens: int
    usd_micros: int
    requests: int

    @property
    def remaining(self) -> int | None:
        if self.quota_tokens is None:
            return None
        return max(0, self.quota_tokens - self.used_tokens - self.reserved_tokens)

    def as_dict(self) -> dict[str, object]:
        return {
            "user": self.user,
            "period": self.period.value,
            "period_key": self.period_key,
            "quota_tokens": self.quota_tokens,
            "quota_usd": None
            if self.quota_usd_micros is None
            else self.quota_usd_micros / 1e6,
            "used_tokens": self.used_tokens,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reserved_tokens": self.reserved_tokens,
            "remaining_tokens": self.remaining,
            "usd": self.usd_micros / 1e6,
            "requests": self.requests,
        }
