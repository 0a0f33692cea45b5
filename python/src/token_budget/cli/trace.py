"""The --verbose trace: the raw HTTP exchange on stderr, timestamped and redacted."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TextIO

from token_budget.providers.base import redact


class VerboseTrace:
    """Writes request, response head and every raw body line as they happen.

    Header values were redacted by the provider already; every configured secret is
    masked once more here, in URLs, bodies and lines alike.
    """

    def __init__(self, stream: TextIO, secrets: Iterable[str] = ()) -> None:
        self._stream = stream
        self._secrets = tuple(s for s in secrets if s)
        self._start = time.monotonic()

    def request(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        self._write(">", f"{method} {url}")
        for name, value in headers:
            self._write(">", f"{name}: {value}")
        self._write(">", body.decode("utf-8", "replace"))

    def response(self, status: int, headers: list[tuple[str, str]]) -> None:
        self._write("<", f"HTTP {status}")
        for name, value in headers:
            self._write("<", f"{name}: {value}")

    def line(self, text: str) -> None:
        self._write("<", text)

    def note(self, text: str) -> None:
        self._write("*", text)

    def _write(self, mark: str, text: str) -> None:
        clock = time.strftime("%H:%M:%S")
        elapsed = time.monotonic() - self._start
        shown = redact(text, self._secrets)
        self._stream.write(f"[{clock} +{elapsed:7.3f}s] {mark} {shown}\n")
        self._stream.flush()
