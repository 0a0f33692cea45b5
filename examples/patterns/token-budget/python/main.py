#!/usr/bin/env python3
"""Guided demo of the token-budget pattern: stop a streamed answer at a budget.

    python3 main.py [loopback|openai|claude|ollama] [--verbose] [--step] [--help]

It runs two requests against the chosen provider (loopback by default: in-process,
no network, no key): one with a small budget that is reached, so the stream is cut
and the connection closed, and one with a generous budget that lets the answer
finish. After each it prints the estimate, the outcome and the provider's usage.

Environment: TOKEN_BUDGET_MAX sets the small budget (default 40); NXUSKIT_VERBOSE=1
and NXUSKIT_STEP=1 work like --verbose and --step; OPENAI_API_KEY,
ANTHROPIC_API_KEY and OLLAMA_HOST configure the real providers.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path


def _reexec_with_an_installed_sdk() -> None:
    """Run again under a Python that has token_budget: the SDK tree or the dev venv.

    A reader types `python3 main.py`; the package lives in the checkout's SDK tree
    (scripts/setup-sdk.sh) or development virtualenv (scripts/token-budget), whose
    interpreters are not the python3 on PATH.
    """
    if os.environ.get("TOKEN_BUDGET_DEMO_REEXEC"):
        return
    root = Path(__file__).resolve().parents[4]
    sdk = os.environ.get("NXUSKIT_SDK_DIR")
    candidates = [Path(sdk) / "python" / "bin" / "python"] if sdk else []
    candidates += [
        root / ".sdk" / "python" / "bin" / "python",
        root / ".venv/bin/python",
    ]
    for python in candidates:
        if python.is_file() and os.access(python, os.X_OK):
            os.environ["TOKEN_BUDGET_DEMO_REEXEC"] = "1"
            os.execv(python, [str(python), __file__, *sys.argv[1:]])


try:
    from token_budget import (
        BudgetObserver,
        BudgetResult,
        Request,
        UsageError,
        make_provider,
        stream_with_budget,
    )
    from token_budget.cli.step import StepObserver, StepQuit
    from token_budget.cli.trace import VerboseTrace
except ImportError:
    _reexec_with_an_installed_sdk()
    sys.stderr.write(
        "main.py: the token_budget package is not installed; from the repository root "
        "run scripts/setup-sdk.sh (or pip install ./python), then python3 main.py\n"
    )
    raise SystemExit(2) from None

PROVIDERS = ("loopback", "openai", "claude", "ollama")
SMALL_PROMPT = "Explain in a few paragraphs why streaming answers need a token budget."
LARGE_PROMPT = "In two short sentences: what is a token budget?"
GENEROUS_BUDGET = 2000
# Real providers stop on their own at this many output tokens, so the generous run
# ends with a complete answer instead of running long.
GENEROUS_MAX_TOKENS = 200


class LiveText(BudgetObserver):
    """Prints the answer as it streams, with a running estimate every few deltas."""

    def __init__(self) -> None:
        self.deltas = 0

    def delta(self, text: str, estimated_tokens: int, budget: int) -> None:
        self.deltas += 1
        sys.stdout.write(text)
        sys.stdout.flush()


class Both(BudgetObserver):
    def __init__(self, *observers: BudgetObserver) -> None:
        self.observers = observers

    def step(self, name: str, explanation: str) -> None:
        for observer in self.observers:
            observer.step(name, explanation)

    def delta(self, text: str, estimated_tokens: int, budget: int) -> None:
        for observer in self.observers:
            observer.delta(text, estimated_tokens, budget)


def usage_text(result: BudgetResult) -> str:
    if result.usage is None:
        return "not reported by the provider (the stream was cut or it sends none)"

    u = result.usage
    return (
        f"prompt {u.prompt_tokens}, completion {u.completion_tokens}, "
        f"total {u.total_tokens}"
    )


def report(title: str, result: BudgetResult) -> None:
    print("\n")
    print(f"  {title}")
    print(f"    end:              {result.end}")
    print(f"    budget reached:   {result.budget_reached}")
    print(f"    estimated tokens: {result.estimated_tokens} of {result.budget}")
    print(f"    chunks counted:   {result.chunks}")
    print(f"    finish reason:    {result.finish_reason}")
    print(f"    provider usage:   {usage_text(result)}")
    cost = result.cost
    usd = "unpriced" if cost.usd is None else f"${cost.usd:.6f}"
    print(f"    cost:             {usd} ({cost.basis})")
    if result.error is not None:
        print(f"    error:            {result.error.kind}: {result.error.message}")


def switch(flag: str, env: str, argv: list[str]) -> bool:
    return flag in argv or os.environ.get(env, "").lower() in ("1", "true")


async def demo(provider_name: str, verbose: bool, step: bool) -> int:
    from token_budget.cli.args import MAX_BUDGET, parse_integer

    raw = os.environ.get("TOKEN_BUDGET_MAX") or "40"
    small = parse_integer(raw, "TOKEN_BUDGET_MAX", 1, MAX_BUDGET)  # UsageError: exit 2
    trace = VerboseTrace(sys.stderr) if verbose else None
    provider = make_provider(provider_name, trace=trace)
    steps = StepObserver(sys.stderr, sys.stdin, sys.stdin.isatty()) if step else None

    def observer() -> BudgetObserver:
        live = LiveText()
        return Both(steps, live) if steps is not None else live

    print(f"token-budget demo with provider {provider.name} ({provider.target()})")
    print(f"\n1) A small budget of {small} tokens: the answer is cut mid-stream.\n")
    first = await stream_with_budget(provider, SMALL_PROMPT, small, observer=observer())
    report("small budget", first)

    print(f"\n2) A generous budget of {GENEROUS_BUDGET} tokens: the answer finishes.\n")
    second = await stream_with_budget(
        provider,
        Request(LARGE_PROMPT, max_tokens=GENEROUS_MAX_TOKENS),
        GENEROUS_BUDGET,
        observer=observer(),
    )
    report("generous budget", second)

    print(
        "\nThe estimate is characters / 4, rounded up; the provider's own counts "
        "arrive only when a stream completes, which is why the cut run relies on "
        "the estimate."
    )
    return 0 if first.ok and second.ok else 1


def main(argv: list[str]) -> int:
    if "--help" in argv or "-h" in argv:
        print(__doc__)
        return 0

    names = [arg for arg in argv if not arg.startswith("-")]
    unknown = [
        arg
        for arg in argv
        if arg.startswith("-") and arg not in ("--verbose", "--step")
    ]
    if len(names) > 1 or unknown or (names and names[0] not in PROVIDERS):
        sys.stderr.write(
            f"main.py: usage: main.py [{'|'.join(PROVIDERS)}] [--verbose] [--step]\n"
        )
        return 2

    provider = names[0] if names else "loopback"
    verbose = switch("--verbose", "NXUSKIT_VERBOSE", argv)
    step = switch("--step", "NXUSKIT_STEP", argv)
    try:
        return asyncio.run(demo(provider, verbose, step))
    except UsageError as exc:
        sys.stderr.write(f"main.py: {exc}\n")
        return 2
    except (KeyboardInterrupt, StepQuit):
        return 130


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
