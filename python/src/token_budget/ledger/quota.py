"""Quotas: how many tokens (and optionally how much money) a user may spend per period.

Periods follow the UTC calendar so that every host sharing a ledger agrees on when a
day or a month starts, whatever its local time zone.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import InvalidQuota

# Tokens are written like SPEC.md section 1.2 integers: ASCII digits only, no sign.
_TOKENS = re.compile(r"^[0-9]+$")
_USD = re.compile(r"^\$?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")

# Ledger counters are SQLite INTEGERs and Redis 64-bit integers: stay well inside both.
MAX_TOKENS = 2**53


class Period(enum.Enum):
    """The window a quota applies to; ``NONE`` never resets by itself."""

    NONE = "none"
    DAY = "day"
    MONTH = "month"

    @classmethod
    def parse(cls, text: str) -> Period:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise InvalidQuota(
                f"unknown quota period {text!r}; use one of: none, day, month"
            ) from None


@dataclass(frozen=True)
class PeriodKeys:
    """The bucket names of every period at one instant (UTC)."""

    day: str
    month: str
    none: str = "all"

    @classmethod
    def at(cls, now: float) -> PeriodKeys:
        moment = datetime.fromtimestamp(now, tz=UTC)
        return cls(day=moment.strftime("%Y-%m-%d"), month=moment.strftime("%Y-%m"))

    def key(self, period: Period) -> str:
        if period is Period.DAY:
            return self.day
        if period is Period.MONTH:
            return self.month
        return self.none


@dataclass(frozen=True)
class Quota:
    """A limit per period. ``tokens`` or ``usd_micros`` set to None means no limit.

    Money is kept in millionths of a dollar (SPEC.md section 6.3 rounds ``usd`` to six
    decimals), so sums stay exact in every store.
    """

    tokens: int | None
    period: Period = Period.NONE
    usd_micros: int | None = None

    def __post_init__(self) -> None:
        if self.tokens is not None and not 0 <= self.tokens <= MAX_TOKENS:
            raise InvalidQuota(
                f"a token quota must be between 0 and {MAX_TOKENS}, got {self.tokens}"
            )
        if self.usd_micros is not None and not 0 <= self.usd_micros <= MAX_TOKENS:
            raise InvalidQuota(
                f"a money quota must be between 0 and {MAX_TOKENS / 1e6:.0f} USD"
            )

    @property
    def usd(self) -> float | None:
        return None if self.usd_micros is None else self.usd_micros / 1e6

    def describe(self) -> str:
        """The quota in the same words ``parse_quota`` accepts."""
        tokens = "unlimited" if self.tokens is None else str(self.tokens)
        text = f"{tokens}/{self.period.value}"
        if self.usd_micros is not None:
            text += f" and ${self.usd_micros / 1e6:.6f}".rstrip("0").rstrip(".")
        return text


def parse_quota(text: str, *, usd: str | None = None) -> Quota:
    """Read ``TOKENS[/PERIOD]`` (``100000/day``), optionally with a money limit.

    ``TOKENS`` may also be ``unlimited`` when only the money limit matters.
    """
    amount, slash, period_text = text.strip().partition("/")
    period = Period.parse(period_text) if slash else Period.NONE

    tokens: int | None
    if amount.lower() == "unlimited":
        tokens = None
    elif _TOKENS.match(amount):
        tokens = int(amount)
    else:
        raise InvalidQuota(
            f"quota {text!r} is not a whole number of tokens; "
            "write it like 100000/day, 2000000/month or 50000 (no period)"
        )

    usd_micros = None if usd is None else parse_usd(usd)
    if tokens is None and usd_micros is None:
        raise InvalidQuota("an unlimited token quota needs a money limit (--usd)")
    return Quota(tokens=tokens, period=period, usd_micros=usd_micros)


def parse_usd(text: str) -> int:
    """Read a dollar amount such as ``5``, ``$2.50`` or ``.75`` into micro-dollars."""
    match = _USD.match(text.strip())
    if not match:
        raise InvalidQuota(
            f"money limit {text!r} is not a plain non-negative amount; "
            "write it like 5 or 2.50"
        )

    value = float(match.group(1))
    if not math.isfinite(value):
        raise InvalidQuota(f"money limit {text!r} is too large")
    return round(value * 1_000_000)
