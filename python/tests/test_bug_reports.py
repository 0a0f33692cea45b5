"""Every transcript of reference/bug-reports.md, served by the referee byte for byte.

Our names for the report's outcomes: `complete`/`budget`/`truncated`/`error` for
complete/cancelled_budget/truncated/error, and kind `connection` for "transport".
SSE cases also run with the same bytes re-split: one byte per write, random pieces
and everything in one write; the result must not change.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import referee_helpers
from referee_helpers import JSON, NDJSON, OLL, oai, oll, run, script

from token_budget.usage import Usage

RESPLITS = [None, "bytewise", "random", "single"]


@pytest.fixture(params=["async", "sync"], autouse=True)
def api_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run each test through the async API and through the sync one."""
    referee_helpers.MODE = request.param
    yield request.param
    referee_helpers.MODE = "async"


@pytest.mark.parametrize("rechunk", RESPLITS)
async def test_br01_usage_only_chunk_with_empty_choices(rechunk: str | None) -> None:
    s = script(
        [
            oai(
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}],"usage":null}'
            ),
            oai(
                b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}'
            ),
            oai(
                b'"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}'
            ),
            b"data: [DONE]\n\n",
        ]
    )
    result, record = await run("openai", s, rechunk=rechunk)

    assert (result.content, result.finish_reason, result.end) == (
        "Hi",
        "stop",
        "complete",
    )
    assert result.usage == Usage(5, 1) and result.cost.basis == "provider"
    assert record.requests == 1


async def test_br03_cumulative_usage_on_every_chunk_is_not_summed() -> None:
    s = script(
        [
            oai(
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":{"prompt_tokens":5,"completion_tokens":0,"total_tokens":5}}'
            ),
            oai(
                b'"choices":[{"index":0,"delta":{"content":"A"},"finish_reason":null}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}'
            ),
            oai(
                b'"choices":[{"index":0,"delta":{"content":"B"},"finish_reason":null}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'
            ),
            oai(
                b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'
            ),
            oai(
                b'"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'
            ),
            b"data: [DONE]\n\n",
        ]
    )
    result, _ = await run("openai", s)

    assert result.content == "AB" and result.usage == Usage(5, 2)
    assert result.to_dict()["usage"]["total_tokens"] == 7


async def test_br05_no_usage_means_estimates_not_zeros() -> None:
    s = script(
        [
            oai(
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}'
            ),
            oai(
                b'"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}'
            ),
            oai(b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'),
            b"data: [DONE]\n\n",
        ]
    )
    result, _ = await run("openai", s, prompt="Say hello")

    assert (result.content, result.end, result.usage) == ("Hello", "complete", None)
    assert result.cost.basis == "estimate"
    assert (result.cost.prompt_tokens, result.cost.completion_tokens) == (3, 2)


