"""Reserve+settle pairs per second for each ledger store, beside a baseline.

Each store is measured against the cheapest write that store can do, in the same run,
so the printed ratio says what the ledger's bookkeeping costs on this machine:

  memory   a dict update
  sqlite   a bare single-row UPDATE in its own BEGIN IMMEDIATE transaction (WAL)
  redis    a plain INCRBY round trip on the same connection

It starts its own redis-server on a free 127.0.0.1 port and stops it at the end; with
no redis-server installed the Redis line says so and the others still run.

    python benchmarks/bench_ledger.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from token_budget.ledger import Charge, Ledger, LedgerStore, MemoryStore
from token_budget.ledger.sqlite import SQLiteStore

CHARGE = Charge(prompt_tokens=12, completion_tokens=80, basis="provider", usd_micros=5)


def rate(step: Callable[[], None], seconds: float) -> float:
    """Operations per second of ``step``, after a short warm-up."""
    for _ in range(200):
        step()
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            step()
        done += 100
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def ledger_pairs(store: LedgerStore, seconds: float) -> float:
    ledger = Ledger(store)
    ledger.set_quota("bench", f"{2**50}/day")

    def pair() -> None:
        ledger.settle(ledger.reserve("bench", 100, prompt_tokens=12), CHARGE)

    try:
        return rate(pair, seconds)
    finally:
        ledger.close()


def memory_baseline(seconds: float) -> float:
    counters: dict[str, int] = {}

    def update() -> None:
        counters["bench"] = counters.get("bench", 0) + 92

    return rate(update, seconds)


def sqlite_baseline(path: Path, seconds: float) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER)")
    db.execute("INSERT INTO counter VALUES (1, 0)")

    def update() -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE counter SET value = value + 92 WHERE id = 1")
        db.execute("COMMIT")

    try:
        return rate(update, seconds)
    finally:
        db.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(binary: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("redis-server did not start within 10 s")


def redis_rows(seconds: float) -> list[tuple[str, float, float, str]]:
    binary = shutil.which("redis-server")
    if binary is None:
        return [("redis", 0.0, 0.0, "skipped: redis-server is not installed")]
    try:
        import redis
    except ImportError:
        return [("redis", 0.0, 0.0, "skipped: pip install redis")]
    from token_budget.ledger.redis_store import RedisStore

    server, url = start_redis(binary)
    try:
        client = redis.Redis.from_url(url)
        baseline = rate(lambda: client.incrby("bench:counter", 92), seconds)
        client.close()
        pairs = ledger_pairs(RedisStore(url), seconds)
        return [("redis", baseline, pairs, "INCRBY round trip")]
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    seconds = parser.parse_args().seconds

    rows = [
        ("memory", memory_baseline(seconds), ledger_pairs(MemoryStore(), seconds),
         "dict update"),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        rows.append(
            (
                "sqlite",
                sqlite_baseline(Path(folder) / "baseline.sqlite3", seconds),
                ledger_pairs(SQLiteStore(Path(folder) / "ledger.sqlite3"), seconds),
                "UPDATE transaction",
            )
        )
    rows.extend(redis_rows(seconds))

    print(f"{'store':8} {'baseline ops/s':>15} {'pairs/s':>10} {'ratio':>7}  baseline")
    for name, baseline, pairs, what in rows:
        if not baseline:
            print(f"{name:8} {what}")
            continue
        ratio = pairs / baseline
        print(f"{name:8} {baseline:15,.0f} {pairs:10,.0f} {ratio:7.3f}  {what}")
    print("ratio = reserve+settle pairs per second / baseline operations per second")


if __name__ == "__main__":
    main()
