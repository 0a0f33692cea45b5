"""The Redis store: one ledger for many processes on many hosts.

Every reserve and every settle is one Lua script, which Redis runs atomically: no
other command runs between its read of the remaining tokens and its write of the hold.
All keys of one user share a hash tag; the user set and the calibration sums do not, so
the store targets a single Redis server or a primary with replicas, not Redis Cluster.

Layout under ``PREFIX`` (default ``tb``), with ``U`` the percent-encoded user:

  PREFIX:{U}:quota   hash   tokens, usd_micros, period
  PREFIX:{U}:used    hash   "<period key>|tokens|prompt|completion|usd|requests|held"
  PREFIX:{U}:rsv     hash   reservation id -> "state|held|charged|expires_at|period key"
  PREFIX:{U}:open    zset   open reservation ids by expiry time
  PREFIX:{U}:done    zset   settled or expired ids by closing time (pruned)
  PREFIX:users       set    every user the ledger has seen
  PREFIX:cal         hash   "<model>|chars", "<model>|tokens", "<model>|samples"
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .errors import InvalidLedgerURL, LedgerUnavailable
from .quota import Period, PeriodKeys, Quota
from .records import Outcome, Reservation, Settlement, UsageRow
from .store import ReserveRequest, SettleRequest, decide_grant

logger = logging.getLogger("token_budget.ledger.redis")

T = TypeVar("T")

# Shared by the scripts below: how a reservation and a period are read.
_LUA_COMMON = r"""
local function int(x) return string.format('%d', x) end

local function parse(raw)
  local s, h, c, e, p = string.match(raw, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  return {s = s, h = tonumber(h), c = tonumber(c), e = tonumber(e), e_text = e, p = p}
end

local function record(r)
  return r.s .. '|' .. int(r.h) .. '|' .. int(r.c) .. '|' .. r.e_text .. '|' .. r.p
end

local function period_key(quota_key, day, month)
  local period = redis.call('HGET', quota_key, 'period')
  if period == 'day' then return day end
  if period == 'month' then return month end
  return 'all'
end

local function get(used_key, field)
  return tonumber(redis.call('HGET', used_key, field) or '0')
end
"""

# KEYS: quota used rsv open done users
# ARGV: now ttl tokens prompt id day month user expires_text
_RESERVE = (
    _LUA_COMMON
    + r"""
local now = tonumber(ARGV[1])
local asked = tonumber(ARGV[3])
local prompt = tonumber(ARGV[4])
local id = ARGV[5]

redis.call('SADD', KEYS[6], ARGV[8])

-- Charge every lapsed reservation in full, exactly once.
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1])) do
  local raw = redis.call('HGET', KEYS[3], rid)
  if raw then
    local r = parse(raw)
    if r.s == 'open' then
      redis.call('HINCRBY', KEYS[2], r.p .. '|tokens', int(r.h))
      redis.call('HINCRBY', KEYS[2], r.p .. '|requests', 1)
      redis.call('HINCRBY', KEYS[2], r.p .. '|held', int(-r.h))
      r.s = 'expired'
      r.c = r.h
      redis.call('HSET', KEYS[3], rid, record(r))
      redis.call('ZADD', KEYS[5], ARGV[1], rid)
    end
  end
  redis.call('ZREM', KEYS[4], rid)
end

local pkey = period_key(KEYS[1], ARGV[6], ARGV[7])
local used = get(KEYS[2], pkey .. '|tokens')
local held = get(KEYS[2], pkey .. '|held')
local usd = get(KEYS[2], pkey .. '|usd')
local limit = redis.call('HGET', KEYS[1], 'tokens')
local usd_limit = redis.call('HGET', KEYS[1], 'usd_micros')
local has_quota = redis.call('EXISTS', KEYS[1]) == 1
local period = redis.call('HGET', KEYS[1], 'period')

