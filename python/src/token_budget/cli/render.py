"""Human output: the answer on stdout as it arrives, a live meter, one summary line."""

from __future__ import annotations

import json
from typing import Any, TextIO

from token_budget.budget import BudgetObserver, BudgetResult

# Save the cursor, draw the meter dimmed, restore the cursor: the next piece of
# answer text overwrites it after clearing to the end of the line.
_METER = "\x1b7\x1b[2m  [{tokens}/{budget} tokens]\x1b[0m\x1b8"
_CLEAR_TO_EOL = "\x1b[K"


class HumanRenderer(BudgetObserver):
    """Streams visible text to `out`; on a terminal, keeps a meter on `err`."""

    def __init__(self, out: TextIO, err: TextIO, meter: bool) -> None:
        self._out = out
        self._err = err
        self._meter = meter
        self.wrote_text = False
        self._ends_with_newline = True

    def delta(self, text: str, estimated_tokens: int, budget: int) -> None:
        if self._meter:
            self._err.write(_CLEAR_TO_EOL)
            self._err.flush()

        if text:
            self._out.write(text)
            self._out.flush()
            self.wrote_text = True
            self._ends_with_newline = text.endswith("\n")

        if self._meter:
            self._err.write(_METER.format(tokens=estimated_tokens, budget=budget))
            self._err.flush()

    def finish(self, result: BudgetResult) -> None:
        """Clear the meter and print the summary line on stderr."""
        if self._meter:
            self._err.write(_CLEAR_TO_EOL)
        # Start the summary on its own line even when stdout and stderr share a file
        # (`2>&1`): the answer rarely ends with a newline.
        if not self._ends_with_newline:
            self._err.write("\n")
        self._err.write(summary_line(result) + "\n")
        self._err.flush()


class FanOut(BudgetObserver):
    """Passes every hook to several observers, in order."""

    def __init__(self, *observers: BudgetObserver) -> None:
        self._observers = observers

    def step(self, name: str, explanation: str) -> None:
        for observer in self._observers:
            observer.step(name, explanation)

    def delta(self, text: str, estimated_tokens: int, budget: int) -> None:
        for observer in self._observers:
            observer.delta(text, estimated_tokens, budget)


def summary_line(result: BudgetResult) -> str:
    """One line: estimate, budget, outcome, provider usage, cost."""
    outcome = {
        "budget": "budget reached, answer cut",
        "complete": (
            "budget not reached, answer cut by the model's max-tokens limit"
            if result.finish_reason == "length"
            else "budget not reached, answer complete"
        ),
        "truncated": "stream truncated",
        "error": "stopped by an error",
    }[result.end]
    if result.usage is None:
        usage = "provider usage: not reported"
    else:
        u = result.usage
        usage = (
            f"provider usage: prompt {_count(u.prompt_tokens)}, completion "
            f"{_count(u.completion_tokens)}, total {_count(u.total_tokens)}"
        )
    cost = result.cost
    price = f"${cost.usd:.6f}" if cost.usd is not None else "unpriced"
    return (
        f"-- {result.estimated_tokens}/{result.budget} estimated tokens "
        f"({result.estimator}); {outcome}; {usage}; cost {price} "
        f"({cost.basis}: {cost.prompt_tokens} in, {cost.completion_tokens} out)"
    )


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def json_line(result: BudgetResult, case_id: str | None) -> str:
    data: dict[str, Any] = result.to_dict(case_id=case_id)
    return json.dumps(data)


def error_line(result: BudgetResult) -> str:
    """The single `token-budget: ` failure line for an error or truncated end."""
    error = result.error
    if error is None:
        return f"token-budget: the stream ended as {result.end}"

    where = f"{result.provider}"
    if error.status is not None:
        where += f" answered HTTP {error.status}"
    detail = f"{error.kind} error from {where}: {error.message}"
    if error.retry_after is not None:
        detail += f" (retry after {error.retry_after:g} s)"
    if result.content:
        detail += f"; kept {len(result.content)} characters of partial answer"
    return "token-budget: " + " ".join(detail.split("\n"))
