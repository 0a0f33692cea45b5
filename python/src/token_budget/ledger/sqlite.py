"""The SQLite store: the embedded default, safe for many processes on one machine.

Each reserve and settle is one ``BEGIN IMMEDIATE`` transaction: it takes the write lock
before it reads, so two processes can never both see the same remaining tokens. WAL mode
lets ``usage`` read while another process writes. The file is never deleted, truncated
or rewritten by this module; a file it cannot read is reported and left as it was.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import LedgerCorrupt, LedgerError, LedgerReadOnly, LedgerUnavailable
from .quota import Period, PeriodKeys, Quota
from .records import Outcome, Reservation, Settlement, UsageRow
from .store import ReserveRequest, SettleRequest, decide_grant

logger = logging.getLogger("token_budget.ledger.sqlite")

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quotas (
    user_id TEXT PRIMARY KEY,
    tokens INTEGER,
    usd_micros INTEGER,
    period TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    user_id TEXT NOT NULL,
    period_key TEXT NOT NULL,
    tokens INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    usd_micros INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, period_key)
);
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    period_key TEXT NOT NULL,
    held INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    state TEXT NOT NULL,
    charged INTEGER NOT NULL DEFAULT 0,
    closed_at REAL
);
CREATE INDEX IF NOT EXISTS reservations_by_user
    ON reservations (user_id, state, period_key, expires_at);
CREATE INDEX IF NOT EXISTS reservations_by_close ON reservations (state, closed_at);
CREATE TABLE IF NOT EXISTS calibration (
    model TEXT PRIMARY KEY,
    chars INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    samples INTEGER NOT NULL
);
"""

_ADD_USAGE = """
INSERT INTO usage (user_id, period_key, tokens, prompt_tokens, completion_tokens,
                   usd_micros, requests)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (user_id, period_key) DO UPDATE SET
    tokens = tokens + excluded.tokens,
    prompt_tokens = prompt_tokens + excluded.prompt_tokens,
    completion_tokens = completion_tokens + excluded.completion_tokens,
    usd_micros = usd_micros + excluded.usd_micros,
    requests = requests + excluded.requests
"""