local granted = asked
local remaining = -1
if has_quota then
  if usd_limit and usd >= tonumber(usd_limit) then
    return {0, 'usd', used, held, pkey, usd, tonumber(usd_limit), period}
  end
  if limit then
    local left = tonumber(limit) - used - held - prompt
    if left < 1 then
      return {0, 'tokens', used, held, pkey, usd, tonumber(limit), period}
    end
    granted = math.min(asked, left)
    remaining = left - granted
  end
end

local r = {s = 'open', h = granted + prompt, c = 0, e_text = ARGV[9], p = pkey}
redis.call('HSET', KEYS[3], id, record(r))
redis.call('ZADD', KEYS[4], ARGV[9], id)
redis.call('HINCRBY', KEYS[2], pkey .. '|held', int(r.h))
return {1, granted, remaining, pkey}
"""
)

# KEYS: quota used rsv open done users cal
# ARGV: now id prompt completion usd day month cutoff user model chars
_SETTLE = (
    _LUA_COMMON
    + r"""
local now = tonumber(ARGV[1])
local id = ARGV[2]
local prompt = tonumber(ARGV[3])
local completion = tonumber(ARGV[4])
local total = prompt + completion

-- Forget reservations closed longer ago than the retention.
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[8])) do
  redis.call('HDEL', KEYS[3], rid)
end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[8])

local function add(pkey, tokens, requests)
  redis.call('HINCRBY', KEYS[2], pkey .. '|tokens', int(tokens))
  redis.call('HINCRBY', KEYS[2], pkey .. '|prompt', ARGV[3])
  redis.call('HINCRBY', KEYS[2], pkey .. '|completion', ARGV[4])
  redis.call('HINCRBY', KEYS[2], pkey .. '|usd', ARGV[5])
  redis.call('HINCRBY', KEYS[2], pkey .. '|requests', requests)
end

local raw = redis.call('HGET', KEYS[3], id)
local outcome
local pkey
local released = 0
if not raw then
  redis.call('SADD', KEYS[6], ARGV[9])
  pkey = period_key(KEYS[1], ARGV[6], ARGV[7])
  add(pkey, total, 1)
  outcome = 'unreserved'
else
  local r = parse(raw)
  pkey = r.p
  if r.s == 'settled' then
    return {'duplicate', pkey, 0}
  end
  if r.s == 'expired' then
    -- The expiry charged the whole hold; replace it with the real cost.
    add(pkey, total - r.c, 0)
    released = math.max(0, r.c - total)
    outcome = 'late'
  else
    add(pkey, total, 1)
    redis.call('HINCRBY', KEYS[2], pkey .. '|held', int(-r.h))
    redis.call('ZREM', KEYS[4], id)
    released = math.max(0, r.h - total)
    if r.e <= now then outcome = 'late' else outcome = 'settled' end
  end
  r.s = 'settled'
  redis.call('HSET', KEYS[3], id, record(r))
  redis.call('ZADD', KEYS[5], ARGV[1], id)
end

if ARGV[10] ~= '' then
  redis.call('HINCRBY', KEYS[7], ARGV[10] .. '|chars', ARGV[11])
  redis.call('HINCRBY', KEYS[7], ARGV[10] .. '|tokens', ARGV[4])
  redis.call('HINCRBY', KEYS[7], ARGV[10] .. '|samples', 1)
end
return {outcome, pkey, released}
"""
)

# KEYS: quota used rsv open.  ARGV: now day month.  Reads only.
_USAGE = (
    _LUA_COMMON
    + r"""
local now = tonumber(ARGV[1])
local pkey = period_key(KEYS[1], ARGV[2], ARGV[3])
local lapsed = 0
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1])) do
  local raw = redis.call('HGET', KEYS[3], rid)
  if raw then
    local r = parse(raw)
    if r.s == 'open' and r.p == pkey then lapsed = lapsed + r.h end
  end
