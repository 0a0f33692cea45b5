"""Per-chunk cost of token-budget against a plain httpx line loop on the same bytes.

Both sides read the same synthetic OpenAI stream from httpx.MockTransport (no
sockets, so the numbers isolate client-side work). Sync is compared with sync and
async with async. Target: our per-chunk cost at most 1.3x the baseline; total cost
linear in the number of chunks.

    python benchmarks/bench_overhead.py [--counts 1000,10000,100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json

import httpx
from common import (
    URL,
    async_transport,
    frames,
    paired_best,
    request_body,
    sync_transport,
)

from token_budget import stream_with_budget, stream_with_budget_sync
from token_budget.providers.openai import OpenAIProvider

BUDGET = 2_000_000_000


def _delta_text(data: str) -> str:
    event = json.loads(data)
    text = ""
    for choice in event.get("choices") or ():
        text += (choice.get("delta") or {}).get("content") or ""
    return text


async def baseline_async(body: list[bytes]) -> str:
    parts = []
    client = httpx.AsyncClient(transport=async_transport(body))
    stream = client.stream("POST", URL, content=request_body())
    async with client, stream as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                break
            parts.append(_delta_text(data))
    return "".join(parts)


def baseline_sync(body: list[bytes]) -> str:
    parts = []
    client = httpx.Client(transport=sync_transport(body))
    with client, client.stream("POST", URL, content=request_body()) as response:
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                break
            parts.append(_delta_text(data))
    return "".join(parts)


def provider(body: list[bytes]) -> OpenAIProvider:
    return OpenAIProvider(
        base_url="http://bench.invalid/v1",
        env={},
        transport=async_transport(body),
        sync_transport=sync_transport(body),
    )


async def ours_async(body: list[bytes]) -> str:
    result = await stream_with_budget(provider(body), "p", BUDGET)
    assert result.end == "complete", result.error
    return result.content


def ours_sync(body: list[bytes]) -> str:
    # Both sides on httpx's sync client.
    result = stream_with_budget_sync(provider(body), "p", BUDGET)
    assert result.end == "complete", result.error
    return result.content


def measure(count: int, repeats: int) -> dict[str, float]:
    body = frames(count)
    expected = "word" * count
    assert baseline_sync(body) == expected and ours_sync(body) == expected

    loop = asyncio.new_event_loop()
    try:
        timings = paired_best(
            {
                "baseline_async": lambda: loop.run_until_complete(baseline_async(body)),
                "ours_async": lambda: loop.run_until_complete(ours_async(body)),
                "baseline_sync": lambda: baseline_sync(body),
                "ours_sync": lambda: ours_sync(body),
            },
            repeats,
        )
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    print("transport: httpx.MockTransport on both sides (one frame per read)")
    header = ("chunks", "mode", "baseline us/chunk", "ours us/chunk", "ratio")
    print("{:>8} {:>6} {:>18} {:>14} {:>6}".format(*header))
    for count in (int(c) for c in args.counts.split(",")):
        repeats = args.repeats if count <= 10_000 else max(1, args.repeats // 2)
        timings = measure(count, repeats)
        for mode in ("sync", "async"):
            base = timings[f"baseline_{mode}"] / count * 1e6
            ours = timings[f"ours_{mode}"] / count * 1e6
            print(
                f"{count:>8} {mode:>6} {base:>18.2f} {ours:>14.2f} {ours / base:>6.2f}"
            )


if __name__ == "__main__":
    main()
