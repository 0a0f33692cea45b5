"""The executable arithmetic of conformance/SPEC.md, version 1 (sections 2 and 3).

Every number an implementation reports about counting is checked against these few
functions. Keep them boring: any change here is a contract change and bumps
``CONTRACT_VERSION``.

Two layers live here:

* ``code_points`` / ``ratio_estimate``: the counting rule itself (SPEC sections 2, 3).
* ``expect`` and friends: given the normalized events a stream carries (what each
  delta adds, finish reasons, usage reports, the terminal marker, errors) and how the
  body ended, compute the whole expected result (SPEC sections 4, 6, 6.1, 6.3).
  ``parse_body`` turns a provider's raw response bytes into those events, so the
  harness can also locate the crossing write of a scripted case.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

CONTRACT_VERSION = 1
ESTIMATE_CAP = 2**53

DEFAULT_PROMPT = (
    "Explain in a few paragraphs why streaming answers need a token budget."
)

BodyEnd = Literal["clean", "reset", "hold"]
End = Literal["complete", "budget", "truncated", "error"]


def code_points(text: str) -> int:
    """Count Unicode code points, the unit of SPEC.md section 2 (not bytes, not UTF-16)."""
    return len(text)


def ratio_estimate(counted_chars: int, chars_per_token: float) -> int:
    """SPEC.md section 3: 0 for no text, else min(2^53, max(1, ceil(C / r))).

    C / r is one double division; the cap keeps an absurdly small ratio from producing
    an infinite quotient or a number JSON parsers cannot hold exactly.
    """
    if counted_chars == 0:
        return 0

    quotient = float(counted_chars) / chars_per_token
    if quotient >= ESTIMATE_CAP:
        return ESTIMATE_CAP

    return max(1, math.ceil(quotient))


# --- normalized events ---------------------------------------------------------------


class _Keep:
    """Marker for a usage field an event leaves as it was (anthropic, SPEC 6.1)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()
UsageValue = int | None | _Keep


@dataclass(frozen=True)
class UsageUpdate:
    """One provider usage report: each count is replaced, set to null, or kept."""

    prompt_tokens: UsageValue = KEEP
    completion_tokens: UsageValue = KEEP
    # Anthropic: the prompt parts this report carries (SPEC 6.1); the tally keeps the
    # others from earlier reports and sums them once input_tokens has been seen.
    prompt_parts: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Event:
    """One processed provider event (SPEC 2: a delta, or a frame that adds nothing).

    ``error`` names the error kind when the event is a mid-stream error (SPEC 8);
    ``terminal`` marks the provider's end-of-stream marker (SPEC 4.1).
    """

    visible: str = ""
    hidden: str = ""
    finish_reason: str | None = None
    usage: UsageUpdate | None = None
    terminal: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Expectation:
    """What a correct implementation reports for one stream (SPEC 6)."""

    content: str
    counted_chars: int
    estimated_tokens: int
    chunks: int
    budget_reached: bool
    end: End
    finish_reason: str | None
    usage: dict[str, int | None] | None
    cost_basis: str
    cost_prompt_tokens: int
    cost_completion_tokens: int
    error_kind: str | None
    crossing_index: int | None
    processed: int

    def result_fields(self) -> dict[str, Any]:
        """The expectation keyed like the result object of SPEC 6."""
        return {
            "content": self.content,
            "counted_chars": self.counted_chars,
            "estimated_tokens": self.estimated_tokens,
            "chunks": self.chunks,
            "budget_reached": self.budget_reached,
            "end": self.end,
            "finish_reason": self.finish_reason,
            "usage": self.usage,
            "cost": {
                "basis": self.cost_basis,
                "prompt_tokens": self.cost_prompt_tokens,
                "completion_tokens": self.cost_completion_tokens,
            },
            "error_kind": self.error_kind,
        }


