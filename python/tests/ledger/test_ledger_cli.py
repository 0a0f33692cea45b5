"""The command-line functions the main `token-budget` command wires in."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import pytest

from token_budget.ledger import Ledger, QuotaExceeded, open_store
from token_budget.ledger import cli as ledger_cli
from token_budget.ledger.records import Charge


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"


def run(argv: list[str], url: str) -> tuple[int | None, str, str]:
    out, err = Terminal(), io.StringIO()
    code = ledger_cli.handle_ledger_command(
        [*argv, "--ledger", url], stdout=out, stderr=err, environ={}
    )
    return code, out.getvalue(), err.getvalue()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=100)
    ledger_cli.add_ledger_options(parser)
    return parser.parse_args(argv)


def test_other_commands_are_left_to_the_main_cli() -> None:
    assert ledger_cli.handle_ledger_command(["--budget", "5", "hello"]) is None
    assert ledger_cli.handle_ledger_command([]) is None


def test_quota_set_then_show(url: str) -> None:
    code, out, err = run(["quota", "set", "alice", "100000/day", "--usd", "2.5"], url)
    assert (code, err) == (0, "")
    assert out == "quota of alice: 100000/day and $2.5\n"

    code, out, _ = run(["quota", "show", "alice", "--json"], url)
    (shown,) = json.loads(out)["users"]
    assert code == 0
    assert (shown["quota_tokens"], shown["period"], shown["quota_usd"]) == (
        100000,
        "day",
        2.5,
    )
    assert (shown["used_tokens"], shown["remaining_tokens"]) == (0, 100000)


def test_usage_as_table_json_and_csv(url: str) -> None:
    run(["quota", "set", "alice", "1000"], url)
    with Ledger(open_store(url)) as ledger:
        ledger.settle(ledger.reserve("alice", 100), Charge(10, 90, "provider", 1500))
        ledger.settle(ledger.reserve("bob", 50), Charge(0, 20, "estimate"))

    _, table, _ = run(["usage"], url)
    _, as_json, _ = run(["usage", "--json"], url)
    _, as_csv, _ = run(["usage", "--csv"], url)

    lines = table.splitlines()
    assert lines[0].split() == [
        "USER", "PERIOD", "QUOTA", "USED", "RESERVED", "LEFT", "REQUESTS", "USD",
    ]  # fmt: skip
    assert lines[1].split() == [
        "alice",
        "total",
        "1000",
        "100",
        "0",
        "900",
        "1",
        "0.0015",
    ]
    assert lines[2].split() == ["bob", "total", "-", "20", "0", "-", "1", "0.0000"]
    users = json.loads(as_json)["users"]
    assert [(u["user"], u["used_tokens"], u["usd"]) for u in users] == [
        ("alice", 100, 0.0015),
        ("bob", 20, 0.0),
    ]
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert [(r["user"], r["used_tokens"], r["remaining_tokens"]) for r in rows] == [
        ("alice", "100", "900"),
        ("bob", "20", ""),
    ]


def test_quota_reset_and_remove(url: str) -> None:
    run(["quota", "set", "alice", "100"], url)
    with Ledger(open_store(url)) as ledger:
        ledger.settle(ledger.reserve("alice", 100), Charge(0, 100, "provider"))

    assert run(["quota", "reset", "alice"], url)[0] == 0
    with Ledger(open_store(url)) as ledger:
        assert ledger.usage("alice")[0].used_tokens == 0
    assert run(["quota", "remove", "alice"], url)[1] == "quota of alice removed\n"
    assert run(["quota", "remove", "alice"], url)[1] == "alice had no quota\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["quota"],
        ["quota", "set", "alice"],
        ["quota", "set", "alice", "ten/day"],
        ["quota", "set", "alice", "10/fortnight"],
        ["quota", "frobnicate", "alice"],
        ["usage", "--json", "--csv"],
    ],
)
def test_bad_commands_write_one_line_and_exit_2(argv: list[str], url: str) -> None:
    code, out, err = run(argv, url)

    assert code == 2
    assert out == ""
    assert err.startswith("token-budget: ") and err.count("\n") == 1


def test_reserve_shrinks_the_budget_and_settle_records_the_result(url: str) -> None:
    run(["quota", "set", "alice", "100/month"], url)
    args = parse(["--user", "alice", "--ledger", url])

    grant = ledger_cli.reserve_before_request(
        args, 500, prompt="x" * 40, chars_per_token=4.0, environ={}
    )
    result = {"estimated_tokens": 90, "usage": None, "model": "m", "provider": "p",
              "cost": {"basis": "estimate", "prompt_tokens": 10,
                       "completion_tokens": 90, "usd": None}}  # fmt: skip
    settlement = ledger_cli.settle_after_request(grant, result)

    assert grant.budget == 90  # 100 minus the 10-token prompt estimate
    assert settlement is not None and settlement.charged_tokens == 100
    with pytest.raises(QuotaExceeded) as caught:
        ledger_cli.reserve_before_request(args, 500, environ={})
    assert caught.value.exit_code == 3


def test_without_a_user_the_ledger_is_not_touched(tmp_path: Path) -> None:
    missing = tmp_path / "never" / "ledger.sqlite3"
    args = parse(["--ledger", f"sqlite:///{missing}"])

    grant = ledger_cli.reserve_before_request(args, 77, environ={})

    assert (grant.budget, grant.reservation, grant.ledger) == (77, None, None)
    assert ledger_cli.settle_after_request(grant, {"estimated_tokens": 1}) is None
    assert not missing.parent.exists()


def test_user_and_ledger_come_from_the_environment(url: str) -> None:
    run(["quota", "set", "env-user", "30"], url)
    environ = {"TOKEN_BUDGET_USER": "env-user", "TOKEN_BUDGET_LEDGER": url}

    grant = ledger_cli.reserve_before_request(parse([]), 100, environ=environ)

    assert grant.budget == 30
    assert grant.reservation is not None and grant.reservation.user == "env-user"
    ledger_cli.settle_after_request(grant, {"estimated_tokens": 0})


def test_learned_ratio_replaces_the_given_one_once_known(url: str) -> None:
    with Ledger(open_store(url)) as ledger:
        reservation = ledger.reserve("alice", 500)
        ledger.settle(
            reservation, Charge(1, 300, "provider", model="m", counted_chars=1050)
        )
    args = parse(["--learned-ratio", "--ledger", url])

    known = ledger_cli.reserve_before_request(args, 50, model="m", environ={})
    unknown = ledger_cli.reserve_before_request(args, 50, model="other", environ={})

    assert known.chars_per_token == pytest.approx(3.5)
    assert unknown.chars_per_token == 4.0
    for grant in (known, unknown):
        ledger_cli.settle_after_request(grant, {})


def test_ledger_ttl_must_be_positive() -> None:
    parser = argparse.ArgumentParser(exit_on_error=False)
    ledger_cli.add_ledger_options(parser)

    with pytest.raises(argparse.ArgumentError):
        parser.parse_args(["--ledger-ttl", "0"])
    assert parser.parse_args(["--ledger-ttl", "2.5"]).ledger_ttl == 2.5
