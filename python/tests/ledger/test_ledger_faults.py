"""Faults with real processes and a real Redis: kills, outages, bad files, bad input."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from token_budget.ledger import (
    Charge,
    InvalidLedgerURL,
    InvalidQuota,
    Ledger,
    LedgerCorrupt,
    LedgerReadOnly,
    LedgerUnavailable,
    open_store,
    parse_quota,
)
from token_budget.ledger import cli as ledger_cli

from .ledger_support import RedisServer, child_env, free_port, redis_binary

WORKER = str(Path(__file__).with_name("ledger_worker.py"))


@pytest.fixture(params=["sqlite", "redis"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return str(request.getfixturevalue("redis_url"))


def test_killed_request_lapses_after_ttl_and_counts_once(shared_url: str) -> None:
    with Ledger(open_store(shared_url)) as setup:
        setup.set_quota("alice", "1000/day")
    child = subprocess.Popen(
        [sys.executable, WORKER, "hold", shared_url, "alice", "200", "5"],
        stdout=subprocess.PIPE,
        env=child_env(),
        text=True,
    )
    try:
        assert child.stdout is not None
        held = json.loads(child.stdout.readline())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()

    assert child.returncode == -signal.SIGKILL
    assert held["held"] == 203
    # Before the TTL the hold still stands; after it, it is charged once, in full.
    with Ledger(open_store(shared_url)) as now:
        assert now.usage("alice")[0].reserved_tokens == 203
    later = Ledger(open_store(shared_url), clock=lambda: time.time() + 6)
    with later:
        later.reserve("alice", 10)
        later.reserve("alice", 10)
        (standing,) = later.usage("alice")
        assert (standing.used_tokens, standing.reserved_tokens) == (203, 20)
        assert standing.requests == 1

        # A settle that turns up after the lapse corrects the charge, never adds it.
        lapsed = now_reservation(held["id"])
        outcome = later.settle(lapsed, Charge(3, 50, "provider"))
        (standing,) = later.usage("alice")
        assert outcome.outcome == "late"
        assert (standing.used_tokens, standing.requests) == (53, 1)


def now_reservation(reservation_id: str):  # type: ignore[no-untyped-def]
    from token_budget.ledger import Reservation

    return Reservation(
        id=reservation_id, user="alice", period_key="", tokens=200, prompt_tokens=3,
        expires_at=0.0, remaining=None,
    )  # fmt: skip


def namespace(**values: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    ledger_cli.add_ledger_options(parser)
    args = parser.parse_args([])
    for name, value in values.items():
        setattr(args, name, value)
    return args


def test_unreachable_redis_fails_closed_with_one_clear_line() -> None:
    pytest.importorskip("redis")
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    with pytest.raises(LedgerUnavailable) as caught:
        ledger_cli.reserve_before_request(
            namespace(user="alice", ledger=url), 100, environ={}
        )

    message = str(caught.value)
    assert caught.value.exit_code == 3
    assert "\n" not in message
    assert url in message and "--fail-open" in message


def test_unreachable_redis_with_fail_open_runs_unmetered_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pytest.importorskip("redis")
    url = f"redis://127.0.0.1:{free_port()}/0"

    grant = ledger_cli.reserve_before_request(
        namespace(user="alice", ledger=url, fail_open=True), 100, environ={}
    )
    settled = ledger_cli.settle_after_request(grant, {"estimated_tokens": 5})

    assert grant.budget == 100
    assert settled is None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("unmetered" in text for text in warnings)
    assert any("could not settle" in text for text in warnings)


def test_redis_stopping_mid_run_makes_reserve_fail_closed() -> None:
    binary = redis_binary()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    pytest.importorskip("redis")
    server = RedisServer(binary)
    try:
        ledger = Ledger(open_store(server.url))
        ledger.set_quota("alice", "100")
        ledger.settle(ledger.reserve("alice", 10), Charge(0, 10, "provider"))
        server.stop()

        with pytest.raises(LedgerUnavailable, match=r"127\.0\.0\.1"):
            ledger.reserve("alice", 10)
        ledger.close()
    finally:
        server.stop()


def test_corrupt_sqlite_file_is_reported_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    garbage = b"this is not a database\n" * 200
    path.write_bytes(garbage)

    with pytest.raises(LedgerCorrupt) as caught:
        open_store(f"sqlite:///{path}")

    assert "left untouched" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.sqlite3"]


def test_command_on_corrupt_file_writes_one_line_and_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"\x00garbage" * 100)
    out, err = _Buffer(), _Buffer()

    code = ledger_cli.handle_ledger_command(
        ["usage", "--ledger", f"sqlite:///{path}"], stdout=out, stderr=err, environ={}
    )

    assert code == 3
    assert out.text == ""
    assert err.text.startswith("token-budget: ledger file ")
    assert err.text.count("\n") == 1


READ_ONLY_CHILD = r"""
import sys
from token_budget.ledger import Ledger, LedgerError, open_store
try:
    with Ledger(open_store(sys.argv[1])) as ledger:
        ledger.reserve("alice", 10)