@dataclass
class _Tally:
    """Running state while the oracle walks the events."""

    counted: int = 0
    chunks: int = 0
    content: list[str] = field(default_factory=list)
    finish: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_seen: bool = False
    prompt_parts: dict[str, int] = field(default_factory=dict)

    def apply_usage(self, update: UsageUpdate) -> None:
        # Reports replace earlier values, they are never added (BR-03, BR-06).
        if update.prompt_parts:
            self.prompt_parts.update(update.prompt_parts)
            if "input_tokens" in self.prompt_parts:
                self.prompt_tokens = sum(self.prompt_parts.values())
                self.usage_seen = True
        if not isinstance(update.prompt_tokens, _Keep):
            self.prompt_tokens = update.prompt_tokens
            self.usage_seen = True
        if not isinstance(update.completion_tokens, _Keep):
            self.completion_tokens = update.completion_tokens
            self.usage_seen = True

    def usage(self) -> dict[str, int | None] | None:
        if not self.usage_seen:
            return None

        p, o = self.prompt_tokens, self.completion_tokens
        total = p + o if p is not None and o is not None else None
        return {"prompt_tokens": p, "completion_tokens": o, "total_tokens": total}


def expect(
    events: list[Event],
    *,
    budget: int,
    chars_per_token: float,
    prompt: str = DEFAULT_PROMPT,
    body_end: BodyEnd = "clean",
    provider: str = "openai",
) -> Expectation:
    """Walk the events as SPEC 3 and 4 require and return the expected result.

    ``body_end`` says what happened after the last event: the HTTP body ended
    cleanly, the connection broke, or the server went silent (the client's
    ``--timeout`` fires).
    """
    tally = _Tally()
    end: End | None = None
    error_kind: str | None = None
    crossing: int | None = None
    processed = 0

    for index, event in enumerate(events):
        processed = index + 1
        if event.error is not None:
            end, error_kind = "error", event.error
            break

        # One event's fields are processed together, then the comparison runs (BR-29).
        if event.usage is not None:
            tally.apply_usage(event.usage)
        if event.finish_reason is not None:
            tally.finish = event.finish_reason
        added = code_points(event.visible) + code_points(event.hidden)
        tally.counted += added
        tally.content.append(event.visible)

        # The budget is checked before the terminal marker: a crossing delta wins.
        if added > 0:
            tally.chunks += 1
            if ratio_estimate(tally.counted, chars_per_token) >= budget:
                end, crossing = "budget", index
                break
        if event.terminal:
            end = "complete"
            break

    if end is None:
        end, error_kind = _end_without_marker(body_end, provider, tally.finish)

    return _finish(tally, end, error_kind, crossing, processed, prompt, chars_per_token)


def _end_without_marker(
    body_end: BodyEnd, provider: str, finish: str | None
) -> tuple[End, str | None]:
    """SPEC 4.1/4.2: how a stream ends when no terminal marker arrived."""
    if body_end == "reset":
        return "error", "connection"
    if body_end == "hold":
        return "error", "timeout"

    # openai: a clean end after a finish reason counts as complete (SPEC 4.1).
    if provider == "openai" and finish is not None:
        return "complete", None
    return "truncated", "truncated"


def _finish(
    tally: _Tally,
    end: End,
    error_kind: str | None,
    crossing: int | None,
    processed: int,
    prompt: str,
    chars_per_token: float,
) -> Expectation:
    estimated = ratio_estimate(tally.counted, chars_per_token)
    basis, cost_prompt, cost_completion = cost_counts(
        tally.prompt_tokens, tally.completion_tokens, estimated, prompt, chars_per_token
    )
    return Expectation(
        content="".join(tally.content),
        counted_chars=tally.counted,
        estimated_tokens=estimated,
        chunks=tally.chunks,
        budget_reached=end == "budget",
        end=end,
        finish_reason=tally.finish,
        usage=tally.usage(),
        cost_basis=basis,
        cost_prompt_tokens=cost_prompt,
        cost_completion_tokens=cost_completion,
        error_kind=error_kind,
        crossing_index=crossing,
        processed=processed,
    )


def cost_counts(
    prompt_tokens: int | None,
    completion_tokens: int | None,
    estimated_tokens: int,
    prompt: str,
    chars_per_token: float,
) -> tuple[str, int, int]:
    """SPEC 6.3: the cost basis and the two counts it prices."""
    reported = (prompt_tokens is not None) + (completion_tokens is not None)
    basis = {2: "provider", 1: "partial", 0: "estimate"}[reported]
    prompt_count = (
        prompt_tokens
        if prompt_tokens is not None
        else ratio_estimate(code_points(prompt), chars_per_token)
    )
    completion_count = (
        completion_tokens if completion_tokens is not None else estimated_tokens
    )
    return basis, prompt_count, completion_count


