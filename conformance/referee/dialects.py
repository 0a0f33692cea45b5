"""Wire frames for the three provider dialects, and a self-check for them.

Builders turn normalized :class:`Delta` values into the exact bytes a provider sends
(shapes from ``shared/reference/wire-formats.md``): OpenAI Chat Completions SSE,
Anthropic Messages SSE and Ollama ``/api/chat`` NDJSON. Each returned ``bytes`` is one
whole frame, so a list of frames maps one-to-one onto referee writes.

:func:`check_frame` and :func:`check_body` validate frames against their dialect. A
violation is a *harness* error (the referee or a case file is wrong), never a verdict on
the implementation under test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from .script import compact_json, sse_bytes

Dialect = Literal["openai", "anthropic", "ollama"]
DIALECTS: tuple[str, ...] = ("openai", "anthropic", "ollama")
DeltaKind = Literal["content", "reasoning", "tool_args"]

CONTENT_TYPES: dict[str, str] = {
    "openai": "text/event-stream",
    "anthropic": "text/event-stream; charset=utf-8",
    "ollama": "application/x-ndjson",
}

BOM = b"\xef\xbb\xbf"
_LINE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")


@dataclass(frozen=True)
class Delta:
    """One normalized piece of generated text.

    ``kind`` is ``content`` (visible text), ``reasoning`` (OpenAI
    ``reasoning_content``, Anthropic thinking, Ollama thinking) or ``tool_args`` (OpenAI
    tool-call arguments, Anthropic ``input_json_delta``). ``field`` overrides the OpenAI
    field name of a reasoning delta (``reasoning`` instead of ``reasoning_content``).
    """

    text: str
    kind: DeltaKind = "content"
    field: str | None = None


def deltas(*texts: str, kind: DeltaKind = "content") -> list[Delta]:
    """Shorthand: one Delta of ``kind`` per text."""
    return [Delta(t, kind) for t in texts]


# -- OpenAI Chat Completions ------------------------------------------------------


def openai_chunk(
    choices: Sequence[Mapping[str, Any]],
    usage: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` object with the fixed id/created/model of our cases."""
    chunk: dict[str, Any] = {
        "id": extra.pop("chunk_id", "c1"),
        "object": "chat.completion.chunk",
        "created": extra.pop("created", 0),
        "model": extra.pop("model", "m"),
        "choices": list(choices),
    }
    if usage is not None:
        chunk["usage"] = dict(usage)
    chunk.update(extra)
    return chunk


def openai_frames(
    items: Iterable[Delta],
    finish_reason: str | None = "stop",
    usage: Mapping[str, int] | None = None,
    done: bool = True,
    role_chunk: bool = True,
    model: str = "m",
) -> list[bytes]:
    """OpenAI SSE frames: role-only chunk, one chunk per delta, finish, usage, [DONE].

    ``usage`` holds ``prompt_tokens`` and ``completion_tokens`` (``total_tokens`` is
    added when missing); it goes into the extra last chunk whose ``choices`` is ``[]``.
    """
    frames: list[bytes] = []
    if role_chunk:
        frames.append(_oai(model, {"role": "assistant", "content": ""}))

    tool_started = False
    for item in items:
        delta, tool_started = _openai_delta(item, tool_started)
        frames.append(_oai(model, delta))

    if finish_reason is not None:
        frames.append(_oai(model, {}, finish_reason))

    if usage is not None:
        frames.append(sse_bytes(openai_chunk([], _openai_usage(usage), model=model)))

    if done:
        frames.append(b"data: [DONE]\n\n")
    return frames


def _oai(
    model: str, delta: Mapping[str, Any], finish_reason: str | None = None
) -> bytes:
    choice = {"index": 0, "delta": dict(delta), "finish_reason": finish_reason}
    return sse_bytes(openai_chunk([choice], model=model))


