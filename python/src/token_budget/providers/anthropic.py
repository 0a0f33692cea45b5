"""Anthropic Messages streaming (`--provider anthropic`, alias `claude`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from token_budget.errors import (
    ErrorKind,
    ProtocolError,
    ProviderError,
    TruncatedStreamError,
)
from token_budget.providers.base import (
    Chunk,
    HttpCall,
    HttpProvider,
    parse_json_object,
    text_of,
)
from token_budget.providers.sse import SSEDecoder, SSEEvent
from token_budget.usage import UsageUpdate, as_count

ANTHROPIC_VERSION = "2023-06-01"

# SPEC 6.2: Anthropic stop reasons in the OpenAI vocabulary; others pass through.
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

_ERROR_KINDS: dict[str, ErrorKind] = {
    "authentication_error": "auth",
    "permission_error": "auth",
    "rate_limit_error": "rate_limit",
    "invalid_request_error": "bad_request",
    "not_found_error": "bad_request",
    "request_too_large": "bad_request",
    "overloaded_error": "overloaded",
}

# Which delta types carry counted text, and in which field.
_DELTA_FIELDS = {
    "text_delta": ("text", True),
    "thinking_delta": ("thinking", False),
    "input_json_delta": ("partial_json", False),
}


class AnthropicProvider(HttpProvider):
    """`POST {base}/v1/messages` with `stream: true`, read as SSE."""

    name: ClassVar[str] = "anthropic"
    default_model: ClassVar[str] = "claude-sonnet-4-5"
    base_env: ClassVar[str] = "ANTHROPIC_BASE_URL"
    default_base_url: ClassVar[str] = "https://api.anthropic.com"
    key_env: ClassVar[str] = "ANTHROPIC_API_KEY"

    def build(self, prompt: str, model: str, max_tokens: int) -> HttpCall:
        body = {
            "model": model,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
        }
        headers = [
            ("Content-Type", "application/json"),
            ("Accept", "text/event-stream"),
            ("Accept-Encoding", "identity"),
            ("anthropic-version", ANTHROPIC_VERSION),
        ]
        if self.api_key:
            headers.append(("x-api-key", self.api_key))

        return HttpCall(
            "POST",
            f"{self.base_url}/v1/messages",
            headers,
            json.dumps(body).encode("utf-8"),
            self.secrets(),
        )

    def new_decoder(self, on_line: Callable[[str], None] | None) -> SSEDecoder:
        return SSEDecoder(on_line)

    def new_parser(self) -> AnthropicStreamParser:
        return AnthropicStreamParser()


_PROMPT_PARTS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


class AnthropicStreamParser:
    """Dispatches on the SSE event name, as Anthropic's own clients do."""

    def __init__(self) -> None:
        # SPEC 6.1: the prompt is three cumulative parts; each event replaces the parts
        # it carries and keeps the others (BR-06).
        self._parts: dict[str, int] = {}

    def frame(self, frame: SSEEvent) -> Chunk | None:
        name, data = frame
        if name == "content_block_delta":
            return self._delta(parse_json_object(data, name))
        if name == "message_start":
            return self._start(parse_json_object(data, name))
        if name == "message_delta":
            return self._message_delta(parse_json_object(data, name))
        if name == "message_stop":
            parse_json_object(data, name)
            return Chunk(terminal=True)
        if name == "error":
            raise anthropic_stream_error(parse_json_object(data, name))

        # ping, content_block_start/stop and unknown events mean nothing to us, but
        # their data must still be JSON.
        try:
            json.loads(data)
        except ValueError:
            raise ProtocolError(
                f"{name} event data is not valid JSON: {data[:80]!r}"
            ) from None
        return None

    def _delta(self, event: dict[str, Any]) -> Chunk | None:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return None

        spec = _DELTA_FIELDS.get(delta.get("type"))  # type: ignore[arg-type]
        if spec is None:
            return None

        field, visible = spec
        value = text_of(delta.get(field))
        if not value:
            return None

        return Chunk(text=value) if visible else Chunk(hidden=value)

    def _start(self, event: dict[str, Any]) -> Chunk | None:
        message = event.get("message")
        usage = message.get("usage") if isinstance(message, dict) else None
        # Its output_tokens is a placeholder; only the prompt side counts here.
        prompt = self._prompt_tokens(usage)
        if prompt is None:
            return None

        return Chunk(usage=UsageUpdate(prompt_tokens=prompt, sets_prompt=True))

    def _message_delta(self, event: dict[str, Any]) -> Chunk | None:
        delta = event.get("delta")
        reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        finish = STOP_REASONS.get(reason, reason) if isinstance(reason, str) else None

        usage = event.get("usage")
        update = None
        if isinstance(usage, dict):
            # Cumulative values: they replace, never add (BR-06).
            prompt = self._prompt_tokens(usage)
            has_output = "output_tokens" in usage
            update = UsageUpdate(
                prompt_tokens=prompt,
                completion_tokens=as_count(usage.get("output_tokens")),
                sets_prompt=prompt is not None,
                sets_completion=has_output,
            )

        if finish is None and update is None:
            return None

        return Chunk(usage=update, finish_reason=finish)

    def final_fragment(self, text: str) -> Chunk | None:
        return None

    def end_of_body(self) -> Chunk | None:
        raise TruncatedStreamError("the stream ended without a message_stop event")

    def _prompt_tokens(self, usage: object) -> int | None:
        """Replace the parts this event carries; the sum once input_tokens is known.

        None when this event carried no prompt part or input_tokens was never seen.
        """
        if not isinstance(usage, dict):
            return None

        carried = False
        for part in _PROMPT_PARTS:
            value = as_count(usage.get(part))
            if value is not None:
                self._parts[part] = value
                carried = True
        if not carried or "input_tokens" not in self._parts:
            return None

        return sum(self._parts.values())


def anthropic_stream_error(event: dict[str, Any]) -> ProviderError:
    """An `event: error` inside a 200 stream, mapped to its kind (SPEC 8)."""
    error = event.get("error")
    if not isinstance(error, dict):
        return ProviderError.of_kind("server", json.dumps(event))

    error_type = error.get("type")
    kind = (
        _ERROR_KINDS.get(error_type, "server")
        if isinstance(error_type, str)
        else ("server")
    )
    message = error.get("message")
    text = message if isinstance(message, str) else json.dumps(error)
    return ProviderError.of_kind(kind, text)
