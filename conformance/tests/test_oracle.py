"""The oracle against results worked out by hand from SPEC.md (no implementation runs)."""

from __future__ import annotations

import oracle
from oracle import KEEP, Event, UsageUpdate

OAI = '{"id":"c1","object":"chat.completion.chunk","created":0,"model":"m",'


def _sse(*datas: str) -> bytes:
    return b"".join(f"data: {d}\n\n".encode() for d in datas)


def test_br01_usage_only_final_chunk_is_kept() -> None:
    body = _sse(
        OAI + '"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}',
        OAI + '"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
        OAI + '"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}}',
        "[DONE]",
    )

    events = oracle.parse_body("openai", body).events
    got = oracle.expect(events, budget=100, chars_per_token=4.0, prompt="Say hi")

    assert (got.content, got.end, got.finish_reason) == ("Hi", "complete", "stop")
    assert got.usage == {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    assert (got.cost_basis, got.cost_prompt_tokens, got.cost_completion_tokens) == (
        "provider",
        5,
        1,
    )


def test_the_crossing_delta_is_kept_whole_and_nothing_after_it() -> None:
    events = [Event(visible="ab"), Event(visible="cd"), Event(visible="ef")]

    got = oracle.expect(events, budget=2, chars_per_token=2.0)

    assert (got.content, got.counted_chars, got.estimated_tokens) == ("abcd", 4, 2)
    assert got.end == "budget" and got.crossing_index == 1 and got.chunks == 2


def test_empty_deltas_never_trigger_the_comparison() -> None:
    events = [Event(), Event(visible=""), Event(terminal=True)]

    got = oracle.expect(events, budget=1, chars_per_token=0.1)

    assert got.end == "complete" and got.estimated_tokens == 0 and got.chunks == 0


def test_one_double_division_then_ceil() -> None:
    # The double nearest 0.7 is a little below 0.7, so 7 / r is a little above 10 in
    # exact arithmetic (ceil 11); the one double division rounds it to 10.0 (ceil 10).
    assert oracle.ratio_estimate(7, 0.7) == 10
    assert oracle.ratio_estimate(33, 3.3) == 10
    assert oracle.ratio_estimate(1, 1 / 3) == 3
    assert oracle.ratio_estimate(1, 9.7) == 1
    assert oracle.ratio_estimate(0, 0.1) == 0


def test_anthropic_usage_is_replaced_never_added() -> None:
    events = [
        Event(usage=UsageUpdate(20, KEEP)),
        Event(visible="Hi there"),
        Event(finish_reason="stop", usage=UsageUpdate(KEEP, 3)),
        Event(usage=UsageUpdate(20, 4)),
        Event(terminal=True),
    ]

    got = oracle.expect(events, budget=100, chars_per_token=4.0)

    assert got.usage == {
        "prompt_tokens": 20,
        "completion_tokens": 4,
        "total_tokens": 24,
    }


def test_anthropic_parse_maps_stop_reasons_and_ignores_the_placeholder() -> None:
    body = (
        b"event: message_start\n"
        b'data: {"type":"message_start","message":{"usage":{"input_tokens":7,'
        b'"cache_read_input_tokens":3,"output_tokens":1}}}\n\n'
        b"event: ping\ndata: {}\n\n"
        b"event: content_block_delta\n"
        b'data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}\n\n'
        b"event: message_delta\n"
        b'data: {"type":"message_delta","delta":{"stop_reason":"max_tokens"}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )

    got = oracle.expect(
        oracle.parse_body("anthropic", body).events, budget=9, chars_per_token=4.0
    )

    assert got.usage == {
        "prompt_tokens": 10,
        "completion_tokens": None,
        "total_tokens": None,
    }
    assert (got.finish_reason, got.end, got.cost_basis) == (
        "length",
        "complete",
        "partial",
    )


def test_sse_framing_edge_cases() -> None:
    assert [d for _, _, d in oracle.sse_events(b"data: a\n\ndata:  b\n\n")] == [
        "a",
        " b",
    ]
    assert [d for _, _, d in oracle.sse_events(b"data: x\r\rdata: y\r\n\r\n")] == [
        "x",
        "y",
    ]
    assert [d for _, _, d in oracle.sse_events(b"data: x\ndata: y\n\n")] == ["x\ny"]
    assert oracle.sse_events(b": keepalive\n\nevent: ping\n\n") == []
    assert [d for _, _, d in oracle.sse_events(b"\xef\xbb\xbfdata: a\n\n")] == ["a"]
    assert oracle.sse_events(b"data: tail") == []


def test_openai_clean_end_after_a_finish_reason_is_complete() -> None:
    finished = _sse(
        OAI + '"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}'
    )
    unfinished = _sse(OAI + '"choices":[{"index":0,"delta":{"content":"a"}}]}')

    def end(body: bytes) -> str:
        events = oracle.parse_body("openai", body).events
        return oracle.expect(events, budget=9, chars_per_token=4.0).end

    assert end(finished) == "complete"
    assert end(unfinished) == "truncated"


def test_ollama_fragment_at_eof_truncates_and_counts_default_to_zero() -> None:
    line = b'{"message":{"content":"hi"},"done":false}\n'
    done = (
        b'{"message":{"content":"!"},"done":true,"done_reason":"stop","eval_count":2}'
    )

    truncated = oracle.parse_body("ollama", line + b'{"message":')
    complete = oracle.parse_body("ollama", line + done)

    assert (
        oracle.expect(truncated.events, budget=9, chars_per_token=4.0).end
        == "truncated"
    )
    got = oracle.expect(complete.events, budget=9, chars_per_token=4.0)
    assert got.content == "hi!" and got.end == "complete"
    assert got.usage == {"prompt_tokens": 0, "completion_tokens": 2, "total_tokens": 2}


def test_without_usage_the_cost_is_estimated_from_the_prompt() -> None:
    got = oracle.expect(
        [Event(visible="Hello", terminal=True)],
        budget=9,
        chars_per_token=4.0,
        prompt="Say hello",
    )

    assert got.usage is None and got.cost_basis == "estimate"
    assert (got.cost_prompt_tokens, got.cost_completion_tokens) == (3, 2)


def test_crossing_write_points_at_the_write_that_completes_the_delta() -> None:
    writes = [
        _sse(OAI + '"choices":[{"index":0,"delta":{"content":"aaaa"}}]}'),
        b"data: "
        + (OAI + '"choices":[{"index":0,"delta":{"content":"bbbb"}}]}').encode(),
        b"\n\n",
        _sse("[DONE]"),
    ]

    assert oracle.crossing_write("openai", writes, budget=2, chars_per_token=4.0) == 2
    assert (
        oracle.crossing_write("openai", writes, budget=9, chars_per_token=4.0) is None
    )