class SQLiteStore:
    """A ledger in one SQLite file (created with its folder when missing)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.url = f"sqlite://{self.path}"  # the location parser strips "sqlite://"
        self._lock = threading.Lock()
        self._busy_timeout = busy_timeout

        with self._translate():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        try:
            self._prepare()
        except BaseException:
            self._db.close()
            raise

    def _prepare(self) -> None:
        with self._translate():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LedgerCorrupt(
                    f"ledger {self.path} was written by a newer token-budget "
                    f"(schema {version}); upgrade token-budget or use another --ledger"
                )
            # WAL is a property of the file: switching needs a write, so only do it
            # when the file is not in WAL yet (a read-only copy can still be read).
            mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            if version < SCHEMA_VERSION:
                with self._transaction() as db:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Turn sqlite3 errors into ledger errors that say what to do."""
        try:
            yield
        except LedgerError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise _translate_error(self.path, exc) from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; the lock is taken before anything is read."""
        with self._lock, self._translate():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                # A failed COMMIT leaves the transaction open; never leave it so.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._translate():
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("ROLLBACK")

    def set_quota(self, user: str, quota: Quota) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO quotas (user_id, tokens, usd_micros, period) "
                "VALUES (?, ?, ?, ?)",
                (user, quota.tokens, quota.usd_micros, quota.period.value),
            )

    def get_quota(self, user: str) -> Quota | None:
        with self._reading() as db:
            return _quota(db, user)

    def remove_quota(self, user: str) -> bool:
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM quotas WHERE user_id = ?", (user,))
            return cursor.rowcount > 0

    def reset_usage(self, user: str, keys: PeriodKeys) -> None:
        with self._transaction() as db:
            db.execute(
                "DELETE FROM usage WHERE user_id = ? AND period_key = ?",
                (user, _period_key(db, user, keys)),
            )

    def reserve(self, request: ReserveRequest) -> Reservation:
        with self._transaction() as db:
            _sweep(db, request.user, request.now)
            quota = _quota(db, request.user)
            period_key = keys_for(quota, request.keys)
            used, _, _, usd_micros, _ = _counters(db, request.user, period_key)

            granted, remaining = decide_grant(
                quota=quota,
                user=request.user,
                period_key=period_key,
                used=used,
                reserved=_reserved(db, request.user, period_key, request.now),
                used_usd_micros=usd_micros,
                tokens=request.tokens,
                prompt_tokens=request.prompt_tokens,
            )

            expires_at = request.now + request.ttl
            db.execute(
                "INSERT INTO reservations (id, user_id, period_key, held, expires_at, "
                "state) VALUES (?, ?, ?, ?, ?, 'open')",
                (
                    request.reservation_id,
                    request.user,
                    period_key,
                    granted + request.prompt_tokens,
                    expires_at,
                ),
            )
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
        charge = request.charge
        with self._transaction() as db:
            db.execute(
                "DELETE FROM reservations WHERE state IN ('expired', 'settled') "
                "AND closed_at < ?",
                (request.now - request.retention,),
            )
            row = db.execute(
                "SELECT user_id, period_key, held, expires_at, state, charged "
                "FROM reservations WHERE id = ?",
                (request.reservation_id,),
            ).fetchone()

            outcome: Outcome
            if row is not None and row[4] == "settled":
                return _settlement(request, row[1], "duplicate", 0, 0)
            if row is None:
                user, period_key = (
                    request.user,
                    _period_key(db, request.user, request.keys),
                )
                tokens, requests, released = charge.tokens, 1, 0
                outcome = "unreserved"
            elif row[4] == "expired":
                # The expiry charged the whole hold; replace it with the real cost.
                user, period_key = row[0], row[1]
                tokens, requests = charge.tokens - row[5], 0
                released = max(0, row[5] - charge.tokens)
                outcome = "late"
            else:
                user, period_key = row[0], row[1]
                tokens, requests = charge.tokens, 1
                released = max(0, row[2] - charge.tokens)
                outcome = "late" if row[3] <= request.now else "settled"

            db.execute(
                _ADD_USAGE,
                (
                    user,
                    period_key,
                    tokens,
                    charge.prompt_tokens,
                    charge.completion_tokens,
                    charge.usd_micros,
                    requests,
                ),
            )
            if row is not None:
                db.execute(
                    "UPDATE reservations SET state = 'settled', closed_at = ? "
                    "WHERE id = ?",
                    (request.now, request.reservation_id),
                )
            if charge.teaches_ratio and charge.model is not None:
                db.execute(
                    "INSERT INTO calibration (model, chars, tokens, samples) "
                    "VALUES (?, ?, ?, 1) ON CONFLICT (model) DO UPDATE SET "
                    "chars = chars + excluded.chars, "
                    "tokens = tokens + excluded.tokens, samples = samples + 1",
                    (charge.model, charge.counted_chars, charge.completion_tokens),
                )
        return _settlement(request, period_key, outcome, charge.tokens, released)

    def usage(self, user: str | None, now: float, keys: PeriodKeys) -> list[UsageRow]:
        with self._reading() as db:
            if user is not None:
                users = [user]
            else:
                users = [
                    name
                    for (name,) in db.execute(
                        "SELECT user_id FROM quotas UNION SELECT user_id FROM usage "
                        "UNION SELECT user_id FROM reservations ORDER BY 1"
                    )
                ]
            return [_row(db, name, now, keys) for name in users]

    def calibration(self, model: str) -> tuple[int, int] | None:
        with self._reading() as db:
            row = db.execute(
                "SELECT chars, tokens FROM calibration WHERE model = ?", (model,)
            ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def keys_for(quota: Quota | None, keys: PeriodKeys) -> str:
    return keys.key(quota.period if quota is not None else Period.NONE)


def _quota(db: sqlite3.Connection, user: str) -> Quota | None:
    row = db.execute(
        "SELECT tokens, usd_micros, period FROM quotas WHERE user_id = ?", (user,)
    ).fetchone()
    if row is None:
        return None
    return Quota(tokens=row[0], usd_micros=row[1], period=Period.parse(row[2]))


def _period_key(db: sqlite3.Connection, user: str, keys: PeriodKeys) -> str:
    return keys_for(_quota(db, user), keys)


def _counters(
    db: sqlite3.Connection, user: str, period_key: str
) -> tuple[int, int, int, int, int]:
    row = db.execute(
        "SELECT tokens, prompt_tokens, completion_tokens, usd_micros, requests "
        "FROM usage WHERE user_id = ? AND period_key = ?",
        (user, period_key),
    ).fetchone()
    if row is None:
        return 0, 0, 0, 0, 0
    return int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4])


def _reserved(db: sqlite3.Connection, user: str, period_key: str, now: float) -> int:
    row = db.execute(
        "SELECT COALESCE(SUM(held), 0) FROM reservations WHERE user_id = ? "
        "AND state = 'open' AND period_key = ? AND expires_at > ?",
        (user, period_key, now),
    ).fetchone()
    return int(row[0])


def _lapsed(db: sqlite3.Connection, user: str, period_key: str, now: float) -> int:
    row = db.execute(
        "SELECT COALESCE(SUM(held), 0) FROM reservations WHERE user_id = ? "
        "AND state = 'open' AND period_key = ? AND expires_at <= ?",
        (user, period_key, now),
    ).fetchone()
    return int(row[0])


def _sweep(db: sqlite3.Connection, user: str, now: float) -> None:
    """Charge every lapsed reservation of ``user`` in full, exactly once."""
    lapsed = db.execute(
        "SELECT id, period_key, held FROM reservations WHERE user_id = ? "
        "AND state = 'open' AND expires_at <= ?",
        (user, now),
    ).fetchall()
    for rid, period_key, held in lapsed:
        logger.info("reservation %s of %r lapsed; charging %d tokens", rid, user, held)
        db.execute(_ADD_USAGE, (user, period_key, held, 0, 0, 0, 1))
        db.execute(
            "UPDATE reservations SET state = 'expired', charged = held, closed_at = ? "
            "WHERE id = ?",
            (now, rid),
        )


def _row(db: sqlite3.Connection, user: str, now: float, keys: PeriodKeys) -> UsageRow:
    quota = _quota(db, user)
    period_key = keys_for(quota, keys)
    tokens, prompt, completion, usd_micros, requests = _counters(db, user, period_key)
    return UsageRow(
        user=user,
        period=quota.period if quota is not None else Period.NONE,
        period_key=period_key,
        quota_tokens=None if quota is None else quota.tokens,
        quota_usd_micros=None if quota is None else quota.usd_micros,
        used_tokens=tokens + _lapsed(db, user, period_key, now),
        prompt_tokens=prompt,
        completion_tokens=completion,
        reserved_tokens=_reserved(db, user, period_key, now),
        usd_micros=usd_micros,
        requests=requests,
    )


def _settlement(
    request: SettleRequest,
    period_key: str,
    outcome: Outcome,
    charged: int,
    released: int,
) -> Settlement:
    return Settlement(
        reservation_id=request.reservation_id,
        user=request.user,
        period_key=period_key,
        outcome=outcome,
        charged_tokens=charged,
        released_tokens=released,
        basis=request.charge.basis,
        usd_micros=0 if outcome == "duplicate" else request.charge.usd_micros,
    )


def _translate_error(path: Path, exc: BaseException) -> LedgerError:
    text = str(exc).lower()
    where = f"ledger file {path}"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return LedgerCorrupt(
            f"{where} is not a readable SQLite ledger ({exc}); it was left untouched: "
            "move it aside or point --ledger / TOKEN_BUDGET_LEDGER at another file"
        )
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return LedgerReadOnly(
            f"{where} cannot be written ({exc}); make the file and its folder "
            "writable or point --ledger / TOKEN_BUDGET_LEDGER elsewhere"
        )
    if "locked" in text or "busy" in text:
        return LedgerUnavailable(
            f"{where} stayed locked by another process ({exc}); retry, or find the "
            "process holding it"
        )
    if "unable to open" in text:
        return LedgerReadOnly(
            f"{where} cannot be opened ({exc}); check that its folder exists and is "
            "writable, or point --ledger / TOKEN_BUDGET_LEDGER elsewhere"
        )
    return LedgerUnavailable(f"{where} failed ({exc}); check the file and its folder")