def _br06(delta_usage: bytes, extra_delta: bytes | None = None) -> list[bytes]:
    frames = [
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":20,"output_tokens":1}}}\n\n',
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi there"}}\n\n',
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    ]
    if extra_delta is not None:
        frames.append(
            b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":null,"stop_sequence":null},"usage":'
            + extra_delta
            + b"}\n\n"
        )
    frames.append(
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":'
        + delta_usage
        + b"}\n\n"
    )
    frames.append(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    return frames


@pytest.mark.parametrize(
    ("delta_usage", "extra"),
    [
        (b'{"output_tokens":4}', None),
        (b'{"input_tokens":20,"output_tokens":4}', None),
        (b'{"output_tokens":4}', b'{"output_tokens":3}'),
    ],
    ids=["plain", "input-repeated", "two-deltas"],
)
async def test_br06_anthropic_cumulative_usage(
    delta_usage: bytes, extra: bytes | None
) -> None:
    result, _ = await run("anthropic", script(_br06(delta_usage, extra)))

    assert (result.content, result.finish_reason, result.end) == (
        "Hi there",
        "stop",
        "complete",
    )
    assert result.usage == Usage(20, 4)


async def test_br08_cancelled_stream_has_estimated_usage_and_no_wait() -> None:
    words = [b" two", b" three"] + [b" w%d" % i for i in range(4, 101)]
    writes: list[bytes | tuple[bytes, float]] = [
        oai(
            b'"choices":[{"index":0,"delta":{"role":"assistant","content":"one"},"finish_reason":null}],"usage":null}'
        )
    ]
    for word in words:
        body = (
            b'"choices":[{"index":0,"delta":{"content":"'
            + word
            + b'"},"finish_reason":null}],"usage":null}'
        )
        writes.append((oai(body), 0.05))

    result, record = await run("openai", script(writes, end="hold"), 3)

    assert (result.content, result.end, result.budget_reached) == (
        "one two three",
        "budget",
        True,
    )
    assert result.usage is None and result.cost.basis == "estimate"
    assert result.cost.completion_tokens == 4
    connection = record.connections[0]
    assert connection.disconnected_at is not None and not connection.finished
    assert record.requests == 1


async def test_br09_anthropic_cancel_keeps_reported_input_tokens() -> None:
    writes: list[bytes | tuple[bytes, float]] = [
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":30,"output_tokens":1}}}\n\n',
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"alpha"}}\n\n',
    ]
    for word in [b" beta", b" gamma", b" delta", b" epsilon"] * 10:
        writes.append(
            (
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'
                + word
                + b'"}}\n\n',
                0.05,
            )
        )

    # Five characters per token makes each word one token, as the report assumes.
    result, record = await run(
        "anthropic", script(writes, end="hold"), 2, chars_per_token=5
    )

    assert (result.content, result.end) == ("alpha beta", "budget")
    assert result.usage == Usage(30, None)
    assert result.cost.basis == "partial"
    assert (result.cost.prompt_tokens, result.cost.completion_tokens) == (30, 2)
    assert record.connections[0].disconnected_at is not None


@pytest.mark.parametrize(
    ("provider", "body", "message"),
    [
        (
            "openai",
            b'{"error":{"message":"Rate limit reached","type":"rate_limit_error","code":"rate_limit_exceeded"}}',
            "Rate limit reached",
        ),
        (
            "anthropic",
            b'{"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}',
            "Rate limited",
        ),
        ("ollama", b'{"error":"too many requests"}', "too many requests"),
    ],
)
async def test_br12_http_429_is_a_typed_error_and_nothing_leaks(
    provider: str, body: bytes, message: str
) -> None:
    rejected = script([body], status=429, headers=[*JSON, ("Retry-After", "2")])
    ok = script(
        [
            oll(
                b'"message":{"role":"assistant","content":"ok"},"done":true,"done_reason":"stop","prompt_eval_count":1,"eval_count":1}'
            )
        ]
        if provider == "ollama"
        else [
            oai(
                b'"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}'
            ),
            b"data: [DONE]\n\n",
        ]
        if provider == "openai"
        else _br06(b'{"output_tokens":1}'),
        headers=NDJSON
        if provider == "ollama"
        else [("Content-Type", "text/event-stream")],
    )
    from referee import Referee
    from referee_helpers import base_url

    from token_budget import make_provider, stream_with_budget

    with Referee([rejected, rejected, rejected, ok]) as ref:
        client = make_provider(provider, base_url=base_url(provider, ref), env={})
        results = [await stream_with_budget(client, "p", 100) for _ in range(4)]
        assert ref.wait_closed(timeout=5.0)

    for result in results[:3]:
        assert result.end == "error" and result.error is not None
        assert result.error.to_dict() == {
            "kind": "rate_limit",
            "message": message,
            "status": 429,
            "retry_after": 2.0,
        }
        assert result.content == "" and result.cost.basis == "none"
        assert (result.cost.prompt_tokens, result.cost.completion_tokens) == (0, 0)
    assert results[3].end == "complete"
    assert ref.record.requests == 4


