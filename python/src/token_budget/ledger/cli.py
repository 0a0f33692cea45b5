"""Command-line glue for the ledger, for the main ``token-budget`` command to call.

Wiring (about ten lines in the main CLI)::

    from token_budget.ledger import cli as ledger_cli

    code = ledger_cli.handle_ledger_command(argv)        # `quota ...` and `usage ...`
    if code is not None:
        return code
    ledger_cli.add_ledger_options(parser)         # --user --ledger --fail-open ...
    args = parser.parse_args(argv)
    try:
        grant = ledger_cli.reserve_before_request(
            args, budget, prompt=prompt, model=model, chars_per_token=ratio
        )
    except ledger_cli.LedgerError as exc:                 # QuotaExceeded: exit 3
        stderr.write(f"token-budget: {exc}\\n")
        return exc.exit_code
    result = run(..., budget=grant.budget, chars_per_token=grant.chars_per_token)
    ledger_cli.settle_after_request(grant, result)

Without ``--user`` (and without ``TOKEN_BUDGET_USER``) the ledger is not opened at all
and the grant is the asked budget, so the ledger costs nothing to users who do not use
it.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TextIO

from .errors import EXIT_USAGE, LedgerError, LedgerUnavailable, QuotaExceeded
from .ledger import Ledger
from .location import open_ledger
from .options import DEFAULT_TTL, ENV_LEDGER, ENV_USER, add_ledger_options
from .quota import parse_quota
from .records import Reservation, Settlement, UsageRow

__all__ = [
    "ENV_USER",
    "LedgerError",
    "LedgerGrant",
    "QuotaExceeded",
    "add_ledger_options",
    "handle_ledger_command",
    "reserve_before_request",
    "settle_after_request",
]

logger = logging.getLogger("token_budget.ledger.cli")

COMMANDS = ("quota", "usage")


@dataclass
class LedgerGrant:
    """What ``reserve_before_request`` allows: run the request with ``budget``.

    ``chars_per_token`` is the ratio to estimate with: the learned one when
    ``--learned-ratio`` was given and the ledger knows the model, else the given one.
    """

    budget: int
    chars_per_token: float
    reservation: Reservation | None = None
    ledger: Ledger | None = None


def reserve_before_request(
    args: argparse.Namespace,
    budget: int,
    *,
    prompt: str = "",
    model: str | None = None,
    chars_per_token: float = 4.0,
    environ: Mapping[str, str] | None = None,
) -> LedgerGrant:
    """Reserve the request's tokens; the grant's ``budget`` is min(asked, remaining).

    Raises ``QuotaExceeded`` (exit code 3) when the user has nothing left,
    ``LedgerUnavailable`` (exit code 3) when the ledger is down and ``--fail-open`` was
    not given, ``InvalidLedgerURL`` (exit code 2) for a location we cannot use.
    """
    env = os.environ if environ is None else environ
    user = getattr(args, "user", None) or env.get(ENV_USER) or None
    fail_open = bool(getattr(args, "fail_open", False))
    learned = bool(getattr(args, "learned_ratio", False))
    grant = LedgerGrant(budget=budget, chars_per_token=chars_per_token)
    if user is None and not learned:
        return grant

    try:
        ledger = open_ledger(
            getattr(args, "ledger", None),
            environ=env,
            ttl=getattr(args, "ledger_ttl", DEFAULT_TTL),
        )
        grant.ledger = ledger
        if learned and model:
            grant.chars_per_token = (
                ledger.learned_chars_per_token(model) or chars_per_token
            )
        if user is None:
            return grant

        prompt_tokens = _ratio_estimate(len(prompt), grant.chars_per_token)
        grant.reservation = ledger.reserve(user, budget, prompt_tokens=prompt_tokens)
    except LedgerUnavailable as exc:
        if not fail_open:
            _close(grant)
            raise
        logger.warning("ledger unavailable, running unmetered (--fail-open): %s", exc)
        if user is not None:
            grant.reservation = _unrecorded(user, budget)
        return grant
    except BaseException:
        _close(grant)
        raise

    grant.budget = grant.reservation.tokens
    return grant


def settle_after_request(grant: LedgerGrant, result: Any) -> Settlement | None:
    """Record what the request cost. Never raises for an unreachable ledger.

    The request has already run, so a failure here cannot refuse anything: it is
    logged, and the reservation lapses after its TTL and is charged in full.
    """
    if grant.ledger is None:
        return None
    if grant.reservation is None:
        _close(grant)
        return None
    try:
        return grant.ledger.settle_result(grant.reservation, result)
    except LedgerUnavailable as exc:
        logger.warning(
            "could not settle reservation %s of %r; it lapses after its TTL and is "
            "then charged in full: %s",
            grant.reservation.id or "(unrecorded)",
            grant.reservation.user,
            exc,
        )
        return None
    finally:
        _close(grant)


def handle_ledger_command(
    argv: Sequence[str],
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int | None:
    """Run ``quota ...`` or ``usage ...``; None when ``argv`` is neither.

    Returns the exit code: 0, 2 for a usage error, 3 when the ledger is unavailable.
    Every failure writes one line starting with ``token-budget: `` to stderr.
    """
    if not argv or argv[0] not in COMMANDS:
        return None
    out = stdout or sys.stdout
    err = stderr or sys.stderr

    try:
        _refuse_negative_limits(argv)
        args = _command_parser().parse_args(list(argv))
        with open_ledger(args.ledger, environ=environ) as ledger:
            return _run_command(args, ledger, out)
    except (_UsageError, ValueError) as exc:
        # ValueError: a user name the ledger cannot key (e.g. empty).
        err.write(f"token-budget: {exc}\n")
        return EXIT_USAGE
    except LedgerError as exc:
        err.write(f"token-budget: {exc}\n")
        return exc.exit_code


def _run_command(args: argparse.Namespace, ledger: Ledger, out: TextIO) -> int:
    if args.command == "usage":
        _write_usage(ledger.usage(args.user), args.format, out, ledger.store.url)
        return 0

    if args.action == "set":
        quota = ledger.set_quota(args.user, parse_quota(args.limit, usd=args.usd))
        out.write(f"quota of {args.user}: {quota.describe()}\n")
    elif args.action == "show":
        _write_usage(ledger.usage(args.user), args.format, out, ledger.store.url)
    elif args.action == "reset":
        ledger.reset_usage(args.user)
        out.write(f"usage of {args.user} in the current period reset\n")
    elif args.action == "remove":
        removed = ledger.remove_quota(args.user)
        out.write(
            f"quota of {args.user} removed\n"
            if removed
            else f"{args.user} had no quota\n"
        )
    return 0


def _refuse_negative_limits(argv: Sequence[str]) -> None:
    """argparse reads `-5/day` as an unknown option; say what is really wrong."""
    if list(argv[:2]) != ["quota", "set"]:
        return
    for arg in argv[2:]:
        if len(arg) > 1 and arg[0] == "-" and (arg[1].isdigit() or arg[1] == "."):
            raise _UsageError(
                f"a quota must be a whole number of tokens, 0 or more, got {arg!r}"
            )


class _UsageError(Exception):
    """A bad command line; reported in one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see {self.prog} --help)")


