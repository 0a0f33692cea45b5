"""Fixtures for the ledger tests: a real redis-server on 127.0.0.1, and every store.

The Redis fixture starts its own ``redis-server`` on a free port (no persistence) and
stops it by PID at the end of the session; it never talks to a Redis it did not start.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .ledger_support import SRC, FakeClock, RedisServer, redis_binary

if str(SRC) not in sys.path:
    # Lets the tests run from a plain checkout before the package is installed.
    sys.path.insert(0, str(SRC))

from token_budget.ledger import Ledger, MemoryStore
from token_budget.ledger.store import LedgerStore

NO_REDIS = (
    "redis-server is not installed; install it (apt-get install -y redis-server) "
    "to run the Redis ledger tests"
)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    binary = redis_binary()
    if binary is None:
        pytest.skip(NO_REDIS)
    pytest.importorskip(
        "redis", reason="the redis package is needed: pip install redis"
    )
    server = RedisServer(binary)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A fresh namespace on the shared test server for each test."""
    return f"{redis_server.url}?prefix=t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


StoreFactory = Callable[[], LedgerStore]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[StoreFactory]:
    """Opens stores of one kind that all see the same data (except memory)."""
    opened: list[LedgerStore] = []
    kind = request.param
    if kind == "memory":
        shared = MemoryStore()

        def make() -> LedgerStore:
            return shared

    elif kind == "sqlite":
        from token_budget.ledger.sqlite import SQLiteStore

        path = tmp_path / "ledger.sqlite3"

        def make() -> LedgerStore:
            store = SQLiteStore(path)
            opened.append(store)
            return store

    else:
        url = request.getfixturevalue("redis_url")
        from token_budget.ledger.redis_store import RedisStore

        def make() -> LedgerStore:
            store = RedisStore(url)
            opened.append(store)
            return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def ledger(store_factory: StoreFactory, clock: FakeClock) -> Ledger:
    return Ledger(store_factory(), clock=clock, ttl=60.0, retention=3600.0)