def _openai_delta(item: Delta, tool_started: bool) -> tuple[dict[str, Any], bool]:
    if item.kind == "content":
        return {"content": item.text}, tool_started

    if item.kind == "reasoning":
        return {item.field or "reasoning_content": item.text}, tool_started

    # The first fragment of a call names it; later fragments carry arguments only.
    call: dict[str, Any] = {"index": 0, "function": {"arguments": item.text}}
    if not tool_started:
        call = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": item.text},
        }
    return {"tool_calls": [call]}, True


def _openai_usage(usage: Mapping[str, int]) -> dict[str, int]:
    result = {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
    }
    result["total_tokens"] = usage.get(
        "total_tokens", result["prompt_tokens"] + result["completion_tokens"]
    )
    return result


def openai_error_frame(
    message: str, type_: str = "server_error", code: str | None = None
) -> bytes:
    """A mid-stream error as OpenAI-compatible servers send it (data with ``error``)."""
    return sse_bytes(
        {"error": {"message": message, "type": type_, "param": None, "code": code}}
    )


# -- Anthropic Messages -----------------------------------------------------------

_BLOCKS: dict[str, tuple[str, dict[str, Any], str]] = {
    # kind -> (content block type, content_block_start body, delta type)
    "content": ("text", {"type": "text", "text": ""}, "text_delta"),
    "reasoning": (
        "thinking",
        {"type": "thinking", "thinking": "", "signature": ""},
        "thinking_delta",
    ),
    "tool_args": (
        "tool_use",
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}},
        "input_json_delta",
    ),
}
_DELTA_FIELD = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}


def anthropic_event(name: str, body: Mapping[str, Any] | None = None) -> bytes:
    """One Anthropic SSE event; the JSON ``type`` always equals the event name."""
    return sse_bytes({"type": name, **(body or {})}, event=name)


def anthropic_frames(
    items: Iterable[Delta],
    stop_reason: str | None = "end_turn",
    input_tokens: int = 10,
    output_tokens: int | None = None,
    cache_creation_input_tokens: int | None = None,
    cache_read_input_tokens: int | None = None,
    ping: bool = True,
    stop: bool = True,
    model: str = "m",
) -> list[bytes]:
    """Anthropic SSE frames for ``items``, one content block per run of the same kind.

    ``message_delta`` (with cumulative ``output_tokens``, default: the number of
    deltas) is sent when ``stop_reason`` is not None; ``message_stop`` when ``stop``.
    """
    items = list(items)
    frames = [
        anthropic_event(
            "message_start",
            {
                "message": _message(
                    model,
                    input_tokens,
                    cache_creation_input_tokens,
                    cache_read_input_tokens,
                )
            },
        )
    ]

    index = -1
    open_kind: str | None = None
    for item in items:
        if item.kind != open_kind:
            if open_kind is not None:
                frames.extend(_close_block(index, open_kind))
            index += 1
            open_kind = item.kind
            frames.append(
                anthropic_event(
                    "content_block_start",
                    {"index": index, "content_block": _BLOCKS[item.kind][1]},
                )
            )
            if ping and index == 0:
                frames.append(b'event: ping\ndata: {"type": "ping"}\n\n')

        delta_type = _BLOCKS[item.kind][2]
        frames.append(
            anthropic_event(
                "content_block_delta",
                {
                    "index": index,
                    "delta": {"type": delta_type, _DELTA_FIELD[delta_type]: item.text},
                },
            )
        )

    if open_kind is not None:
        frames.extend(_close_block(index, open_kind))

    if stop_reason is not None:
        count = len(items) if output_tokens is None else output_tokens
        frames.append(
            anthropic_event(
                "message_delta",
                {
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": count},
                },
            )
        )

    if stop:
        frames.append(anthropic_event("message_stop"))
    return frames


def _message(
    model: str, input_tokens: int, cache_creation: int | None, cache_read: int | None
) -> dict[str, Any]:
    usage: dict[str, Any] = {"input_tokens": input_tokens}
    if cache_creation is not None:
        usage["cache_creation_input_tokens"] = cache_creation
    if cache_read is not None:
        usage["cache_read_input_tokens"] = cache_read
    # Anthropic puts a placeholder output count here; clients must ignore it.
    usage["output_tokens"] = 1
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }


def _close_block(index: int, kind: str) -> list[bytes]:
    frames = []
    if kind == "reasoning":
        frames.append(
            anthropic_event(
                "content_block_delta",
                {
                    "index": index,
                    "delta": {"type": "signature_delta", "signature": "c2ln"},
                },
            )
        )
    frames.append(anthropic_event("content_block_stop", {"index": index}))
    return frames


def anthropic_error_frame(type_: str, message: str) -> bytes:
    """A mid-stream ``event: error`` (e.g. ``overloaded_error``)."""
    return anthropic_event("error", {"error": {"type": type_, "message": message}})


# -- Ollama /api/chat -------------------------------------------------------------


def ollama_line(body: Mapping[str, Any]) -> bytes:
    """One NDJSON line: compact JSON and a single ``\\n``."""
    return compact_json(dict(body)).encode("utf-8") + b"\n"


def ollama_frames(
    items: Iterable[Delta],
    done_reason: str = "stop",
    prompt_eval_count: int = 9,
    eval_count: int | None = None,
    final_text: str = "",
    done: bool = True,
    model: str = "m",
) -> list[bytes]:
    """Ollama NDJSON lines, one per delta, then the ``done: true`` line with counts.

    Zero counts are omitted like Ollama's ``omitempty`` does; ``eval_count`` defaults
    to the number of deltas (plus one when ``final_text`` is set).
    """
    items = list(items)
    frames = []
    for number, item in enumerate(items):
        if item.kind == "tool_args":
            raise ValueError(
                "Ollama sends tool calls whole; there is no tool_args delta"
            )
        message = {
            "role": "assistant",
            "content": item.text if item.kind == "content" else "",
        }
        if item.kind == "reasoning":
            message["thinking"] = item.text
        frames.append(
            ollama_line(
                {
                    "model": model,
                    "created_at": _stamp(number),
                    "message": message,
                    "done": False,
                }
            )
        )

    if done:
        count = (
            len(items) + (1 if final_text else 0) if eval_count is None else eval_count
        )
        final: dict[str, Any] = {
            "model": model,
            "created_at": _stamp(len(items)),
            "message": {"role": "assistant", "content": final_text},
            "done": True,
            "done_reason": done_reason,
            "total_duration": 120000000,
            "load_duration": 3000000,
        }
        if prompt_eval_count:
            final["prompt_eval_count"] = prompt_eval_count
        final["prompt_eval_duration"] = 20000000
        if count:
            final["eval_count"] = count
        final["eval_duration"] = 90000000
        frames.append(ollama_line(final))
    return frames


def _stamp(number: int) -> str:
    return f"2025-01-01T00:00:{number % 60:02d}.{number // 60 % 1000:03d}Z"


def ollama_error_line(message: str) -> bytes:
    """A mid-stream Ollama error: one line holding only ``error``."""
    return ollama_line({"error": message})


# -- error bodies before the stream ----------------------------------------------


def error_body(dialect: str, message: str, type_: str | None = None) -> bytes:
    """The JSON body each provider sends with an HTTP error status."""
    if dialect == "openai":
        return compact_json(
            {
                "error": {
                    "message": message,
                    "type": type_ or "server_error",
                    "param": None,
                    "code": None,
                }
            }
        ).encode("utf-8")
    if dialect == "anthropic":
        return compact_json(
            {
                "type": "error",
                "error": {"type": type_ or "api_error", "message": message},
                "request_id": "req_1",
            }
        ).encode("utf-8")
    return compact_json({"error": message}).encode("utf-8")


# -- self-check -------------------------------------------------------------------


def media_type_matches(dialect: str, content_type: str | None) -> bool:
    """Whether a Content-Type is the one the dialect streams with."""
    media = (content_type or "").split(";")[0].strip().lower()
    wanted = CONTENT_TYPES.get(dialect, "").split(";")[0]
    return media == wanted


