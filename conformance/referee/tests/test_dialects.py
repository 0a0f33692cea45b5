"""Dialect builders produce the documented shapes, and the self-check catches breakage."""

from __future__ import annotations

import json

import pytest

from referee import dialects
from referee.dialects import Delta, check_body, check_frame


def _sse_data(frame: bytes) -> object:
    lines = frame.decode().splitlines()
    data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
    return data if data == "[DONE]" else json.loads(data)


def test_openai_frames_have_role_chunk_deltas_finish_usage_and_done() -> None:
    frames = dialects.openai_frames(
        [Delta("Hi"), Delta("hm", "reasoning"), Delta('{"a"', "tool_args")],
        usage={"prompt_tokens": 5, "completion_tokens": 3},
    )
    data = [_sse_data(f) for f in frames]

    assert data[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert data[1]["choices"][0]["delta"] == {"content": "Hi"}
    assert data[2]["choices"][0]["delta"] == {"reasoning_content": "hm"}
    assert (
        data[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        == '{"a"'
    )
    assert data[4]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert data[5]["choices"] == []
    assert data[5]["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
    }
    assert data[6] == "[DONE]"
    assert check_body("openai", b"".join(frames)) == []


def test_openai_reasoning_field_can_be_renamed() -> None:
    frames = dialects.openai_frames(
        [Delta("x", "reasoning", field="reasoning")],
        finish_reason=None,
        done=False,
        role_chunk=False,
    )

    assert _sse_data(frames[0])["choices"][0]["delta"] == {"reasoning": "x"}


def test_anthropic_frames_name_every_event_by_its_type() -> None:
    frames = dialects.anthropic_frames(
        [
            Delta("think", "reasoning"),
            Delta("Hi"),
            Delta(" there"),
            Delta("{}", "tool_args"),
        ],
        input_tokens=20,
        output_tokens=7,
    )
    names = [f.split(b"\n")[0].decode().removeprefix("event: ") for f in frames]

    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names.count("content_block_start") == 3
    assert names.count("content_block_stop") == 3
    assert "ping" in names
    delta = _sse_data(frames[names.index("message_delta")])
    assert delta["usage"] == {"output_tokens": 7}
    assert delta["delta"]["stop_reason"] == "end_turn"
    for frame, name in zip(frames, names):
        assert _sse_data(frame)["type"] == name
    assert check_body("anthropic", b"".join(frames)) == []


def test_anthropic_frames_can_stop_before_message_delta() -> None:
    frames = dialects.anthropic_frames(
        [Delta("a")], stop_reason=None, stop=False, ping=False
    )
    names = [f.split(b"\n")[0] for f in frames]

    assert b"event: message_delta" not in names
    assert b"event: message_stop" not in names


def test_ollama_frames_end_with_counts_and_omit_zeros() -> None:
    frames = dialects.ollama_frames(
        [Delta("Hel"), Delta("hmm", "reasoning")], prompt_eval_count=0, final_text="!"
    )
    lines = [json.loads(f) for f in frames]

    assert all(f.endswith(b"\n") and f.count(b"\n") == 1 for f in frames)
    assert lines[0]["message"] == {"role": "assistant", "content": "Hel"}
    assert lines[1]["message"]["thinking"] == "hmm"
    assert lines[2]["done"] is True and lines[2]["message"]["content"] == "!"
    assert "prompt_eval_count" not in lines[2]
    assert lines[2]["eval_count"] == 3
    assert check_body("ollama", b"".join(frames)) == []


def test_ollama_has_no_tool_args_delta() -> None:
    with pytest.raises(ValueError, match="whole"):
        dialects.ollama_frames([Delta("{}", "tool_args")])


def test_error_frames_pass_their_own_check() -> None:
    assert check_frame("openai", dialects.openai_error_frame("boom")) == []
    assert (
        check_frame(
            "anthropic", dialects.anthropic_error_frame("overloaded_error", "x")
        )
        == []
    )
    assert check_frame("ollama", dialects.ollama_error_line("boom")) == []
    assert json.loads(dialects.error_body("anthropic", "m", "rate_limit_error"))[
        "error"
    ] == {"type": "rate_limit_error", "message": "m"}
    assert json.loads(dialects.error_body("ollama", "m")) == {"error": "m"}


@pytest.mark.parametrize(
    ("dialect", "frame", "problem"),
    [
        ("openai", b"data: {not json}\n\n", "not JSON"),
        ("openai", b"data: [1]\n\n", "not an object"),
        (
            "openai",
            b'data: {"choices":[{"index":0,"delta":{"content":5}}]}\n\n',
            "content",
        ),
        ("openai", b'data: {"id":"x"}\n\n', "no choices"),
        ("openai", b'data: {"choices":[]}\n', "blank line"),
        ("anthropic", b'data: {"type":"message_stop"}\n\n', "no event: line"),
        ("anthropic", b'event: message_stop\ndata: {"type":"ping"}\n\n', "differs"),
        (
            "anthropic",
            (
                b'event: content_block_delta\ndata: {"type":"content_block_delta",'
                b'"index":0,"delta":{"type":"text_delta"}}\n\n'
            ),
            "string 'text'",
        ),
        (
            "anthropic",
            b'event: message_delta\ndata: {"type":"message_delta","delta":{}}\n\n',
            "lacks 'usage'",
        ),
        ("ollama", b'{"done":false,"message":{"content":"x"}}', "does not end"),
        ("ollama", b'{"done":"no","message":{"content":"x"}}\n', "done must be"),
        ("ollama", b"\n", "blank line"),
        ("ollama", b'{"done":false,"message":{"content":"x"}}\r\n', "\\r\\n"),
    ],
)
def test_check_frame_flags_broken_frames(
    dialect: str, frame: bytes, problem: str
) -> None:
    problems = check_frame(dialect, frame)

    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    "body",
    [
        b': keep-alive\n\ndata: {"choices":[]}\r\n\r\n',
        b'\xef\xbb\xbfdata: {"choices":[]}\n\n',
        b'data: {"choices":\ndata: []}\n\n',
        b"data:[DONE]\r\r",
        b":\n: ping\n\n",
    ],
)
def test_legal_but_unusual_sse_passes(body: bytes) -> None:
    assert check_body("openai", body) == []


def test_check_body_reports_an_unterminated_last_event() -> None:
    problems = check_body("openai", b"data: [DONE]\n")

    assert problems and "unterminated" in problems[0]


def test_split_sse_keeps_a_crlf_split_across_the_body() -> None:
    frames, rest = dialects.split_sse(b"data: a\r\n\r\ndata: b\r\r")

    assert frames == [b"data: a\r\n\r\n", b"data: b\r\r"]
    assert rest == b""


def test_media_type_matches_ignores_parameters_and_case() -> None:
    assert dialects.media_type_matches("anthropic", "Text/Event-Stream; charset=utf-8")
    assert not dialects.media_type_matches("openai", "application/json")
    assert dialects.media_type_matches("ollama", "application/x-ndjson")