except LedgerError as exc:
    print(type(exc).__name__, exc.exit_code, exc, sep="|")
"""


@pytest.mark.skipif(
    not hasattr(os, "geteuid"), reason="needs POSIX users to make a file read-only"
)
def test_read_only_ledger_is_refused_and_keeps_its_data() -> None:
    # Root ignores file modes, so the writer runs as an unprivileged user when we are
    # root (as in CI); otherwise the mode bits alone make the file read-only.
    folder = Path(tempfile.mkdtemp(prefix="tb-ledger-ro-"))
    try:
        path = folder / "ledger.sqlite3"
        with Ledger(open_store(str(path))) as ledger:
            ledger.set_quota("alice", "100")
            ledger.settle(ledger.reserve("alice", 40), Charge(0, 40, "provider"))
        before = path.read_bytes()
        folder.chmod(0o555)
        path.chmod(0o444)
        user = 65534 if os.geteuid() == 0 else None
        python = sys.executable if user is None else _python_for_anyone()

        child = subprocess.run(
            [python, "-c", READ_ONLY_CHILD, f"sqlite:///{path}"],
            capture_output=True, text=True, env=child_env(), user=user, timeout=60,
        )  # fmt: skip

        assert child.returncode == 0, child.stderr
        kind, code, message = child.stdout.strip().split("|", 2)
        assert kind in ("LedgerReadOnly", "LedgerUnavailable"), message
        assert code == "3"
        assert "writable" in message or "cannot" in message
        assert path.read_bytes() == before
        folder.chmod(0o755)
        path.chmod(0o644)
        with Ledger(open_store(str(path))) as ledger:
            assert ledger.usage("alice")[0].used_tokens == 40
    finally:
        folder.chmod(0o755)
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()


def _python_for_anyone() -> str:
    """An interpreter an unprivileged user may run (a venv under /root is not one)."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        real = Path(candidate).resolve()
        parents = [real, *real.parents]
        if real.exists() and all(p.stat().st_mode & 0o001 for p in parents):
            return candidate
    pytest.skip("no Python interpreter that an unprivileged user may run")


def test_read_only_error_class_is_raised_for_a_readonly_connection(
    tmp_path: Path,
) -> None:
    from token_budget.ledger.sqlite import _translate_error

    error = _translate_error(
        tmp_path, sqlite3.OperationalError("attempt to write a readonly database")
    )

    assert isinstance(error, LedgerReadOnly)
    assert error.exit_code == 3


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("-5/day", "whole number"),
        ("abc", "whole number"),
        ("1e5/day", "whole number"),
        ("100/week", "unknown quota period"),
        ("100/", "unknown quota period"),
        ("", "whole number"),
        ("unlimited/day", "needs a money limit"),
    ],
)
def test_bad_quotas_are_usage_errors(text: str, hint: str) -> None:
    with pytest.raises(InvalidQuota, match=hint) as caught:
        parse_quota(text)

    assert caught.value.exit_code == 2


@pytest.mark.parametrize("usd", ["-1", "abc", "1e3", "nan", "$"])
def test_bad_money_limits_are_usage_errors(usd: str) -> None:
    with pytest.raises(InvalidQuota, match="money limit"):
        parse_quota("100/day", usd=usd)


def test_bad_quota_on_the_command_line_keeps_the_stored_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    out, err = _Buffer(), _Buffer()
    ledger_cli.handle_ledger_command(
        ["quota", "set", "alice", "100/day", "--ledger", url]
    )

    code = ledger_cli.handle_ledger_command(
        ["quota", "set", "alice", "-3/day", "--ledger", url], stdout=out, stderr=err
    )

    assert code == 2
    assert err.text.count("\n") == 1 and err.text.startswith("token-budget: ")
    with Ledger(open_store(url)) as ledger:
        assert ledger.quota("alice") == parse_quota("100/day")


@pytest.mark.parametrize("url", ["mysql://x", "sqlite://", "sqlite:///"])
def test_unknown_ledger_locations_are_usage_errors(url: str) -> None:
    with pytest.raises(InvalidLedgerURL) as caught:
        open_store(url)

    assert caught.value.exit_code == 2


class _Buffer:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass
