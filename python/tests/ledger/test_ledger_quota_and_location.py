"""Quota text, UTC periods, and where the ledger lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from token_budget.ledger import (
    MemoryStore,
    Period,
    Quota,
    default_ledger_path,
    open_store,
    parse_quota,
    resolve_ledger_url,
)
from token_budget.ledger.quota import PeriodKeys
from token_budget.ledger.sqlite import SQLiteStore


@pytest.mark.parametrize(
    ("text", "usd", "expected"),
    [
        ("100000/day", None, Quota(100000, Period.DAY)),
        ("5/MONTH", None, Quota(5, Period.MONTH)),
        ("0", None, Quota(0, Period.NONE)),
        ("7/none", "$1.25", Quota(7, Period.NONE, 1_250_000)),
        ("unlimited/day", ".5", Quota(None, Period.DAY, 500_000)),
    ],
)
def test_quota_texts(text: str, usd: str | None, expected: Quota) -> None:
    assert parse_quota(text, usd=usd) == expected


def test_describe_reads_back_as_the_same_quota() -> None:
    quota = Quota(2500, Period.MONTH)

    assert quota.describe() == "2500/month"
    assert parse_quota(quota.describe()) == quota


def test_periods_follow_utc_not_local_time() -> None:
    just_before = PeriodKeys.at(1_767_225_599.5)  # 2025-12-31 23:59:59.5 UTC
    just_after = PeriodKeys.at(1_767_225_600.0)

    assert (just_before.day, just_before.month) == ("2025-12-31", "2025-12")
    assert (just_after.day, just_after.month) == ("2026-01-01", "2026-01")
    assert just_after.key(Period.NONE) == "all"


def test_option_then_environment_then_data_directory(tmp_path: Path) -> None:
    env = {"TOKEN_BUDGET_LEDGER": "memory://", "XDG_DATA_HOME": str(tmp_path)}

    assert resolve_ledger_url("redis://127.0.0.1:1/0", env) == "redis://127.0.0.1:1/0"
    assert resolve_ledger_url(None, env) == "memory://"
    assert resolve_ledger_url(None, {**env, "TOKEN_BUDGET_LEDGER": ""}) == (
        f"sqlite://{tmp_path}/token-budget/ledger.sqlite3"
    )


def test_relative_xdg_data_home_is_ignored() -> None:
    path = default_ledger_path({"XDG_DATA_HOME": "relative/dir"})

    assert path.is_absolute()
    assert path.parts[-2:] == ("token-budget", "ledger.sqlite3")


def test_locations_open_the_right_store(tmp_path: Path) -> None:
    plain = open_store(str(tmp_path / "a.sqlite3"))
    url = open_store(f"sqlite:///{tmp_path / 'sub' / 'b.sqlite3'}")
    try:
        assert isinstance(open_store("memory://"), MemoryStore)
        assert isinstance(plain, SQLiteStore) and isinstance(url, SQLiteStore)
        assert (tmp_path / "sub" / "b.sqlite3").exists()
    finally:
        plain.close()
        url.close()


def test_sqlite_ledger_uses_wal(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.sqlite3")
    try:
        mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        store.close()

    assert mode == "wal"
