"""OpenAI Chat Completions streaming (also every OpenAI-compatible server)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import urlsplit

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
    loads_fast,
    text_of,
)
from token_budget.providers.sse import SSEDecoder, SSEEvent
from token_budget.usage import UsageUpdate, as_count

DONE = "[DONE]"


class OpenAIProvider(HttpProvider):
    """`POST {base}/chat/completions` with `stream: true`, read as SSE."""

    name: ClassVar[str] = "openai"
    default_model: ClassVar[str] = "gpt-4o-mini"
    base_env: ClassVar[str] = "OPENAI_BASE_URL"
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    key_env: ClassVar[str] = "OPENAI_API_KEY"

    def build(self, prompt: str, model: str, max_tokens: int) -> HttpCall:
        # The official API wants max_completion_tokens (reasoning models reject
        # max_tokens); compatible servers such as Ollama's /v1 honour only max_tokens.
        official = urlsplit(self.base_url).hostname == "api.openai.com"
        limit_field = "max_completion_tokens" if official else "max_tokens"
        body = {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "stream_options": {"include_usage": True},
            limit_field: max_tokens,
        }
        headers = [
            ("Content-Type", "application/json"),
            ("Accept", "text/event-stream"),
            ("Accept-Encoding", "identity"),
        ]
        if self.api_key:
            headers.append(("Authorization", f"Bearer {self.api_key}"))

        return HttpCall(
            "POST",
            f"{self.base_url}/chat/completions",
            headers,
            json.dumps(body).encode("utf-8"),
            self.secrets(),
        )

    def new_decoder(self, on_line: Callable[[str], None] | None) -> SSEDecoder:
        return SSEDecoder(on_line)

    def new_parser(self) -> OpenAIStreamParser:
        return OpenAIStreamParser()


class OpenAIStreamParser:
    """Maps chat.completion.chunk events to chunks (SPEC sections 2, 4 and 6)."""

    def __init__(self) -> None:
        self.finish_seen = False

    def frame(self, frame: SSEEvent) -> Chunk | None:
        data = frame[1]
        if data == DONE:
            return Chunk(terminal=True)

        try:
            event = loads_fast(data)
        except ValueError:
            raise ProtocolError(
                f"OpenAI stream event is not JSON: {data[:80]!r}"
            ) from None
        if type(event) is not dict:
            raise ProtocolError(f"OpenAI stream event is not an object: {data[:80]!r}")

        error = event.get("error")
        if error:
            raise openai_stream_error(error)

        usage = event.get("usage")
        update = None
        if isinstance(usage, dict):
            # Snapshots replace earlier ones (BR-03); the usage-only chunk with
            # `choices: []` is processed like any other (BR-01).
            update = UsageUpdate.both(
                as_count(usage.get("prompt_tokens")),
                as_count(usage.get("completion_tokens")),
            )

        choices = event.get("choices")
        if not isinstance(choices, list) or not choices:
            return Chunk(usage=update) if update is not None else None

        return self._choices(choices, update)

    def _choices(self, choices: list[Any], update: UsageUpdate | None) -> Chunk | None:
        text = hidden = counted = ""
        finish = None
        for choice in choices:
            if type(choice) is not dict:
                continue

            delta = choice.get("delta")
            if type(delta) is dict and delta:
                content = delta.get("content")
                if type(content) is not str:
                    content = ""
                if (
                    "reasoning_content" in delta
                    or "reasoning" in delta
                    or "tool_calls" in delta
                ):
                    # Contract order: reasoning, content, then tool-call arguments.
                    reasoning = text_of(delta.get("reasoning_content")) + text_of(
                        delta.get("reasoning")
                    )
                    arguments = _tool_arguments(delta.get("tool_calls"))
                    hidden += reasoning + arguments
                    counted += reasoning + content + arguments
                else:
                    counted += content
                text += content

            reason = choice.get("finish_reason")
            if type(reason) is str:
                finish = reason
                self.finish_seen = True

        if not counted and update is None and finish is None:
            return None

        return Chunk(text, hidden, counted, update, finish)

    def final_fragment(self, text: str) -> Chunk | None:
        return None

    def end_of_body(self) -> Chunk | None:
        # A clean end after a finish_reason is complete even without [DONE].
        if self.finish_seen:
            return Chunk(terminal=True)

        raise TruncatedStreamError(
            "the stream ended without 'data: [DONE]' and without a finish_reason"
        )


def _tool_arguments(tool_calls: object) -> str:
    if not isinstance(tool_calls, list):
        return ""

    parts = []
    for call in tool_calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            parts.append(text_of(function.get("arguments")))

    return "".join(parts)


def openai_stream_error(error: object) -> ProviderError:
    """An `error` member inside a 200 stream, mapped to its kind (SPEC 8)."""
    kind: ErrorKind = "server"
    if isinstance(error, dict):
        message = error.get("message")
        text = message if isinstance(message, str) else json.dumps(error)
        error_type, code = error.get("type"), error.get("code")
        if error_type == "authentication_error":
            kind = "auth"
        elif error_type == "rate_limit_error" or code == "rate_limit_exceeded":
            kind = "rate_limit"
        elif error_type == "invalid_request_error":
            kind = "bad_request"
    else:
        text = error if isinstance(error, str) else json.dumps(error)

    return ProviderError.of_kind(kind, text)
