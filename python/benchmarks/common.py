"""Shared helpers: the synthetic OpenAI stream and a median timer."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx

URL = "http://bench.invalid/v1/chat/completions"


def frames(count: int) -> list[bytes]:
    """`count` content chunks of four characters, then a finish chunk and [DONE]."""
    prefix = (
        b'data: {"id":"c1","object":"chat.completion.chunk","created":0,"model":"m",'
    )
    delta = b'"choices":[{"index":0,"delta":{"content":"word"},"finish_reason":null}]}'
    content = prefix + delta + b"\n\n"
    finish = prefix + b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    return [content] * count + [finish, b"data: [DONE]\n\n"]


def async_transport(body: list[bytes]) -> httpx.MockTransport:
    """Serves `body` one frame per read to an AsyncClient."""

    async def stream() -> AsyncIterator[bytes]:
        for frame in body:
            yield frame

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Type": "text/event-stream"}, content=stream()
        )

    return httpx.MockTransport(handler)


def sync_transport(body: list[bytes]) -> httpx.MockTransport:
    """Serves `body` one frame per read to a Client."""

    def stream() -> Iterator[bytes]:
        yield from body

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Type": "text/event-stream"}, content=stream()
        )

    return httpx.MockTransport(handler)


def request_body() -> bytes:
    return json.dumps({"model": "m", "stream": True}).encode()


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def paired_best(
    runs: dict[str, Callable[[], object]], repeats: int
) -> dict[str, float]:
    """Run every contender once per round, interleaved, and keep each one's best.

    Interleaving exposes both sides to the same background load, the process CPU
    clock ignores time spent waiting for a core, and the minimum is the least
    disturbed sample on a shared machine.
    """
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - started)
    return best
