"""Command-line options and environment, validated per SPEC section 1."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, NoReturn

from token_budget.contract import MAX_BUDGET
from token_budget.errors import UsageError

DEFAULT_PROMPT = (
    "Explain in a few paragraphs why streaming answers need a token budget."
)
DEFAULT_BUDGET = 100
DEFAULT_TIMEOUT = 60.0
MAX_LINGER_MS = 600_000

# SPEC 1.2: ASCII digits only; decimals without sign, spaces or underscores.
_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything one run needs, already validated."""

    provider: str
    model: str | None
    base_url: str | None
    budget: int
    max_tokens: int | None
    chars_per_token: float
    estimator: str
    timeout: float
    json: bool
    verbose: bool
    step: bool
    linger_ms: int
    case_id: str | None
    describe: bool
    prompt: str
    # --user, --ledger, --fail-open, --learned-ratio, --ledger-ttl, as the ledger
    # reads them (token_budget.ledger.cli); None with --describe.
    ledger_options: argparse.Namespace | None = None


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as UsageError instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see token-budget --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="token-budget",
        allow_abbrev=False,
        description=(
            "Stream an LLM answer, estimate its tokens as it arrives and close the "
            "request the moment the estimate reaches the budget."
        ),
        epilog=(
            "Environment: TOKEN_BUDGET_MAX (budget), NXUSKIT_VERBOSE=1, "
            "NXUSKIT_STEP=1, OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, "
            "ANTHROPIC_BASE_URL, OLLAMA_HOST, OLLAMA_API_KEY. Exit codes: 0 complete "
            "or budget reached, 1 provider error or truncated stream, 2 usage error, "
            "3 refused by the per-user ledger, 130 interrupted. Quotas: "
            "token-budget quota set USER 100000/day; token-budget usage."
        ),
    )
    add = parser.add_argument
    add("prompt", nargs="?", help="the prompt (default: stdin, else a built-in one)")
    add(
        "--provider",
        default="loopback",
        help="loopback, openai, anthropic, claude, ollama",
    )
    add("--model", help="model name sent upstream (default: per provider)")
    add("--base-url", help="where the provider listens")
    add("--budget", help="token budget (default: TOKEN_BUDGET_MAX, else 100)")
    add("--max-tokens", help="provider max-output-tokens (default: the budget)")
    add("--chars-per-token", default="4", help="ratio estimator divisor (default 4)")
    add("--estimator", default="ratio", help="ratio (default) or exact (cl100k)")
    add("--timeout", default="60", help="connect and read-silence timeout in s")
    add("--json", action="store_true", help="print one JSON result object")
    add("--verbose", action="store_true", default=None, help="trace HTTP on stderr")
    add("--step", action="store_true", default=None, help="explain and pause at steps")
    add("--linger-ms", default="0", help="stay alive this long after the result")
    add("--case-id", help="echoed as case_id in the JSON result")
    add("--describe", action="store_true", help="print what this build supports")

    from token_budget.ledger.options import add_ledger_options

    add_ledger_options(parser)
    return parser


def parse_integer(text: str, name: str, low: int, high: int) -> int:
    if not _INTEGER.fullmatch(text):
        raise UsageError(f"{name} must be a whole number without sign, got {text!r}")

    value = int(text)
    if not low <= value <= high:
        raise UsageError(f"{name} must be between {low} and {high}, got {text}")

    return value


def parse_decimal(text: str, name: str) -> float:
    if not _DECIMAL.fullmatch(text):
        raise UsageError(
            f"{name} must be a positive decimal like 4 or 3.5, got {text!r}"
        )

    value = float(text)  # correctly rounded, like strtod
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be a finite number above 0, got {text!r}")

    return value


def parse_switch(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "")
    if not raw:
        return False

    lowered = raw.lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False

    raise UsageError(f"{name} must be 1, true, 0 or false, got {raw!r}")


def parse(
    argv: Sequence[str], env: Mapping[str, str], stdin: IO[bytes] | None
) -> Settings:
    """Validate `argv` and the environment; read the prompt from stdin if needed."""
    ns = build_parser().parse_args(list(argv))
    if ns.describe:
        return _describe_only(ns)

    budget = DEFAULT_BUDGET
    if ns.budget is not None:
        budget = parse_integer(ns.budget, "--budget", 1, MAX_BUDGET)
    elif env.get("TOKEN_BUDGET_MAX"):
        budget = parse_integer(
            env["TOKEN_BUDGET_MAX"], "TOKEN_BUDGET_MAX", 1, MAX_BUDGET
        )
    max_tokens = (
        parse_integer(ns.max_tokens, "--max-tokens", 1, MAX_BUDGET)
        if ns.max_tokens is not None
        else None
    )
    if ns.estimator not in ("ratio", "exact"):
        raise UsageError(f"--estimator must be ratio or exact, got {ns.estimator!r}")

    from token_budget.providers import canonical_name

    return Settings(
        provider=canonical_name(ns.provider),
        model=ns.model,
        base_url=ns.base_url,
        budget=budget,
        max_tokens=max_tokens,
        chars_per_token=parse_decimal(ns.chars_per_token, "--chars-per-token"),
        estimator=ns.estimator,
        timeout=parse_decimal(ns.timeout, "--timeout"),
        json=ns.json,
        verbose=ns.verbose if ns.verbose else parse_switch(env, "NXUSKIT_VERBOSE"),
        step=ns.step if ns.step else parse_switch(env, "NXUSKIT_STEP"),
        linger_ms=parse_integer(ns.linger_ms, "--linger-ms", 0, MAX_LINGER_MS),
        case_id=ns.case_id,
        describe=False,
        prompt=_prompt(ns.prompt, stdin),
        ledger_options=ns,
    )


def _describe_only(ns: argparse.Namespace) -> Settings:
    return Settings(
        provider="loopback",
        model=None,
        base_url=None,
        budget=DEFAULT_BUDGET,
        max_tokens=None,
        chars_per_token=4.0,
        estimator="ratio",
        timeout=DEFAULT_TIMEOUT,
        json=True,
        verbose=False,
        step=False,
        linger_ms=0,
        case_id=None,
        describe=True,
        prompt="",
    )


def _prompt(positional: str | None, stdin: IO[bytes] | None) -> str:
    if positional is not None:
        return positional

    if stdin is None or _is_terminal(stdin):
        return DEFAULT_PROMPT

    text = stdin.read().decode("utf-8", "replace")
    # Exactly one trailing line end is removed (SPEC 1).
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]

    return text or DEFAULT_PROMPT


def _is_terminal(stream: IO[bytes]) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):
        return False