def status_error_kind(status: int) -> str:
    """SPEC 8: the error kind of a non-2xx response before the stream began."""
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status in (503, 529):
        return "overloaded"
    if 400 <= status < 500:
        return "bad_request"
    return "server"


# --- raw bytes to events (an independent second parser, SPEC 4.4) --------------------

ANTHROPIC_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

_ANTHROPIC_ERROR_KINDS = {
    "authentication_error": "auth",
    "permission_error": "auth",
    "rate_limit_error": "rate_limit",
    "invalid_request_error": "bad_request",
    "not_found_error": "bad_request",
    "request_too_large": "bad_request",
    "overloaded_error": "overloaded",
}

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class ParsedBody:
    """Events found in a body, each with the byte offset where it was complete."""

    events: list[Event]
    offsets: list[int]


def parse_body(provider: str, body: bytes) -> ParsedBody:
    """Split a whole response body into events the way SPEC 4.4 frames it."""
    if provider == "ollama":
        return _parse_ndjson(body)

    events: list[Event] = []
    offsets: list[int] = []
    for offset, name, data in sse_events(body):
        event = (
            _openai_event(data)
            if provider == "openai"
            else _anthropic_event(name, data)
        )
        if event is not None:
            events.append(event)
            offsets.append(offset)
    return ParsedBody(events, offsets)


def sse_events(body: bytes) -> list[tuple[int, str, str]]:
    """WHATWG event-stream parsing of a complete body: (end offset, name, data)."""
    pos = len(_BOM) if body.startswith(_BOM) else 0
    found: list[tuple[int, str, str]] = []
    data: list[str] = []
    name = ""
    while True:
        line, pos = _next_line(body, pos)
        if line is None:
            # An event still pending at EOF is discarded.
            return found

        text = line.decode("utf-8", errors="replace")
        if text == "":
            if data:
                found.append((pos, name, "\n".join(data)))
            data, name = [], ""
        elif not text.startswith(":"):
            key, _, value = text.partition(":")
            value = value.removeprefix(" ")
            if key == "data":
                data.append(value)
            elif key == "event":
                name = value


def _next_line(body: bytes, pos: int) -> tuple[bytes | None, int]:
    """The next complete line from ``pos`` (CRLF, LF or CR) and where the next starts."""
    cr, lf = body.find(b"\r", pos), body.find(b"\n", pos)
    ends = [i for i in (cr, lf) if i >= 0]
    if not ends:
        return None, pos

    stop = min(ends)
    after = stop + 2 if body[stop : stop + 2] == b"\r\n" else stop + 1
    return body[pos:stop], after


def _json_object(data: str) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _text(value: object) -> str:
    """SPEC 2: text that is null, absent or not a string adds nothing."""
    return value if isinstance(value, str) else ""


