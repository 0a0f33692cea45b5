"""The ledger: per-user quotas across requests, on top of any store.

Use it in two steps around every request::

    reservation = ledger.reserve("alice", budget=500, prompt_tokens=40)
    result = run_the_request(budget=reservation.tokens)
    ledger.settle_result(reservation, result)

``reserve`` holds tokens so that concurrent requests cannot together overspend; the
request's budget becomes min(asked, remaining). ``settle`` records what the request
really used and gives back the rest. A reservation that is never settled (the process
died) lapses after ``ttl`` seconds and is then charged in full, once: the request may
have spent its whole budget upstream before it died. A settle that arrives after that
replaces the full charge with the real one instead of adding to it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from .charges import charge_from_result
from .options import DEFAULT_TTL
from .quota import PeriodKeys, Quota, parse_quota
from .records import Charge, Reservation, Settlement, UsageRow
from .store import LedgerStore, ReserveRequest, SettleRequest

logger = logging.getLogger("token_budget.ledger")

# Settled and lapsed reservations are remembered this long so that a late or repeated
# settle is recognised; it must exceed any request's plausible run time.
DEFAULT_RETENTION = 7 * 86400.0
# Fewer provider-counted tokens than this teach too little to replace the default ratio.
MIN_CALIBRATION_TOKENS = 100


class Ledger:
    """Reserve before a request, settle after it; see the module docstring."""

    def __init__(
        self,
        store: LedgerStore,
        *,
        ttl: float = DEFAULT_TTL,
        retention: float = DEFAULT_RETENTION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        if not retention >= ttl:
            raise ValueError("retention must be at least the ttl")
        self.store = store
        self.ttl = ttl
        self.retention = retention
        self._clock = clock

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    def set_quota(self, user: str, quota: Quota | str) -> Quota:
        """Set a user's quota; a text such as ``100000/day`` is parsed first."""
        parsed = parse_quota(quota) if isinstance(quota, str) else quota
        self.store.set_quota(_user(user), parsed)
        logger.info("quota of %r set to %s", user, parsed.describe())
        return parsed

    def quota(self, user: str) -> Quota | None:
        return self.store.get_quota(_user(user))

    def remove_quota(self, user: str) -> bool:
        return self.store.remove_quota(_user(user))

    def reset_usage(self, user: str) -> None:
        """Forget what ``user`` used in the current period; holds stay in place."""
        self.store.reset_usage(_user(user), PeriodKeys.at(self._clock()))

    def reserve(self, user: str, budget: int, *, prompt_tokens: int = 0) -> Reservation:
        """Hold up to ``budget`` completion tokens plus the prompt estimate.

        Returns the reservation; its ``tokens`` is the budget the request may use.
        Raises ``QuotaExceeded`` when nothing is left, ``LedgerUnavailable`` when the
        store cannot be reached.
        """
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ValueError(f"budget must be an integer >= 1, got {budget!r}")
        if isinstance(prompt_tokens, bool) or prompt_tokens < 0:
            raise ValueError(f"prompt_tokens must be >= 0, got {prompt_tokens!r}")

        now = self._clock()
        reservation = self.store.reserve(
            ReserveRequest(
                user=_user(user),
                tokens=budget,
                prompt_tokens=prompt_tokens,
                now=now,
                ttl=self.ttl,
                reservation_id=uuid.uuid4().hex,
                keys=PeriodKeys.at(now),
            )
        )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "reserved %d+%d tokens for %r (%s)",
                reservation.tokens,
                reservation.prompt_tokens,
                user,
                reservation.id,
            )
        return reservation

    def settle(self, reservation: Reservation, charge: Charge) -> Settlement:
        """Record what the request cost and release the rest of its hold."""
        now = self._clock()
        # A grant the ledger never recorded (fail-open) is still counted, once.
        reservation_id = reservation.id or uuid.uuid4().hex
        settlement = self.store.settle(
            SettleRequest(
                reservation_id=reservation_id,
                user=reservation.user,
                charge=charge,
                now=now,
                keys=PeriodKeys.at(now),
                retention=self.retention,
            )
        )
        if settlement.outcome in ("late", "duplicate"):
            logger.warning(
                "reservation %s of %r was settled %s; recorded without double counting",
                reservation_id,
                reservation.user,
                "after it lapsed" if settlement.outcome == "late" else "twice",
            )
        return settlement

    def settle_result(self, reservation: Reservation, result: Any) -> Settlement:
        """Settle from a request's result (duck-typed, see ``charge_from_result``)."""
        charge = charge_from_result(result, prompt_estimate=reservation.prompt_tokens)
        return self.settle(reservation, charge)

    def usage(self, user: str | None = None) -> list[UsageRow]:
        """Each user's standing in the current period of their quota."""
        now = self._clock()
        return self.store.usage(
            None if user is None else _user(user), now, PeriodKeys.at(now)
        )

    def learned_chars_per_token(
        self, model: str, *, min_tokens: int = MIN_CALIBRATION_TOKENS
    ) -> float | None:
        """Characters per token measured from provider-counted completions, or None.

        None until at least ``min_tokens`` provider-counted tokens were recorded.
        """
        sums = self.store.calibration(model)
        if sums is None:
            return None
        chars, tokens = sums
        if tokens < max(1, min_tokens) or chars <= 0:
            return None
        return chars / tokens


def _user(user: str) -> str:
    if not isinstance(user, str) or not user:
        raise ValueError(f"user must be a non-empty string, got {user!r}")
    return user