_START = b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":20,"output_tokens":1}}}\n\n'
_OVERLOADED = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'


async def test_br13_anthropic_error_event_after_200() -> None:
    s = script(
        [
            _START,
            b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Partial"}}\n\n',
            _OVERLOADED,
        ]
    )
    result, _ = await run("anthropic", s)

    assert result.end == "error" and result.error is not None
    assert (result.error.kind, result.error.status, result.error.message) == (
        "overloaded",
        None,
        "Overloaded",
    )
    assert result.content == "Partial" and result.usage == Usage(20, None)
    assert result.cost.basis == "partial"


async def test_br13_error_event_first() -> None:
    result, _ = await run("anthropic", script([_OVERLOADED]))

    assert result.error is not None and result.error.kind == "overloaded"
    assert (result.content, result.usage) == ("", None)


async def test_br15_ollama_error_line_mid_stream() -> None:
    s = script(
        [
            oll(b'"message":{"role":"assistant","content":"Hel"},"done":false}'),
            oll(b'"message":{"role":"assistant","content":"lo"},"done":false}'),
            b'{"error":"model runner stopped unexpectedly"}\n',
        ],
        headers=NDJSON,
    )
    result, _ = await run("ollama", s)

    assert result.end == "error" and result.error is not None
    assert (result.error.kind, result.error.message) == (
        "server",
        "model runner stopped unexpectedly",
    )
    assert result.content == "Hello" and result.cost.basis == "estimate"


async def test_br15_plain_text_500_before_the_stream() -> None:
    s = script(
        [b"internal failure\n"], status=500, headers=[("Content-Type", "text/plain")]
    )
    result, _ = await run("ollama", s)

    assert result.error is not None
    assert (result.error.kind, result.error.status, result.error.message) == (
        "server",
        500,
        "internal failure",
    )


async def test_br16_connection_reset_mid_body_keeps_partial_text() -> None:
    s = script(
        [
            oai(
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Half"},"finish_reason":null}]}'
            ),
            oai(
                b'"choices":[{"index":0,"delta":{"content":" an ans"},"finish_reason":null}]}'
            ),
        ],
        end="reset",
    )
    result, _ = await run("openai", s)

    assert result.end == "error" and result.error is not None
    assert result.error.kind == "connection"
    assert result.content == "Half an ans" and result.cost.basis == "estimate"


async def test_br17_clean_end_without_marker_is_truncated() -> None:
    first = oai(
        b'"choices":[{"index":0,"delta":{"role":"assistant","content":"The answer is"},"finish_reason":null}]}'
    )

    result, _ = await run("openai", script([first]))
    assert (result.end, result.content) == ("truncated", "The answer is")
    assert result.error is not None and result.error.kind == "truncated"
    assert "[DONE]" in result.error.message

    control_a, _ = await run("openai", script([first, b"data: [DONE]\n\n"]))
    assert (control_a.end, control_a.finish_reason) == ("complete", None)


async def test_br17_control_b_anthropic_without_message_stop() -> None:
    s = script(
        [
            _START,
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"cut"}}\n\n',
        ]
    )
    result, _ = await run("anthropic", s)

    assert (result.end, result.content) == ("truncated", "cut")
    assert result.error is not None and "message_stop" in result.error.message


async def test_br17_control_c_ollama_without_done_line() -> None:
    s = script(
        [oll(b'"message":{"role":"assistant","content":"cut"},"done":false}')],
        headers=NDJSON,
    )
    result, _ = await run("ollama", s)

    assert (result.end, result.content) == ("truncated", "cut")


_CAFE = "café 你好 🙂"


