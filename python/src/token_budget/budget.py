"""The budget loop: count each delta, stop at the budget, report what happened.

This module knows nothing about HTTP. It pulls normalized chunks from a provider,
applies SPEC sections 2-4 to them and, on reaching the budget, closes the provider's
stream before it reads anything else.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from token_budget.contract import CONTRACT_VERSION, IMPLEMENTATION, MAX_BUDGET
from token_budget.errors import ProviderError, TruncatedStreamError, UsageError
from token_budget.estimate import (
    DEFAULT_CHARS_PER_TOKEN,
    Estimator,
    EstimatorName,
    make_estimator,
    ratio_estimate,
    validate_chars_per_token,
)
from token_budget.providers.base import Chunk, Provider, Request
from token_budget.usage import Cost, PriceTable, Usage, compute_cost

logger = logging.getLogger(__name__)


End = Literal["complete", "budget", "truncated", "error"]


class BudgetObserver:
    """Hooks for a user interface. Every method does nothing unless overridden.

    `step` announces a stage (build, send, stream, budget check, stop, result);
    `delta` sees every delta that added counted text, after it was counted.
    """

    def step(self, name: str, explanation: str) -> None:
        """A stage of the run is about to happen."""

    def delta(self, text: str, estimated_tokens: int, budget: int) -> None:
        """A delta was counted; `text` is its visible part (may be empty)."""


@dataclass(slots=True)
class BudgetResult:
    """Everything one budgeted stream produced (SPEC section 6)."""

    provider: str
    model: str
    content: str
    counted_chars: int
    estimated_tokens: int
    estimator: EstimatorName
    budget: int
    finish_reason: str | None
    end: End
    usage: Usage | None
    chunks: int
    cost: Cost
    error: ProviderError | None

    @property
    def budget_reached(self) -> bool:
        """True exactly when the stream was stopped because of the budget."""
        return self.end == "budget"

    @property
    def ok(self) -> bool:
        """True when the stream completed or was stopped by the budget."""
        return self.end in ("complete", "budget")

    def to_dict(
        self, *, case_id: str | None = None, implementation: str = IMPLEMENTATION
    ) -> dict[str, Any]:
        """The contract's result object, ready for `json.dumps`."""
        return {
            "contract_version": CONTRACT_VERSION,
            "case_id": case_id,
            "implementation": implementation,
            "provider": self.provider,
            "model": self.model,
            "content": self.content,
            "counted_chars": self.counted_chars,
            "estimated_tokens": self.estimated_tokens,
            "estimator": self.estimator,
            "budget": self.budget,
            "budget_reached": self.budget_reached,
            "finish_reason": self.finish_reason,
            "end": self.end,
            "usage": self.usage.to_dict() if self.usage is not None else None,
            "chunks": self.chunks,
            "cost": self.cost.to_dict(),
            "error": self.error.to_dict() if self.error is not None else None,
        }