def _command_parser() -> argparse.ArgumentParser:
    root = _Parser(prog="token-budget", add_help=False)
    commands = root.add_subparsers(dest="command", required=True, parser_class=_Parser)

    usage = commands.add_parser("usage", help="show use per user in the current period")
    usage.add_argument("user", nargs="?", help="only this user")
    _add_common(usage)

    quota = commands.add_parser("quota", help="set, show, reset or remove a quota")
    actions = quota.add_subparsers(dest="action", required=True, parser_class=_Parser)
    set_ = actions.add_parser("set", help="set USER's quota, e.g. 100000/day")
    set_.add_argument("user")
    set_.add_argument("limit", help="TOKENS[/none|day|month], or unlimited with --usd")
    set_.add_argument("--usd", help="also a money limit per period, in US dollars")
    _add_common(set_)
    for name, text in (
        ("show", "show USER's quota and use"),
        ("reset", "forget USER's use in the current period"),
        ("remove", "remove USER's quota (use stays recorded)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("user")
        _add_common(action)
    return root


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger", metavar="URL", help=f"ledger location (env {ENV_LEDGER})"
    )
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument("--json", dest="format", action="store_const", const="json")
    formats.add_argument("--csv", dest="format", action="store_const", const="csv")
    parser.set_defaults(format="table")


_COLUMNS = (
    "user",
    "period",
    "period_key",
    "quota_tokens",
    "used_tokens",
    "reserved_tokens",
    "remaining_tokens",
    "prompt_tokens",
    "completion_tokens",
    "requests",
    "usd",
    "quota_usd",
)


def _write_usage(rows: list[UsageRow], fmt: str, out: TextIO, url: str) -> None:
    records = [row.as_dict() for row in rows]
    if fmt == "json":
        out.write(json.dumps({"ledger": url, "users": records}, indent=2) + "\n")
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            {name: _csv_cell(rec[name]) for name in _COLUMNS} for rec in records
        )
        out.write(buffer.getvalue())
        return
    out.write(_table(rows))


def _csv_cell(value: object) -> object:
    return "" if value is None else value


def _table(rows: list[UsageRow]) -> str:
    """A plain aligned table for people; scripts should use --json or --csv."""
    if not rows:
        return "no usage recorded\n"
    header = ("USER", "PERIOD", "QUOTA", "USED", "RESERVED", "LEFT", "REQUESTS", "USD")
    lines = [header]
    for row in rows:
        lines.append(
            (
                row.user,
                row.period_key if row.period.value != "none" else "total",
                "-" if row.quota_tokens is None else str(row.quota_tokens),
                str(row.used_tokens),
                str(row.reserved_tokens),
                "-" if row.remaining is None else str(row.remaining),
                str(row.requests),
                _usd(row.usd_micros, row.quota_usd_micros),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "".join(
        "  ".join(
            cell.ljust(width) for cell, width in zip(line, widths, strict=True)
        ).rstrip()
        + "\n"
        for line in lines
    )


def _usd(spent: int, limit: int | None) -> str:
    text = f"{spent / 1e6:.4f}"
    return text if limit is None else f"{text}/{limit / 1e6:.2f}"


def _ratio_estimate(chars: int, chars_per_token: float) -> int:
    """SPEC.md section 3's rule, applied to the prompt as section 6.3 says."""
    if chars == 0:
        return 0
    return max(1, math.ceil(float(chars) / chars_per_token))


def _close(grant: LedgerGrant) -> None:
    if grant.ledger is not None:
        grant.ledger.close()
        grant.ledger = None


def _unrecorded(user: str, budget: int) -> Reservation:
    return Reservation(
        id="",
        user=user,
        period_key="",
        tokens=budget,
        prompt_tokens=0,
        expires_at=0.0,
        remaining=None,
    )
