"""The loopback provider: an in-process model with no network and no credentials.

It answers any prompt with the same deterministic text, cut into chunks at a steady
pace; it stops at the request's max-output-tokens (four characters a token, finish
reason `length`) and reports usage when it completes. Special model names fail on
purpose so every path of the budget loop can be shown without a server:

    loopback-1                the default: a long answer that completes
    loopback-error-429        rejected before the stream (rate limit, Retry-After 2)
    loopback-error-midstream  a server error after a third of the answer
    loopback-truncated        the stream stops after a third, without its end marker
    loopback-silent           goes silent after a third, until the timeout fires

Three environment variables (or constructor arguments) shape the stream:
TOKEN_BUDGET_LOOPBACK_CHUNK (characters per chunk, default 8),
TOKEN_BUDGET_LOOPBACK_DELAY_MS (pause before each chunk, default 20) and
TOKEN_BUDGET_LOOPBACK_CHARS (answer length, default 2000).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import ClassVar

from token_budget.errors import (
    ProviderError,
    RateLimitError,
    ServerError,
    StreamTimeoutError,
    TruncatedStreamError,
    UsageError,
)
from token_budget.providers.base import (
    DEFAULT_TIMEOUT,
    Chunk,
    Provider,
    Request,
    Trace,
    env_value,
)
from token_budget.usage import UsageUpdate

DEFAULT_CHUNK_CHARS = 8
DEFAULT_DELAY_MS = 20.0
DEFAULT_ANSWER_CHARS = 2000

_SENTENCES = (
    "A streamed answer arrives in small pieces, one delta at a time.",
    "Each piece costs output tokens the moment the model produces it.",
    "A token budget caps what one answer may spend before anyone reads it.",
    "The client estimates tokens as the text arrives, about four characters each.",
    "When the estimate reaches the budget, the client closes the connection.",
    "Closing the connection is what tells the server to stop generating.",
    "The partial answer is kept, together with the estimate and a flag.",
    "Providers report exact usage only when a stream completes normally.",
    "A cancelled stream therefore relies on the local estimate instead.",
    "Setting max tokens as well gives a second, server-side limit.",
)


class LoopbackProvider(Provider):
    """Deterministic, paced, credential-free chunks for demos and tests."""

    name: ClassVar[str] = "loopback"
    default_model: ClassVar[str] = "loopback-1"

    def __init__(
        self,
        *,
        chunk_chars: int | None = None,
        delay_ms: float | None = None,
        answer_chars: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        trace: Trace | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(trace=trace)
        env = os.environ if env is None else env
        self.chunk_chars = _setting(
            chunk_chars, env, "TOKEN_BUDGET_LOOPBACK_CHUNK", DEFAULT_CHUNK_CHARS, 1
        )
        self.delay_ms = float(
            _setting(delay_ms, env, "TOKEN_BUDGET_LOOPBACK_DELAY_MS", DEFAULT_DELAY_MS)
        )
        self.answer_chars = _setting(
            answer_chars, env, "TOKEN_BUDGET_LOOPBACK_CHARS", DEFAULT_ANSWER_CHARS, 1
        )
        self.timeout = timeout

    def target(self) -> str:
        return "the in-process loopback model (no network)"

    def answer(self, prompt: str) -> str:
        """The full text the loopback model gives for `prompt`."""
        subject = " ".join(prompt.split())[:60] or "your question"
        parts = [f"You asked about: {subject}."]
        length = len(parts[0])
        index = 0
        while length < self.answer_chars:
            sentence = _SENTENCES[index % len(_SENTENCES)]
            parts.append(sentence)
            length += len(sentence) + 1
            index += 1

        return " ".join(parts)[: self.answer_chars]

    async def stream(
        self, request: Request, *, max_tokens: int
    ) -> AsyncIterator[Chunk]:
        for step in self._script(request, max_tokens):
            if isinstance(step, Chunk):
                yield step
            elif isinstance(step, Exception):
                raise step
            elif step > 0:
                await asyncio.sleep(step)

    def stream_sync(self, request: Request, *, max_tokens: int) -> Iterator[Chunk]:
        for step in self._script(request, max_tokens):
            if isinstance(step, Chunk):
                yield step
            elif isinstance(step, Exception):
                raise step
            elif step > 0:
                time.sleep(step)

    def _script(
        self, request: Request, max_tokens: int
    ) -> Iterator[Chunk | float | ProviderError]:
        """What the model does, in order: pauses (seconds), chunks, or a failure."""
        model = self.model_for(request)
        if self.trace is not None:
            self.trace.note(
                f"loopback: model {model}, {self.chunk_chars} chars per chunk, "
                f"{self.delay_ms:g} ms apart; nothing leaves this process"
            )

        if model == "loopback-error-429":
            yield RateLimitError(
                "loopback: simulated rate limit, retry in 2 s",
                status=429,
                retry_after=2.0,
                before_stream=True,
            )
            return

        # Like a real model, stop at the max-output-tokens limit (4 chars a token).
        answer = self.answer(request.prompt)
        finish = "stop"
        if len(answer) > max_tokens * 4:
            answer, finish = answer[: max_tokens * 4], "length"

        cut = len(answer) // 3
        sent = 0
        for start in range(0, len(answer), self.chunk_chars):
            if sent >= cut and model in _FAILURES:
                yield from self._failure(model)
                return
            piece = answer[start : start + self.chunk_chars]
            yield self.delay_ms / 1000
            self._trace_line({"text": piece})
            sent += len(piece)
            yield Chunk(text=piece)

        self._trace_line({"done": True, "finish_reason": finish})
        usage = UsageUpdate.both(_tokens(request.prompt), _tokens(answer))
        yield Chunk(usage=usage, finish_reason=finish, terminal=True)

    def _failure(self, model: str) -> Iterator[float | ProviderError]:
        if model == "loopback-error-midstream":
            yield ServerError("loopback: simulated server failure mid-stream")
        elif model == "loopback-truncated":
            yield TruncatedStreamError(
                "loopback: the stream ended without its end marker"
            )
        else:
            yield self.timeout
            yield StreamTimeoutError(
                f"loopback: no data for {self.timeout:g} s (simulated silence)"
            )

    def _trace_line(self, payload: dict[str, object]) -> None:
        if self.trace is not None:
            self.trace.line(json.dumps(payload, ensure_ascii=False))


_FAILURES = frozenset(
    {"loopback-error-midstream", "loopback-truncated", "loopback-silent"}
)


def _tokens(text: str) -> int:
    # The loopback model "bills" about four characters per token.
    return math.ceil(len(text) / 4)


def _setting(
    value: float | None,
    env: Mapping[str, str],
    name: str,
    default: float,
    minimum: float = 0,
) -> int:
    if value is None:
        raw = env_value(env, name)
        if raw is None:
            return int(default)
        if not raw.isascii() or not raw.isdigit():
            raise UsageError(f"{name} must be a whole number, got {raw!r}")
        value = int(raw)

    if value < minimum:
        raise UsageError(f"{name} must be at least {minimum:g}, got {value!r}")

    return int(value)