def check_body(dialect: str, body: bytes) -> list[str]:
    """Split a whole scripted body into frames and check each; list every violation."""
    if dialect not in DIALECTS:
        return [f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECTS)}"]

    frames, rest = split_ndjson(body) if dialect == "ollama" else split_sse(body)
    problems: list[str] = []
    for number, frame in enumerate(frames):
        problems.extend(f"frame {number}: {p}" for p in _check_cached(dialect, frame))

    if rest:
        problems.append(f"the body ends with an unterminated frame: {rest[:80]!r}")
    return problems


def check_frame(dialect: str, frame: bytes) -> list[str]:
    """Check one whole frame (SSE event with its blank line, or NDJSON line)."""
    return list(_check_cached(dialect, frame))


@lru_cache(maxsize=4096)
def _check_cached(dialect: str, frame: bytes) -> tuple[str, ...]:
    # Long paced streams repeat one frame thousands of times; check each once.
    if dialect == "ollama":
        return tuple(_check_ndjson_line(frame))

    if dialect in ("openai", "anthropic"):
        return tuple(_check_sse_event(dialect, frame))

    return (f"unknown dialect {dialect!r}",)


def split_sse(body: bytes) -> tuple[list[bytes], bytes]:
    """Cut an SSE body into events (each ending with its blank line) and a remainder.

    Lines end at CRLF, LF or CR (WHATWG); one leading BOM is dropped.
    """
    body = body.removeprefix(BOM)

    frames: list[bytes] = []
    start = pos = 0
    for match in _LINE.finditer(body):
        if match.start() != pos:
            break
        pos = match.end()
        if match.group(1) == b"":
            frames.append(body[start:pos])
            start = pos

    return frames, body[start:]


def split_ndjson(body: bytes) -> tuple[list[bytes], bytes]:
    """Cut an NDJSON body into lines (each with its ``\\n``) and a remainder."""
    frames = []
    start = 0
    while (end := body.find(b"\n", start)) != -1:
        frames.append(body[start : end + 1])
        start = end + 1
    return frames, body[start:]


def _sse_fields(frame: bytes) -> tuple[list[tuple[str, str]], list[str]]:
    """Parse one event's lines into (field, value) pairs; problems with the framing."""
    problems: list[str] = []
    fields: list[tuple[str, str]] = []
    lines = [m.group(1) for m in _LINE.finditer(frame)]
    if b"".join(m.group(0) for m in _LINE.finditer(frame)) != frame:
        problems.append("event does not end with a line break")

    if not lines or lines[-1] != b"":
        problems.append("event does not end with a blank line")

    for raw in lines[:-1]:
        if raw == b"":
            problems.append("blank line inside one event")
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"line is not UTF-8: {raw[:60]!r}")
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.append((name, value.removeprefix(" ")))

    return fields, problems


def _check_sse_event(dialect: str, frame: bytes) -> list[str]:
    fields, problems = _sse_fields(frame)
    data_lines = [v for n, v in fields if n == "data"]
    events = [v for n, v in fields if n == "event"]
    if not data_lines:
        return problems

    data = "\n".join(data_lines)
    if dialect == "openai":
        return problems + _check_openai_data(data)

    return problems + _check_anthropic_data(events[-1] if events else None, data)


def _json_object(data: str | bytes) -> tuple[dict[str, Any] | None, list[str]]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        return None, [f"data is not JSON ({exc}): {data[:80]!r}"]

    if not isinstance(value, dict):
        return None, [f"data is JSON but not an object: {data[:80]!r}"]
    return value, []


def _check_openai_data(data: str) -> list[str]:
    if data == "[DONE]":
        return []

    chunk, problems = _json_object(data)
    if chunk is None:
        return problems

    if "error" in chunk:
        error = chunk["error"]
        if not (isinstance(error, str) or _has_str(error, "message")):
            problems.append("error must be a string or an object with a string message")
        return problems

    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return problems + ["chunk has no choices list"]

    for number, choice in enumerate(choices):
        problems.extend(f"choices[{number}]: {p}" for p in _check_openai_choice(choice))

    usage = chunk.get("usage")
    if usage is not None and not isinstance(usage, dict):
        problems.append("usage must be an object or null")
    if chunk.get("object", "chat.completion.chunk") != "chat.completion.chunk":
        problems.append(f"object is {chunk.get('object')!r}, not chat.completion.chunk")
    return problems


