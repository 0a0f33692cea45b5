"""Ollama's native chat API: `POST {base}/api/chat`, newline-delimited JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from token_budget.errors import ProtocolError, ServerError, TruncatedStreamError
from token_budget.providers.base import (
    Chunk,
    HttpCall,
    HttpProvider,
    parse_json_object,
    text_of,
)
from token_budget.providers.ndjson import NDJSONDecoder
from token_budget.usage import UsageUpdate, as_count


class OllamaProvider(HttpProvider):
    """A local (or ollama.com) server; the key is optional."""

    name: ClassVar[str] = "ollama"
    unreachable_hint: ClassVar[str] = (
        " (is Ollama running? start it with `ollama serve`, or set OLLAMA_HOST)"
    )
    default_model: ClassVar[str] = "llama3.2"
    base_env: ClassVar[str] = "OLLAMA_HOST"
    default_base_url: ClassVar[str] = "http://127.0.0.1:11434"
    key_env: ClassVar[str] = "OLLAMA_API_KEY"
    key_required_for_default: ClassVar[bool] = False
    event_stream: ClassVar[bool] = False

    def build(self, prompt: str, model: str, max_tokens: int) -> HttpCall:
        body = {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "options": {"num_predict": max_tokens},
        }
        headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/x-ndjson"),
            ("Accept-Encoding", "identity"),
        ]
        if self.api_key:
            headers.append(("Authorization", f"Bearer {self.api_key}"))

        return HttpCall(
            "POST",
            f"{self.base_url}/api/chat",
            headers,
            json.dumps(body).encode("utf-8"),
            self.secrets(),
        )

    def new_decoder(self, on_line: Callable[[str], None] | None) -> NDJSONDecoder:
        return NDJSONDecoder(on_line)

    def new_parser(self) -> OllamaStreamParser:
        return OllamaStreamParser()


class OllamaStreamParser:
    """One line is one delta; the `done: true` line ends the stream and still counts."""

    def frame(self, frame: str) -> Chunk | None:
        return self._line(parse_json_object(frame, "Ollama stream line"))

    def final_fragment(self, text: str) -> Chunk | None:
        # A last line without "\n" is parsed; a broken one means the body was cut.
        try:
            line = parse_json_object(text, "the last Ollama line")
        except ProtocolError:
            raise TruncatedStreamError(
                f"the stream ended with an incomplete line: {text[:80]!r}"
            ) from None

        return self._line(line)

    def end_of_body(self) -> Chunk | None:
        raise TruncatedStreamError('the stream ended without a line with "done": true')

    def _line(self, line: dict[str, Any]) -> Chunk | None:
        error = line.get("error")
        if error is not None:
            raise ServerError(error if isinstance(error, str) else json.dumps(error))

        message = line.get("message")
        text = hidden = ""
        if isinstance(message, dict):
            text = text_of(message.get("content"))
            hidden = text_of(message.get("thinking"))

        if line.get("done") is not True:
            return Chunk(text, hidden) if text or hidden else None

        # Ollama omits zero counts, so a missing count is a real 0 here.
        usage = UsageUpdate.both(
            _count_or_zero(line, "prompt_eval_count"),
            _count_or_zero(line, "eval_count"),
        )
        reason = line.get("done_reason")
        finish = reason if isinstance(reason, str) else None
        return Chunk(text, hidden, usage=usage, finish_reason=finish, terminal=True)


def _count_or_zero(line: dict[str, Any], key: str) -> int | None:
    return as_count(line[key]) if key in line else 0