@pytest.mark.parametrize("rechunk", RESPLITS)
async def test_br18_utf8_split_across_reads_openai(rechunk: str | None) -> None:
    s = script(
        [
            b"data: "
            + b'{"id":"c1","object":"chat.completion.chunk","created":0,"model":"m",'
            + b'"choices":[{"index":0,"delta":{"content":"caf\xc3',
            b"\xa9 \xe4\xbd",
            b"\xa0\xe5\xa5\xbd \xf0\x9f",
            b'\x99\x82"},"finish_reason":null}]}\n\n',
            oai(b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'),
            b"data: [DONE]\n\n",
        ],
        headers=[("Content-Type", "text/event-stream; charset=utf-8")],
    )
    result, _ = await run("openai", s, rechunk=rechunk)

    assert result.content == _CAFE and result.counted_chars == 9
    assert result.end == "complete"


async def test_br18_utf8_split_ollama_and_anthropic() -> None:
    line = (
        OLL
        + '"message":{"role":"assistant","content":"café 你好 🙂"},"done":false}\n'.encode()
    )
    done = oll(
        b'"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"}'
    )
    cut = line.index("é".encode()) + 1
    ollama, _ = await run(
        "ollama", script([line[:cut], line[cut:], done], headers=NDJSON)
    )
    assert ollama.content == _CAFE and ollama.end == "complete"

    event = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'
        + _CAFE.encode()
        + b'"}}\n\n'
    )
    cut = event.index("🙂".encode()) + 2
    stop = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    anthropic, _ = await run(
        "anthropic", script([_START, event[:cut], event[cut:], stop])
    )
    assert anthropic.content == _CAFE and anthropic.end == "complete"


@pytest.mark.parametrize("eol", [b"\r\n", b"\r"], ids=["crlf", "cr"])
@pytest.mark.parametrize("rechunk", RESPLITS)
async def test_br19_crlf_and_cr_line_endings(eol: bytes, rechunk: str | None) -> None:
    s = script(
        [
            oai(
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}',
                eol * 2,
            ),
            oai(b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}', eol * 2),
            b"data: [DONE]" + eol * 2,
        ]
    )
    result, _ = await run("openai", s, rechunk=rechunk)

    assert (result.content, result.finish_reason, result.end) == (
        "Hi",
        "stop",
        "complete",
    )


async def test_br22_keep_alive_comments_are_ignored() -> None:
    s = script(
        [
            b": OPENROUTER PROCESSING\n\n",
            (b": OPENROUTER PROCESSING\n\n", 0.2),
            b":\n",
            b": ping - 2025-01-01 00:00:00\n\n",
            oai(
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}'
            ),
            oai(b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'),
            b"data: [DONE]\n\n",
        ]
    )
    result, _ = await run("openai", s)

    assert (result.content, result.end) == ("Hi", "complete")


async def test_br24_multi_line_data_is_joined() -> None:
    anthropic = script(
        [
            _START,
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,\ndata: "delta":{"type":"text_delta","text":"Hi"}}\n\n',
            b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
        ]
    )
    result, _ = await run("anthropic", anthropic)
    assert (result.content, result.end) == ("Hi", "complete")

    openai = script(
        [
            b"data: "
            + b'{"id":"c1","object":"chat.completion.chunk","created":0,"model":"m",'
            + b'\ndata: "choices":[{"index":0,"delta":{"content":"!"},"finish_reason":null}]}\n\n',
            b"data: [DONE]\n\n",
        ]
    )
    result, _ = await run("openai", openai)
    assert (result.content, result.end) == ("!", "complete")


async def test_br24_unterminated_last_event_is_discarded() -> None:
    s = script(
        [
            oai(
                b'"choices":[{"index":0,"delta":{"content":"kept"},"finish_reason":null}]}'
            ),
            oai(
                b'"choices":[{"index":0,"delta":{"content":" lost"},"finish_reason":"stop"}]}',
                b"\n",
            ),
        ]
    )
    result, _ = await run("openai", s)

    assert (result.end, result.content) == ("truncated", "kept")


