"""The ledger's options on the main command line, importable without the ledger.

`token-budget --help` must stay fast, so this module imports nothing but argparse:
the stores, SQLite and Redis load only when a request really uses a ledger.
"""

from __future__ import annotations

import argparse
import math

ENV_USER = "TOKEN_BUDGET_USER"
ENV_LEDGER = "TOKEN_BUDGET_LEDGER"
DEFAULT_TTL = 600.0


def add_ledger_options(parser: argparse.ArgumentParser) -> None:
    """Add --user, --ledger, --fail-open, --learned-ratio and --ledger-ttl."""
    group = parser.add_argument_group("quotas across requests")
    group.add_argument(
        "--user",
        metavar="USER",
        help=f"meter this request against USER's quota (env {ENV_USER})",
    )
    group.add_argument(
        "--ledger",
        metavar="URL",
        help="where quotas are kept: sqlite:///PATH, redis://HOST:PORT/DB or "
        f"memory:// (env {ENV_LEDGER}; default: a file in the user data directory)",
    )
    group.add_argument(
        "--fail-open",
        action="store_true",
        help="when the ledger cannot be reached, run the request unmetered "
        "(logged) instead of refusing it",
    )
    group.add_argument(
        "--learned-ratio",
        action="store_true",
        help="estimate with the chars-per-token the ledger learned for the model, "
        "when it has learned one",
    )
    group.add_argument(
        "--ledger-ttl",
        metavar="SECONDS",
        type=_positive_seconds,
        default=DEFAULT_TTL,
        help="how long the reservation of a killed or interrupted request is held "
        f"before it lapses and is charged in full (default {DEFAULT_TTL:g})",
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds: {text!r}"
        )
    return value
