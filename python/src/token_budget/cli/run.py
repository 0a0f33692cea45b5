"""The default command: stream one prompt under a budget and report the result."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TextIO

from token_budget.budget import BudgetObserver, BudgetResult, stream_with_budget
from token_budget.cli.args import Settings
from token_budget.cli.render import FanOut, HumanRenderer, error_line, json_line
from token_budget.cli.step import StepObserver, StepQuit
from token_budget.cli.trace import VerboseTrace
from token_budget.estimate import Estimator, make_estimator
from token_budget.providers import Request, make_provider

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def run(
    settings: Settings,
    *,
    env: Mapping[str, str],
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Stream and print per `settings`; return the exit code (usage errors raise)."""
    if settings.describe:
        from token_budget.describe import describe

        stdout.write(json.dumps(describe()) + "\n")
        return EXIT_OK

    # Quotas across requests: nothing is sent upstream when the user has nothing left.
    grant: Any = None
    if _uses_ledger(settings, env):
        from token_budget.ledger.cli import LedgerError, reserve_before_request

        try:
            grant = reserve_before_request(
                settings.ledger_options or argparse.Namespace(),
                settings.budget,
                prompt=settings.prompt,
                model=settings.model,
                chars_per_token=settings.chars_per_token,
                environ=env,
            )
        except LedgerError as exc:
            stderr.write(f"token-budget: {exc}\n")
            stderr.flush()
            return exc.exit_code
        settings = replace(
            settings, budget=grant.budget, chars_per_token=grant.chars_per_token
        )

    result, renderer = _stream(settings, env, stdin, stdout, stderr)
    if isinstance(result, StepQuit):
        if grant is not None:
            _release_if_unsent(grant, result.step)
        stderr.write("token-budget: stopped at your request; no result was printed\n")
        stderr.flush()
        return EXIT_INTERRUPTED
    if grant is not None:
        from token_budget.ledger.cli import settle_after_request

        settle_after_request(grant, result)

    if settings.json:
        stdout.write(json_line(result, settings.case_id) + "\n")
    elif renderer is not None:
        renderer.finish(result)
    stdout.flush()

    if not result.ok:
        stderr.write(error_line(result) + "\n")
        stderr.flush()

    # Every upstream connection is closed by now; lingering proves it (SPEC 4.3).
    if settings.linger_ms:
        time.sleep(settings.linger_ms / 1000)

    return EXIT_OK if result.ok else EXIT_FAILED


def _stream(
    settings: Settings,
    env: Mapping[str, str],
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
) -> tuple[BudgetResult | StepQuit, HumanRenderer | None]:
    trace = VerboseTrace(stderr, _secrets(env)) if settings.verbose else None
    provider = make_provider(
        settings.provider,
        base_url=settings.base_url,
        timeout=settings.timeout,
        trace=trace,
        env=env,
    )
    estimator: Estimator = make_estimator(
        "exact" if settings.estimator == "exact" else "ratio", settings.chars_per_token
    )

    observers: list[BudgetObserver] = []
    if settings.step:
        observers.append(StepObserver(stderr, stdin, _is_terminal(stdin)))
    renderer = None
    if not settings.json:
        renderer = HumanRenderer(stdout, stderr, meter=_is_terminal(stderr))
        observers.append(renderer)

    import asyncio

    request = Request(settings.prompt, settings.model, settings.max_tokens)
    try:
        result = asyncio.run(
            stream_with_budget(
                provider,
                request,
                settings.budget,
                chars_per_token=settings.chars_per_token,
                estimator=estimator,
                observer=FanOut(*observers),
            )
        )
    except StepQuit as stop:
        return stop, renderer

    return result, renderer


def _release_if_unsent(grant: Any, step: str) -> None:
    """Give the hold back when the user quit before the request was sent.

    Quitting later leaves the hold to lapse after its TTL and be charged in full:
    tokens may have been generated that nobody counted.
    """
    if (
        step not in ("build", "send")
        or grant.reservation is None
        or grant.ledger is None
    ):
        return

    from token_budget.ledger import Charge

    try:
        grant.ledger.settle(grant.reservation, Charge(0, 0, "none"))
    finally:
        grant.ledger.close()


def _uses_ledger(settings: Settings, env: Mapping[str, str]) -> bool:
    """The ledger (and SQLite or Redis) loads only for a metered or calibrated run."""
    options = settings.ledger_options
    return bool(
        env.get("TOKEN_BUDGET_USER")
        or getattr(options, "user", None)
        or getattr(options, "learned_ratio", False)
    )


def _secrets(env: Mapping[str, str]) -> list[str]:
    names = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_API_KEY")
    return [env[name] for name in names if env.get(name)]


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):
        return False
