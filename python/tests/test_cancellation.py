"""Cancellation seen from the server: the disconnect follows the crossing frame."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import referee_helpers
from referee_helpers import oai, run, script

PACE_S = 0.03
FRAMES = 200


@pytest.fixture(params=["async", "sync"], autouse=True)
def api_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run each test through the async API and through the sync one."""
    referee_helpers.MODE = request.param
    yield request.param
    referee_helpers.MODE = "async"


def paced_stream(frames: int, *, done: bool) -> list[bytes | tuple[bytes, float]]:
    # Two characters per frame; with chars_per_token=2 every frame is one token.
    body = b'"choices":[{"index":0,"delta":{"content":" w"},"finish_reason":null}]}'
    writes: list[bytes | tuple[bytes, float]] = [
        (oai(body), PACE_S) for _ in range(frames)
    ]
    if done:
        writes.append(
            oai(b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}')
        )
        writes.append(b"data: [DONE]\n\n")
    return writes


@pytest.mark.parametrize("budget", [1, 5, 17])
async def test_server_sees_the_disconnect_right_after_the_crossing_frame(
    budget: int,
) -> None:
    result, record = await run(
        "openai",
        script(paced_stream(FRAMES, done=True), end="hold"),
        budget,
        chars_per_token=2,
    )

    assert result.end == "budget" and result.chunks == budget
    assert record.requests == 1
    connection = record.connections[0]
    assert not connection.finished
    assert connection.disconnected_at is not None

    crossing = connection.writes[budget - 1]
    after = [w for w in connection.writes if w.t > crossing.t and w.ok]
    # The client closes while the server is still pacing: at most a couple more
    # frames can have gone out, never the rest of the stream.
    assert len(after) <= 3
    assert connection.disconnected_at - crossing.t < 0.5
    assert len(connection.writes) < FRAMES


async def test_generous_budget_reads_to_the_end_without_disconnecting_early() -> None:
    frames = 30
    result, record = await run(
        "openai", script(paced_stream(frames, done=True)), 10_000, chars_per_token=2
    )

    assert result.end == "complete" and result.chunks == frames
    connection = record.connections[0]
    assert connection.finished
    assert all(write.ok for write in connection.writes)
    assert len(connection.writes) == frames + 2


async def test_caller_timeout_before_the_first_byte_closes_the_socket() -> None:
    # BR-10's Ollama variant: nothing arrives for two seconds; the caller gives up
    # after a fraction of that and the server must see it go at once.
    import asyncio
    import time

    from referee import Referee

    from token_budget import make_provider, stream_with_budget

    slow = script([(b'{"message":{"content":"late"},"done":false}\n', 2.0)], end="hold")
    with Referee(slow) as ref:
        client = make_provider("ollama", base_url=ref.url, env={})
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stream_with_budget(client, "p", 5), 0.3)
        assert ref.wait_closed(timeout=2.0)

    connection = ref.record.connections[0]
    assert connection.disconnected_at is not None
    assert connection.disconnected_at - started < 1.0
    assert not any(write.ok for write in connection.writes)