def validate_budget(value: object, name: str = "budget") -> int:
    """A budget (or max-tokens value) must be an int in 1 ..= 2147483647."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name} must be a whole number, got {value!r}")

    if not 1 <= value <= MAX_BUDGET:
        raise UsageError(f"{name} must be between 1 and {MAX_BUDGET}, got {value}")

    return value


async def stream_with_budget(
    provider: Provider | str,
    request: Request | str,
    budget: int,
    *,
    chars_per_token: float = DEFAULT_CHARS_PER_TOKEN,
    estimator: EstimatorName | Estimator = "ratio",
    observer: BudgetObserver | None = None,
    prices: PriceTable | None = None,
) -> BudgetResult:
    """Stream `request` from `provider` and stop once `budget` tokens are estimated.

    Provider and transport failures come back in the result (`end="error"` or
    `"truncated"`, with `error` set and the partial content kept); invalid
    arguments raise UsageError. The upstream request is closed before this returns.
    """
    setup = _Setup.of(provider, request, budget, chars_per_token, estimator, observer)
    run = _Run(setup.counter, setup.budget, setup.look)
    stream = setup.provider.stream(setup.request, max_tokens=setup.max_tokens)
    end, error = await _drive(stream, run)
    return setup.finish(run, end, error, prices)


def stream_with_budget_sync(
    provider: Provider | str,
    request: Request | str,
    budget: int,
    *,
    chars_per_token: float = DEFAULT_CHARS_PER_TOKEN,
    estimator: EstimatorName | Estimator = "ratio",
    observer: BudgetObserver | None = None,
    prices: PriceTable | None = None,
) -> BudgetResult:
    """The blocking twin of `stream_with_budget`, for code without an event loop.

    Providers with a sync stream (all built-in ones) run on httpx's sync client;
    any other provider is driven through a private event loop.
    """
    setup = _Setup.of(provider, request, budget, chars_per_token, estimator, observer)
    run = _Run(setup.counter, setup.budget, setup.look)
    if setup.provider.supports_sync:
        chunks = setup.provider.stream_sync(setup.request, max_tokens=setup.max_tokens)
        end, error = _drive_sync(chunks, run)
    else:
        import asyncio

        stream = setup.provider.stream(setup.request, max_tokens=setup.max_tokens)
        end, error = asyncio.run(_drive(stream, run))
    return setup.finish(run, end, error, prices)


@dataclass(slots=True)
class _Setup:
    """The validated arguments of one call, and how a finished run becomes a result."""

    provider: Provider
    request: Request
    budget: int
    chars_per_token: float
    counter: Estimator
    max_tokens: int
    model: str
    look: BudgetObserver

    @classmethod
    def of(
        cls,
        provider: Provider | str,
        request: Request | str,
        budget: int,
        chars_per_token: float,
        estimator: EstimatorName | Estimator,
        observer: BudgetObserver | None,
    ) -> _Setup:
        budget = validate_budget(budget)
        chars_per_token = validate_chars_per_token(chars_per_token)
        counter = make_estimator(estimator, chars_per_token)
        if isinstance(provider, str):
            from token_budget.providers import make_provider

            provider = make_provider(provider)
        if isinstance(request, str):
            request = Request(request)

        limit = request.max_tokens if request.max_tokens is not None else budget
        max_tokens = validate_budget(limit, "max_tokens")
        model = provider.model_for(request)
        look = observer or BudgetObserver()
        look.step(
            "build",
            f"Build the request: model {model}, a prompt of {len(request.prompt)} "
            f"characters, max output tokens {max_tokens}.",
        )
        look.step("send", f"Send it to {provider.target()} and wait for the stream.")
        return cls(
            provider, request, budget, chars_per_token, counter, max_tokens, model, look
        )

    def finish(
        self,
        run: _Run,
        end: End,
        error: ProviderError | None,
        prices: PriceTable | None,
    ) -> BudgetResult:
        result = BudgetResult(
            provider=self.provider.name,
            model=self.model,
            content="".join(run.parts),
            counted_chars=run.chars,
            estimated_tokens=run.tokens,
            estimator=self.counter.name,
            budget=self.budget,
            finish_reason=run.finish_reason,
            end=end,
            usage=run.usage,
            chunks=run.chunks,
            cost=Cost("estimate", 0, 0, None, None),
            error=error,
        )
        result.cost = _cost(
            result, self.request, self.counter, self.chars_per_token, prices
        )
        self.look.step("result", _summary(result))
        return result


class _Run:
    """The state of one budgeted stream and the stop rule, shared by both loops.

    `take()` applies one chunk (SPEC sections 2-4) and says whether the stream ends
    there; the async and the sync driver differ only in how they pull and close.
    """

    def __init__(self, counter: Estimator, budget: int, look: BudgetObserver) -> None:
        self.counter = counter
        self.budget = budget
        self.look = look
        # Skip the per-delta hook entirely when nobody overrides it.
        self.watching = type(look).delta is not BudgetObserver.delta
        self.parts: list[str] = []
        self.chars = 0
        self.tokens = 0
        self.chunks = 0
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.streaming = False

    def take(self, chunk: Chunk) -> End | None:
        if not self.streaming:
            self.streaming = True
            self.look.step(
                "stream",
                "The answer is streaming: each delta's characters are counted and "
                f"turned into an estimate, checked against the budget {self.budget}.",
            )

        # One delta's fields are processed together (BR-29), then compared.
        if chunk.usage is not None:
            self.usage = chunk.usage.apply(self.usage)
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason

        counted = chunk.counted
        if counted:
            self.parts.append(chunk.text)
            self.chars += len(counted)
            self.chunks += 1
            self.tokens = self.counter.add(counted)
            if self.watching:
                self.look.delta(chunk.text, self.tokens, self.budget)
            if self.tokens >= self.budget:
                self.look.step(
                    "budget check",
                    f"The estimate reached {self.tokens} tokens, at or above the "
                    f"budget {self.budget}: this delta is kept whole and nothing "
                    "after it is read.",
                )
                return "budget"

        return "complete" if chunk.terminal else None

    def stopped(self) -> None:
        logger.debug("budget %d reached after %d chunks", self.budget, self.chunks)
        self.look.step(
            "stop",
            "The connection is closed, so the server stops generating (and billing).",
        )


def _failed(exc: ProviderError) -> tuple[End, ProviderError]:
    return ("truncated" if exc.kind == "truncated" else "error"), exc


def _ended_early() -> tuple[End, ProviderError]:
    return "truncated", TruncatedStreamError(
        "the provider's stream ended without its end marker"
    )


async def _drive(
    chunks: AsyncIterator[Chunk], run: _Run
) -> tuple[End, ProviderError | None]:
    try:
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return _ended_early()
            except ProviderError as exc:
                return _failed(exc)

            end = run.take(chunk)
            if end == "budget":
                # Close before anything else is read (SPEC 4.3).
                await _aclose(chunks)
                run.stopped()
            if end is not None:
                return end, None
    finally:
        # Idempotent; on every other exit (errors, cancellation) it closes too.
        await _aclose(chunks)


def _drive_sync(chunks: Iterator[Chunk], run: _Run) -> tuple[End, ProviderError | None]:
    try:
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return _ended_early()
            except ProviderError as exc:
                return _failed(exc)

            end = run.take(chunk)
            if end == "budget":
                _close_sync(chunks)
                run.stopped()
            if end is not None:
                return end, None
    finally:
        _close_sync(chunks)


async def _aclose(chunks: AsyncIterator[Chunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


def _close_sync(chunks: Iterator[Chunk]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def _cost(
    result: BudgetResult,
    request: Request,
    counter: Estimator,
    chars_per_token: float,
    prices: PriceTable | None,
) -> Cost:
    if counter.name == "exact":
        prompt_estimate = counter.count(request.prompt)
    else:
        prompt_estimate = ratio_estimate(len(request.prompt), chars_per_token)

    rejected = result.error is not None and result.error.before_stream
    return compute_cost(
        provider=result.provider,
        model=result.model,
        usage=result.usage,
        prompt_estimate=prompt_estimate,
        completion_estimate=result.estimated_tokens,
        rejected=rejected,
        prices=prices,
    )


def _summary(result: BudgetResult) -> str:
    return (
        f"Result: end={result.end}, {result.estimated_tokens} estimated tokens of "
        f"{result.budget}, {result.chunks} chunks, {result.counted_chars} characters."
    )
