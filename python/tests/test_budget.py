"""The budget loop with in-memory providers: the stop rule, the result, the close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import oracle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from token_budget import (
    BudgetObserver,
    Chunk,
    Provider,
    Request,
    ServerError,
    UsageError,
    stream_with_budget,
    stream_with_budget_sync,
)
from token_budget.providers.loopback import LoopbackProvider
from token_budget.usage import Usage, UsageUpdate


class Scripted(Provider):
    """Yields the given chunks; records how far the consumer read and the close."""

    name = "loopback"
    default_model = "scripted"

    def __init__(self, chunks: Sequence[Chunk | Exception]) -> None:
        super().__init__()
        self.chunks = list(chunks)
        self.pulled = 0
        self.closed = False
        self.max_tokens: int | None = None

    def target(self) -> str:
        return "memory"

    async def stream(
        self, request: Request, *, max_tokens: int
    ) -> AsyncIterator[Chunk]:
        self.max_tokens = max_tokens
        try:
            for item in self.chunks:
                self.pulled += 1
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self.closed = True


def texts(*pieces: str) -> list[Chunk | Exception]:
    return [Chunk(text=piece) for piece in pieces]


async def test_crossing_delta_is_kept_whole_and_nothing_after_it_is_read() -> None:
    provider = Scripted(texts("aaaa", "bbbbbbbb", "cccc", "dddd"))

    result = await stream_with_budget(provider, "p", 3)

    assert result.content == "aaaabbbbbbbb"
    assert (result.estimated_tokens, result.counted_chars, result.chunks) == (3, 12, 2)
    assert result.end == "budget" and result.budget_reached
    assert provider.pulled == 2 and provider.closed
    assert result.error is None and result.usage is None


async def test_empty_deltas_never_trigger_the_check() -> None:
    provider = Scripted([Chunk(), Chunk(text=""), Chunk(terminal=True)])

    result = await stream_with_budget(provider, "p", 1)

    assert (result.end, result.chunks, result.estimated_tokens) == ("complete", 0, 0)


async def test_terminal_chunk_that_crosses_the_budget_ends_as_budget() -> None:
    provider = Scripted([Chunk(text="abcdefgh", terminal=True)])

    result = await stream_with_budget(provider, "p", 2)

    assert result.end == "budget"


async def test_hidden_text_counts_but_is_not_content() -> None:
    provider = Scripted(
        [Chunk(hidden="think"), Chunk(text="42", hidden=""), Chunk(terminal=True)]
    )

    result = await stream_with_budget(provider, "p", 100)

    assert (result.content, result.counted_chars, result.chunks) == ("42", 7, 2)


async def test_error_keeps_partial_content_and_usage() -> None:
    provider = Scripted(
        [
            Chunk(usage=UsageUpdate(prompt_tokens=20, sets_prompt=True)),
            Chunk(text="Partial"),
            ServerError("boom"),
        ]
    )

    result = await stream_with_budget(provider, "prompt", 100)

    assert result.end == "error" and result.error is not None
    assert result.error.kind == "server"
    assert result.content == "Partial" and result.usage == Usage(20, None)
    assert result.cost.basis == "partial"
    assert (result.cost.prompt_tokens, result.cost.completion_tokens) == (20, 2)
    assert provider.closed


async def test_finish_reason_and_text_in_one_chunk_both_count() -> None:
    provider = Scripted(
        [
            Chunk(text="Hel"),
            Chunk(text="lo", finish_reason="length"),
            Chunk(terminal=True),
        ]
    )

    result = await stream_with_budget(provider, "p", 100)

    assert (result.content, result.finish_reason, result.end) == (
        "Hello",
        "length",
        "complete",
    )


async def test_stream_that_just_stops_is_truncated() -> None:
    result = await stream_with_budget(Scripted(texts("abc")), "p", 100)

    assert result.end == "truncated" and result.error is not None
    assert result.error.kind == "truncated"


async def test_max_tokens_defaults_to_the_budget_and_can_be_set() -> None:
    provider = Scripted([Chunk(terminal=True)])
    await stream_with_budget(provider, "p", 77)
    assert provider.max_tokens == 77

    provider = Scripted([Chunk(terminal=True)])
    await stream_with_budget(provider, Request("p", max_tokens=9), 77)
    assert provider.max_tokens == 9


@pytest.mark.parametrize("budget", [0, -1, 2**31, 1.5, "10", True])
async def test_invalid_budget_raises_usage_error(budget: object) -> None:
    with pytest.raises(UsageError):
        await stream_with_budget(Scripted([]), "p", budget)  # type: ignore[arg-type]


async def test_caller_cancellation_closes_the_stream() -> None:
    class Endless(Scripted):
        async def stream(
            self, request: Request, *, max_tokens: int
        ) -> AsyncIterator[Chunk]:
            try:
                while True:
                    await asyncio.sleep(0.01)
                    yield Chunk(text="")
            finally:
                self.closed = True

    provider = Endless([])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stream_with_budget(provider, "p", 5), 0.1)

    assert provider.closed


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(max_size=8), max_size=25),
    st.integers(1, 40),
    st.sampled_from([0.5, 1.0, 2.5, 4.0, 7.0]),
)
def test_stop_point_matches_the_oracle(
    pieces: list[str], budget: int, ratio: float
) -> None:
    # The oracle's rule applied by hand: the first delta with text after which the
    # estimate reaches the budget is the last one processed.
    expected_chars, crossing = 0, None
    for index, piece in enumerate(pieces):
        if not piece:
            continue
        expected_chars += oracle.code_points(piece)
        if oracle.ratio_estimate(expected_chars, ratio) >= budget:
            crossing = index
            break

    provider = Scripted([*texts(*pieces), Chunk(terminal=True)])
    result = stream_with_budget_sync(provider, "p", budget, chars_per_token=ratio)

    if crossing is None:
        assert result.end == "complete"
        assert result.content == "".join(pieces)
    else:
        assert result.end == "budget"
        assert result.content == "".join(pieces[: crossing + 1])
        assert provider.pulled == crossing + 1
    assert result.estimated_tokens == oracle.ratio_estimate(result.counted_chars, ratio)


async def test_observer_sees_steps_and_deltas_in_order() -> None:
    seen: list[str] = []

    class Recorder(BudgetObserver):
        def step(self, name: str, explanation: str) -> None:
            seen.append(f"step:{name}")

        def delta(self, text: str, estimated_tokens: int, budget: int) -> None:
            seen.append(f"delta:{text}:{estimated_tokens}")

    await stream_with_budget(
        Scripted(texts("abcd", "efgh")), "p", 2, observer=Recorder()
    )

    assert seen == [
        "step:build",
        "step:send",
        "step:stream",
        "delta:abcd:1",
        "delta:efgh:2",
        "step:budget check",
        "step:stop",
        "step:result",
    ]


async def test_loopback_completes_with_usage_under_a_generous_budget() -> None:
    provider = LoopbackProvider(delay_ms=0, answer_chars=300)

    result = await stream_with_budget(provider, "Why?", 10_000)

    assert result.end == "complete" and result.finish_reason == "stop"
    assert result.content == provider.answer("Why?")
    assert result.usage == Usage(1, 75)
    assert result.cost.basis == "provider" and result.cost.usd == 0.0


async def test_loopback_reaches_a_small_budget() -> None:
    result = await stream_with_budget(LoopbackProvider(delay_ms=0), "Why?", 10)

    assert result.end == "budget" and result.estimated_tokens == 10
    assert result.usage is None and result.cost.basis == "estimate"


@pytest.mark.parametrize(
    ("model", "end", "kind"),
    [
        ("loopback-error-429", "error", "rate_limit"),
        ("loopback-error-midstream", "error", "server"),
        ("loopback-truncated", "truncated", "truncated"),
        ("loopback-silent", "error", "timeout"),
    ],
)
async def test_loopback_failure_models(model: str, end: str, kind: str) -> None:
    provider = LoopbackProvider(delay_ms=0, answer_chars=120, timeout=0.05)

    result = await stream_with_budget(provider, Request("p", model=model), 10_000)

    assert result.end == end and result.error is not None
    assert result.error.kind == kind
    if kind == "rate_limit":
        assert result.content == "" and result.cost.basis == "none"
        assert result.error.retry_after == 2
    else:
        assert len(result.content) == 40  # a third of 120, the partial answer


def test_loopback_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOKEN_BUDGET_LOOPBACK_CHUNK", "5")
    monkeypatch.setenv("TOKEN_BUDGET_LOOPBACK_CHARS", "50")
    result = stream_with_budget_sync("loopback", "p", 1000)
    assert (result.chunks, result.counted_chars) == (10, 50)

    monkeypatch.setenv("TOKEN_BUDGET_LOOPBACK_CHUNK", "x")
    with pytest.raises(UsageError):
        stream_with_budget_sync("loopback", "p", 1000)