end
local q = redis.call('HMGET', KEYS[1], 'tokens', 'usd_micros', 'period')
return {
  pkey, q[1] or '', q[2] or '', q[3] or '',
  get(KEYS[2], pkey .. '|tokens'), get(KEYS[2], pkey .. '|prompt'),
  get(KEYS[2], pkey .. '|completion'), get(KEYS[2], pkey .. '|usd'),
  get(KEYS[2], pkey .. '|requests'), get(KEYS[2], pkey .. '|held'), lapsed
}
"""
)


class RedisStore:
    """A ledger kept in Redis; ``url`` is ``redis://host:port/db[?prefix=NAME]``."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        try:
            import redis
        except ImportError:
            raise InvalidLedgerURL(
                "the Redis ledger needs the redis package: "
                "pip install 'token-budget[redis]'"
            ) from None

        address, self.prefix = _split_prefix(url)
        self.url = _redacted(address)
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError,)
        try:
            self._client = redis.Redis.from_url(
                address,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                decode_responses=True,
            )
        except ValueError as exc:
            raise InvalidLedgerURL(f"cannot use ledger URL {self.url}: {exc}") from exc
        self._reserve = self._client.register_script(_RESERVE)
        self._settle = self._client.register_script(_SETTLE)
        self._usage = self._client.register_script(_USAGE)

    def _keys(self, user: str) -> list[str]:
        tag = f"{self.prefix}:{{{quote(user, safe='')}}}"
        return [
            f"{tag}:quota",
            f"{tag}:used",
            f"{tag}:rsv",
            f"{tag}:open",
            f"{tag}:done",
            f"{self.prefix}:users",
            f"{self.prefix}:cal",
        ]

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise LedgerUnavailable(
                f"the Redis ledger at {self.url} failed ({type(exc).__name__}: {exc}); "
                "start it or fix --ledger / TOKEN_BUDGET_LEDGER, or pass --fail-open "
                "to run requests unmetered while it is down"
            ) from exc

    def _call(self, action: Callable[[], T]) -> T:
        with self._translate():
            return action()

    def set_quota(self, user: str, quota: Quota) -> None:
        keys = self._keys(user)
        with self._translate():
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(keys[0])
            pipe.hset(keys[0], "period", quota.period.value)
            if quota.tokens is not None:
                pipe.hset(keys[0], "tokens", quota.tokens)
            if quota.usd_micros is not None:
                pipe.hset(keys[0], "usd_micros", quota.usd_micros)
            pipe.sadd(keys[5], user)
            pipe.execute()

    def get_quota(self, user: str) -> Quota | None:
        raw: dict[str, str] = self._call(
            lambda: self._client.hgetall(self._keys(user)[0])  # type: ignore[arg-type,return-value]
        )
        if not raw:
            return None
        return _quota(raw.get("tokens", ""), raw.get("usd_micros", ""), raw["period"])

    def remove_quota(self, user: str) -> bool:
        return bool(self._call(lambda: self._client.delete(self._keys(user)[0])))

    def reset_usage(self, user: str, keys: PeriodKeys) -> None:
        quota = self.get_quota(user)
        pkey = keys.key(quota.period if quota is not None else Period.NONE)
        fields = [f"{pkey}|{name}" for name in _COUNTERS]
        self._call(lambda: self._client.hdel(self._keys(user)[1], *fields))

    def reserve(self, request: ReserveRequest) -> Reservation:
        expires_text = repr(request.now + request.ttl)
        args: list[str | int] = [
            repr(request.now),
            repr(request.ttl),
            request.tokens,
            request.prompt_tokens,
            request.reservation_id,
            request.keys.day,
            request.keys.month,
            request.user,
            expires_text,
        ]
        reply = self._call(
            lambda: self._reserve(keys=self._keys(request.user)[:6], args=args)
        )

        if int(reply[0]) == 0:
            self._refuse(request, reply)
        remaining = int(reply[2])
        return Reservation(
            id=request.reservation_id,
            user=request.user,
            period_key=str(reply[3]),
            tokens=int(reply[1]),
            prompt_tokens=request.prompt_tokens,
            expires_at=float(expires_text),
            remaining=None if remaining < 0 else remaining,
        )

    def _refuse(self, request: ReserveRequest, reply: list[Any]) -> NoReturn:
        """Raise the refusal through ``decide_grant`` so every store words it alike."""
        reason, limit = str(reply[1]), int(reply[6])
        quota = Quota(
            tokens=limit if reason == "tokens" else None,
            usd_micros=limit if reason == "usd" else None,
            period=Period.parse(str(reply[7])),
        )
        decide_grant(
            quota=quota,
            user=request.user,
            period_key=str(reply[4]),
            used=int(reply[2]),
            reserved=int(reply[3]),
            used_usd_micros=int(reply[5]),
            tokens=request.tokens,
            prompt_tokens=request.prompt_tokens,
        )
        raise AssertionError("the reserve script refused a grant the rule allows")

    def settle(self, request: SettleRequest) -> Settlement:
        charge = request.charge
        teaches = charge.teaches_ratio and charge.model is not None
        args: list[str | int] = [
            repr(request.now),
            request.reservation_id,
            charge.prompt_tokens,
            charge.completion_tokens,
            charge.usd_micros,
            request.keys.day,
            request.keys.month,
            repr(request.now - request.retention),
            request.user,
            charge.model if teaches and charge.model else "",
            charge.counted_chars or 0,
        ]
        reply = self._call(
            lambda: self._settle(keys=self._keys(request.user), args=args)
        )

        outcome: Outcome = reply[0]
        return Settlement(
            reservation_id=request.reservation_id,
            user=request.user,
            period_key=str(reply[1]),
            outcome=outcome,
            charged_tokens=0 if outcome == "duplicate" else charge.tokens,
            released_tokens=int(reply[2]),
            basis=charge.basis,
            usd_micros=0 if outcome == "duplicate" else charge.usd_micros,
        )

    def usage(self, user: str | None, now: float, keys: PeriodKeys) -> list[UsageRow]:
        if user is not None:
            users = [user]
        else:
            members = self._call(lambda: self._client.smembers(self._keys("")[5]))
            users = sorted(str(member) for member in members)
        return [self._row(name, now, keys) for name in users]

    def _row(self, user: str, now: float, keys: PeriodKeys) -> UsageRow:
        args: list[str | int] = [repr(now), keys.day, keys.month]
        reply = self._call(lambda: self._usage(keys=self._keys(user)[:4], args=args))

        pkey, tokens, usd, period = reply[0], reply[1], reply[2], reply[3]
        quota = _quota(tokens, usd, period) if period else None
        lapsed = int(reply[10])
        return UsageRow(
            user=user,
            period=quota.period if quota is not None else Period.NONE,
            period_key=str(pkey),
            quota_tokens=None if quota is None else quota.tokens,
            quota_usd_micros=None if quota is None else quota.usd_micros,
            used_tokens=int(reply[4]) + lapsed,
            prompt_tokens=int(reply[5]),
            completion_tokens=int(reply[6]),
            reserved_tokens=int(reply[9]) - lapsed,
            usd_micros=int(reply[7]),
            requests=int(reply[8]),
        )

    def calibration(self, model: str) -> tuple[int, int] | None:
        key = self._keys("")[6]
        chars, tokens = self._call(
            lambda: self._client.hmget(key, f"{model}|chars", f"{model}|tokens")
        )
        if chars is None or tokens is None:
            return None
        return int(chars), int(tokens)

    def close(self) -> None:
        self._client.close()


_COUNTERS = ("tokens", "prompt", "completion", "usd", "requests")


def _quota(tokens: str, usd_micros: str, period: str) -> Quota:
    return Quota(
        tokens=int(tokens) if tokens else None,
        usd_micros=int(usd_micros) if usd_micros else None,
        period=Period.parse(period),
    )


def _split_prefix(url: str) -> tuple[str, str]:
    """Take our own ``prefix`` query parameter out before redis-py sees the URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((value for name, value in query if name == "prefix"), "tb")
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix or "tb"


def _redacted(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}***@{netloc}"))