@pytest.mark.parametrize(
    "done", [b"data: [DONE]\n\n", b"data:[DONE]\n\n", b"data: [DONE]\r\n\r\n"]
)
async def test_br26_done_sentinel_ends_the_stream(done: bytes) -> None:
    s = script(
        [
            oai(
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}'
            ),
            oai(b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'),
            done,
            oai(
                b'"choices":[{"index":0,"delta":{"content":"IGNORED"},"finish_reason":null}]}'
            ),
        ]
    )
    result, _ = await run("openai", s)

    assert (result.content, result.end, result.error) == ("Hi", "complete", None)


@pytest.mark.parametrize("rechunk", RESPLITS)
async def test_br28_ndjson_split_lines_and_final_line_without_newline(
    rechunk: str | None,
) -> None:
    s = script(
        [
            OLL
            + b'"message":{"role":"assistant","content":"Hel"},"done":false}\n'
            + OLL
            + b'"mess',
            b'age":{"role":"assistant","content":"lo"},"done":false}\n',
            OLL
            + b'"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":4,"eval_count":2}',
        ],
        headers=NDJSON,
    )
    result, _ = await run("ollama", s, rechunk=rechunk)

    assert (result.content, result.finish_reason, result.end) == (
        "Hello",
        "stop",
        "complete",
    )
    assert result.usage == Usage(4, 2)


async def test_br28_incomplete_final_fragment_is_truncated() -> None:
    s = script(
        [
            oll(b'"message":{"role":"assistant","content":"Hel"},"done":false}'),
            OLL + b'"message":{"role":"assis',
        ],
        headers=NDJSON,
    )
    result, _ = await run("ollama", s)

    assert (result.end, result.content) == ("truncated", "Hel")


async def test_br29_text_and_finish_reason_in_one_chunk() -> None:
    s = script(
        [
            oai(
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}'
            ),
            oai(
                b'"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}'
            ),
            oai(
                b'"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"length"}]}'
            ),
            b"data: [DONE]\n\n",
        ]
    )
    result, _ = await run("openai", s)

    assert (result.content, result.finish_reason, result.end) == (
        "Hello",
        "length",
        "complete",
    )
    assert result.counted_chars == 5


_BR32 = [
    oai(
        b'"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Think"},"finish_reason":null}]}'
    ),
    oai(
        b'"choices":[{"index":0,"delta":{"reasoning":" step by step"},"finish_reason":null}]}'
    ),
    oai(b'"choices":[{"index":0,"delta":{"content":"42"},"finish_reason":null}]}'),
    oai(b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'),
    b"data: [DONE]\n\n",
]


async def test_br32_reasoning_counts_toward_the_estimate() -> None:
    result, _ = await run("openai", script(_BR32))

    assert (result.content, result.end) == ("42", "complete")
    assert result.counted_chars == len("Think step by step42")
    assert result.cost.completion_tokens == 5


async def test_br32_budget_trips_while_only_reasoning_streams() -> None:
    result, _ = await run("openai", script(_BR32), 2, chars_per_token=5)

    assert (result.end, result.content, result.chunks) == ("budget", "", 2)


async def test_br34_exact_estimate_is_the_count_of_the_concatenated_text() -> None:
    s = script(
        [
            oai(
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}'
            ),
            oai(
                b'"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}'
            ),
            oai(
                b'"choices":[{"index":0,"delta":{"content":" world"},"finish_reason":null}]}'
            ),
            oai(b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'),
            b"data: [DONE]\n\n",
        ]
    )
    result, _ = await run("openai", s, estimator="exact")

    assert (result.estimated_tokens, result.chunks, result.estimator) == (2, 3, "exact")


async def test_br34_one_big_chunk_is_not_one_token() -> None:
    words = b" ".join([b"word"] * 20)
    s = script(
        [
            oai(
                b'"choices":[{"index":0,"delta":{"content":"'
                + words
                + b'"},"finish_reason":"stop"}]}'
            ),
            b"data: [DONE]\n\n",
        ]
    )
    result, _ = await run("openai", s)

    assert result.chunks == 1 and result.estimated_tokens == 25
