"""An incremental newline-delimited JSON splitter over bytes.

It only cuts lines; parsing them is the provider's job, because a bad line in the
middle of the stream and a bad fragment at its end mean different things (SPEC 4.2).
"""

from __future__ import annotations

from collections.abc import Callable


class NDJSONDecoder:
    """Splits body bytes into text lines, whatever the read boundaries.

    Each line ending in `\\n` (with an optional `\\r` before it) is returned decoded;
    blank lines are skipped. `close()` returns the final line that had no `\\n`.
    """

    def __init__(self, on_line: Callable[[str], None] | None = None) -> None:
        self._on_line = on_line
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[str]:
        """Add one read of the body; return the complete, non-blank lines."""
        buffer = self._buffer + chunk if self._buffer else chunk
        parts = buffer.split(b"\n")
        self._buffer = parts.pop()

        lines: list[str] = []
        for raw in parts:
            line = raw.decode("utf-8", "replace")
            if self._on_line is not None:
                self._on_line(line)
            if line.endswith("\r"):
                line = line[:-1]
            if line.strip():
                lines.append(line)

        return lines

    def close(self) -> str | None:
        """End of body: the last line if it had no newline and is not blank."""
        rest, self._buffer = self._buffer, b""
        line = rest.decode("utf-8", "replace")
        if line and self._on_line is not None:
            self._on_line(line)

        return line if line.strip() else None