def _check_openai_choice(choice: Any) -> list[str]:
    if not isinstance(choice, dict):
        return ["choice is not an object"]

    problems = []
    if not isinstance(choice.get("index"), int):
        problems.append("index must be an integer")
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return problems + ["delta must be an object"]

    for name in ("content", "reasoning_content", "reasoning", "role"):
        if delta.get(name) is not None and not isinstance(delta[name], str):
            problems.append(f"delta.{name} must be a string or null")
    reason = choice.get("finish_reason")
    if reason is not None and not isinstance(reason, str):
        problems.append("finish_reason must be a string or null")
    return problems


_ANTHROPIC_REQUIRED: dict[str, tuple[str, ...]] = {
    "message_start": ("message",),
    "content_block_start": ("index", "content_block"),
    "content_block_delta": ("index", "delta"),
    "content_block_stop": ("index",),
    "message_delta": ("delta", "usage"),
    "error": ("error",),
}


def _check_anthropic_data(event: str | None, data: str) -> list[str]:
    body, problems = _json_object(data)
    if body is None:
        return problems

    kind = body.get("type")
    if event is None:
        problems.append(f"data of type {kind!r} has no event: line (SDKs drop it)")
    elif kind != event:
        problems.append(f"event name {event!r} differs from JSON type {kind!r}")

    missing = [f for f in _ANTHROPIC_REQUIRED.get(str(kind), ()) if f not in body]
    problems.extend(f"{kind} lacks {name!r}" for name in missing)
    if missing:
        return problems

    if kind == "message_start":
        usage = (
            body["message"].get("usage") if isinstance(body["message"], dict) else None
        )
        if not isinstance(usage, dict) or not isinstance(
            usage.get("input_tokens"), int
        ):
            problems.append(
                "message_start.message.usage.input_tokens must be an integer"
            )
    elif kind == "content_block_delta":
        problems.extend(_check_anthropic_delta(body["delta"]))
    elif kind == "message_delta":
        usage = body["usage"]
        if not isinstance(usage, dict) or not isinstance(
            usage.get("output_tokens"), int
        ):
            problems.append("message_delta.usage.output_tokens must be an integer")
    elif kind == "error":
        error = body["error"]
        if not (_has_str(error, "type") and _has_str(error, "message")):
            problems.append("error must carry string type and message")
    return problems


def _check_anthropic_delta(delta: Any) -> list[str]:
    if not isinstance(delta, dict) or not isinstance(delta.get("type"), str):
        return ["content_block_delta.delta must be an object with a string type"]

    name = _DELTA_FIELD.get(delta["type"])
    if name is not None and not isinstance(delta.get(name), str):
        return [f"{delta['type']} must carry a string {name!r}"]
    return []


def _check_ndjson_line(frame: bytes) -> list[str]:
    if not frame.endswith(b"\n"):
        return ["line does not end with \\n"]

    line = frame[:-1]
    if line.endswith(b"\r"):
        return ["line ends with \\r\\n (Ollama sends \\n only)"]
    if not line.strip():
        return ["blank line (Ollama never sends one; mark the case raw)"]

    body, problems = _json_object(line)
    if body is None:
        return problems

    if "error" in body:
        return [] if isinstance(body["error"], str) else ["error must be a string"]

    if not isinstance(body.get("done"), bool):
        problems.append("done must be a boolean")
    message = body.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content"), str):
        problems.append("message.content must be a string")
    elif "thinking" in message and not isinstance(message["thinking"], str):
        problems.append("message.thinking must be a string")

    for name in ("prompt_eval_count", "eval_count"):
        if name in body and not isinstance(body[name], int):
            problems.append(f"{name} must be an integer")
    return problems


def _has_str(value: Any, key: str) -> bool:
    return isinstance(value, dict) and isinstance(value.get(key), str)