def _count(value: object) -> int | None:
    """An integer count, or null for anything else (booleans are not counts)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _openai_event(data: str) -> Event:
    if data == "[DONE]":
        return Event(terminal=True)

    obj = _json_object(data)
    if obj is None:
        return Event(error="protocol")
    if obj.get("error"):
        return Event(error=_openai_error_kind(obj["error"]))

    visible, hidden, finish = [], [], None
    choices = obj.get("choices")
    for choice in choices if isinstance(choices, list) else []:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        hidden.append(
            _text(delta.get("reasoning_content")) + _text(delta.get("reasoning"))
        )
        visible.append(_text(delta.get("content")))
        hidden.extend(_tool_arguments(delta.get("tool_calls")))
        if choice.get("finish_reason") is not None:
            finish = str(choice["finish_reason"])

    usage = obj.get("usage")
    update = None
    if isinstance(usage, dict):
        update = UsageUpdate(
            _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
        )
    return Event("".join(visible), "".join(hidden), finish, update)


def _tool_arguments(calls: object) -> list[str]:
    found = []
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            found.append(_text(function.get("arguments")))
    return found


def _openai_error_kind(error: object) -> str:
    if not isinstance(error, dict):
        return "server"
    kind = error.get("type")
    if kind == "authentication_error":
        return "auth"
    if kind == "rate_limit_error" or error.get("code") == "rate_limit_exceeded":
        return "rate_limit"
    if kind == "invalid_request_error":
        return "bad_request"
    return "server"


_ANTHROPIC_MEANINGFUL = frozenset(
    {"message_start", "content_block_delta", "message_delta", "message_stop", "error"}
)


def _anthropic_event(name: str, data: str) -> Event | None:
    # SPEC 4.4: the five meaningful events need a JSON object; any other event only
    # needs its data to be JSON at all.
    if name not in _ANTHROPIC_MEANINGFUL:
        try:
            json.loads(data)
        except ValueError:
            return Event(error="protocol")
        return None

    obj = _json_object(data)
    if obj is None:
        return Event(error="protocol")

    if name == "content_block_delta":
        delta = obj.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        kind = delta.get("type")
        if kind == "text_delta":
            return Event(visible=_text(delta.get("text")))
        if kind == "thinking_delta":
            return Event(hidden=_text(delta.get("thinking")))
        if kind == "input_json_delta":
            return Event(hidden=_text(delta.get("partial_json")))
        return Event()
    if name == "message_start":
        message = obj.get("message")
        usage = message.get("usage") if isinstance(message, dict) else None
        return Event(usage=_anthropic_usage(usage, with_output=False))
    if name == "message_delta":
        delta = obj.get("delta")
        stop = delta.get("stop_reason") if isinstance(delta, dict) else None
        finish = (
            ANTHROPIC_STOP_REASONS.get(stop, stop) if isinstance(stop, str) else None
        )
        return Event(
            finish_reason=finish,
            usage=_anthropic_usage(obj.get("usage"), with_output=True),
        )
    if name == "message_stop":
        return Event(terminal=True)
    if name == "error":
        error = obj.get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        return Event(error=_ANTHROPIC_ERROR_KINDS.get(str(kind), "server"))
    return None


def _anthropic_usage(usage: object, *, with_output: bool) -> UsageUpdate | None:
    """SPEC 6.1: input plus both cache counts; message_start's output is a placeholder."""
    if not isinstance(usage, dict):
        return None

    parts = tuple(
        (key, value)
        for key in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
        if (value := _count(usage.get(key))) is not None
    )
    completion: UsageValue = KEEP
    if with_output and "output_tokens" in usage:
        completion = _count(usage["output_tokens"])
    if not parts and isinstance(completion, _Keep):
        return None
    return UsageUpdate(completion_tokens=completion, prompt_parts=parts)


def _parse_ndjson(body: bytes) -> ParsedBody:
    events: list[Event] = []
    offsets: list[int] = []
    pos = 0
    while pos < len(body):
        newline = body.find(b"\n", pos)
        complete = newline >= 0
        stop = newline if complete else len(body)
        raw = body[pos:stop]
        pos = stop + 1 if complete else len(body)
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        if raw.strip() == b"":
            continue

        obj = _json_object(raw.decode("utf-8", errors="replace"))
        if obj is None:
            # A broken final fragment without "\n" only makes the stream truncated.
            if complete:
                events.append(Event(error="protocol"))
                offsets.append(pos)
            break
        events.append(_ollama_event(obj))
        offsets.append(pos)
    return ParsedBody(events, offsets)


def _ollama_event(obj: dict[str, Any]) -> Event:
    if obj.get("error") is not None:
        return Event(error="server")

    message = obj.get("message")
    message = message if isinstance(message, dict) else {}
    done = obj.get("done") is True
    usage = None
    finish = None
    if done:
        # Ollama omits zero counts, so a missing field is a real 0 (SPEC 6.1).
        usage = UsageUpdate(
            _count(obj.get("prompt_eval_count", 0)), _count(obj.get("eval_count", 0))
        )
        reason = obj.get("done_reason")
        finish = reason if isinstance(reason, str) else None
    return Event(
        visible=_text(message.get("content")),
        hidden=_text(message.get("thinking")),
        finish_reason=finish,
        usage=usage,
        terminal=done,
    )


def crossing_write(
    provider: str, writes: list[bytes], budget: int, chars_per_token: float
) -> int | None:
    """Index of the scripted write that completes the crossing delta, if any."""
    parsed = parse_body(provider, b"".join(writes))
    result = expect(
        parsed.events, budget=budget, chars_per_token=chars_per_token, provider=provider
    )
    if result.crossing_index is None:
        return None

    offset = parsed.offsets[result.crossing_index]
    sent = 0
    for index, chunk in enumerate(writes):
        sent += len(chunk)
        if sent >= offset:
            return index
    return len(writes) - 1
