"""The in-memory store: one process, no persistence; for library users and tests."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from .quota import Period, PeriodKeys, Quota
from .records import Reservation, Settlement, UsageRow
from .store import ReserveRequest, SettleRequest, decide_grant


@dataclass
class _Counters:
    tokens: int = 0
    prompt: int = 0
    completion: int = 0
    usd_micros: int = 0
    requests: int = 0


@dataclass
class _Held:
    user: str
    period_key: str
    held: int
    expires_at: float
    state: str = "open"  # open, expired (charged in full), settled
    charged: int = 0
    closed_at: float = 0.0


@dataclass
class _State:
    quotas: dict[str, Quota] = field(default_factory=dict)
    counters: dict[tuple[str, str], _Counters] = field(default_factory=dict)
    # Every reservation still remembered, and, per user, the ones still open; the
    # closed ones leave in closing order, so pruning never scans the whole table.
    holds: dict[str, _Held] = field(default_factory=dict)
    open_holds: dict[str, dict[str, _Held]] = field(default_factory=dict)
    closed: deque[tuple[float, str]] = field(default_factory=deque)
    calibration: dict[str, list[int]] = field(default_factory=dict)


class MemoryStore:
    """Every operation runs under one lock, which makes each of them atomic."""

    url = "memory://"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _State()

    def set_quota(self, user: str, quota: Quota) -> None:
        with self._lock:
            self._state.quotas[user] = quota

    def get_quota(self, user: str) -> Quota | None:
        with self._lock:
            return self._state.quotas.get(user)

    def remove_quota(self, user: str) -> bool:
        with self._lock:
            return self._state.quotas.pop(user, None) is not None

    def reset_usage(self, user: str, keys: PeriodKeys) -> None:
        with self._lock:
            self._state.counters.pop((user, self._period_key(user, keys)), None)

    def reserve(self, request: ReserveRequest) -> Reservation:
        with self._lock:
            self._sweep(request.user, request.now)
            quota = self._state.quotas.get(request.user)
            period_key = self._period_key(request.user, request.keys)
            counters = self._counters(request.user, period_key)

            granted, remaining = decide_grant(
                quota=quota,
                user=request.user,
                period_key=period_key,
                used=counters.tokens,
                reserved=self._reserved(request.user, period_key, request.now),
                used_usd_micros=counters.usd_micros,
                tokens=request.tokens,
                prompt_tokens=request.prompt_tokens,
            )

            expires_at = request.now + request.ttl
            hold = _Held(
                user=request.user,
                period_key=period_key,
                held=granted + request.prompt_tokens,
                expires_at=expires_at,
            )
            self._state.holds[request.reservation_id] = hold
            self._state.open_holds.setdefault(request.user, {})[
                request.reservation_id
            ] = hold
            return Reservation(
                id=request.reservation_id,
                user=request.user,
                period_key=period_key,
                tokens=granted,
                prompt_tokens=request.prompt_tokens,
                expires_at=expires_at,
                remaining=remaining,
            )

    def settle(self, request: SettleRequest) -> Settlement:
        with self._lock:
            self._prune(request.now - request.retention)
            charge = request.charge
            hold = self._state.holds.get(request.reservation_id)

            if hold is not None and hold.state == "settled":
                return _settlement(request, hold.period_key, "duplicate", 0, 0)

            if hold is None:
                period_key = self._period_key(request.user, request.keys)
                counters = self._counters(request.user, period_key)
                counters.tokens += charge.tokens
                counters.requests += 1
                outcome = "unreserved"
                released = 0
            elif hold.state == "expired":
                period_key = hold.period_key
                counters = self._counters(hold.user, period_key)
                # The expiry charged the whole hold; replace it with the real cost.
                counters.tokens += charge.tokens - hold.charged
                outcome = "late"
                released = max(0, hold.charged - charge.tokens)
            else:
                period_key = hold.period_key
                counters = self._counters(hold.user, period_key)
                counters.tokens += charge.tokens
                counters.requests += 1
                outcome = "late" if hold.expires_at <= request.now else "settled"
                released = max(0, hold.held - charge.tokens)

            counters.prompt += charge.prompt_tokens
            counters.completion += charge.completion_tokens
            counters.usd_micros += charge.usd_micros
            if hold is not None:
                self._close(request.reservation_id, hold, "settled", request.now)
            if charge.teaches_ratio and charge.model is not None:
                sums = self._state.calibration.setdefault(charge.model, [0, 0])
                sums[0] += charge.counted_chars or 0
                sums[1] += charge.completion_tokens
            return _settlement(request, period_key, outcome, charge.tokens, released)

    def usage(self, user: str | None, now: float, keys: PeriodKeys) -> list[UsageRow]:
        with self._lock:
            users = {user} if user is not None else self._known_users()
            return [self._row(name, now, keys) for name in sorted(users)]

    def calibration(self, model: str) -> tuple[int, int] | None:
        with self._lock:
            sums = self._state.calibration.get(model)
            return None if sums is None else (sums[0], sums[1])

    def close(self) -> None:
        """Nothing to release; kept for the common store interface."""

    def _known_users(self) -> set[str]:
        users = set(self._state.quotas)
        users.update(user for user, _ in self._state.counters)
        users.update(user for user, holds in self._state.open_holds.items() if holds)
        return users

    def _row(self, user: str, now: float, keys: PeriodKeys) -> UsageRow:
        quota = self._state.quotas.get(user)
        period = quota.period if quota is not None else Period.NONE
        period_key = keys.key(period)
        counters = self._state.counters.get((user, period_key), _Counters())

        # Expired holds count as used even before a reserve sweeps them.
        lapsed = sum(
            hold.held
            for hold in self._open_holds(user, period_key)
            if hold.expires_at <= now
        )
        return UsageRow(
            user=user,
            period=period,
            period_key=period_key,
            quota_tokens=None if quota is None else quota.tokens,
            quota_usd_micros=None if quota is None else quota.usd_micros,
            used_tokens=counters.tokens + lapsed,
            prompt_tokens=counters.prompt,
            completion_tokens=counters.completion,
            reserved_tokens=self._reserved(user, period_key, now),
            usd_micros=counters.usd_micros,
            requests=counters.requests,
        )

    def _period_key(self, user: str, keys: PeriodKeys) -> str:
        quota = self._state.quotas.get(user)
        return keys.key(quota.period if quota is not None else Period.NONE)

    def _counters(self, user: str, period_key: str) -> _Counters:
        return self._state.counters.setdefault((user, period_key), _Counters())

    def _open_holds(self, user: str, period_key: str) -> list[_Held]:
        holds = self._state.open_holds.get(user, {})
        return [hold for hold in holds.values() if hold.period_key == period_key]

    def _reserved(self, user: str, period_key: str, now: float) -> int:
        return sum(
            hold.held
            for hold in self._open_holds(user, period_key)
            if hold.expires_at > now
        )

    def _sweep(self, user: str, now: float) -> None:
        """Charge every lapsed reservation of ``user`` in full, exactly once."""
        holds = self._state.open_holds.get(user, {})
        lapsed = [(rid, hold) for rid, hold in holds.items() if hold.expires_at <= now]
        for rid, hold in lapsed:
            counters = self._counters(user, hold.period_key)
            counters.tokens += hold.held
            counters.requests += 1
            hold.charged = hold.held
            self._close(rid, hold, "expired", now)

    def _close(self, rid: str, hold: _Held, state: str, now: float) -> None:
        if hold.state == "open":
            del self._state.open_holds[hold.user][rid]
        hold.state = state
        hold.closed_at = now
        self._state.closed.append((now, rid))

    def _prune(self, before: float) -> None:
        closed = self._state.closed
        while closed and closed[0][0] < before:
            _, rid = closed.popleft()
            hold = self._state.holds.get(rid)
            if hold is not None and hold.state != "open" and hold.closed_at < before:
                del self._state.holds[rid]


def _settlement(
    request: SettleRequest, period_key: str, outcome: str, charged: int, released: int
) -> Settlement:
    return Settlement(
        reservation_id=request.reservation_id,
        user=request.user,
        period_key=period_key,
        outcome=outcome,  # type: ignore[arg-type]
        charged_tokens=charged,
        released_tokens=released,
        basis=request.charge.basis,
        usd_micros=request.charge.usd_micros if outcome != "duplicate" else 0,
    )
