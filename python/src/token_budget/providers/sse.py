"""An incremental Server-Sent Events decoder over bytes (WHATWG HTML, event streams).

Feed it the body as it arrives, in reads of any size; it returns the events each read
completes. Lines are split on bytes first and decoded as UTF-8 only when whole, so a
character cut in half by the network is never damaged (BR-18).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_BOM = b"\xef\xbb\xbf"
# CRLF first, so a CR directly followed by LF ends one line, not two.
_EOL = re.compile(rb"\r\n|\r|\n")


# One dispatched event: (event type, data); the type is `message` when unnamed. A
# plain tuple, because building a NamedTuple per event costs more than parsing it.
SSEEvent = tuple[str, str]


class SSEDecoder:
    """Turns body bytes into events, following the WHATWG parsing rules exactly.

    - lines end at CRLF, LF or CR; a CR at the end of a read may pair with an LF at
      the start of the next one, which then ends nothing;
    - one leading UTF-8 BOM is dropped; lines starting with `:` are comments;
    - one space after the field's colon is removed; `data` lines join with `\\n`;
    - an event is dispatched at a blank line, and only when it has data;
    - whatever is pending at the end of the body is discarded (see `pending`).
    """

    def __init__(self, on_line: Callable[[str], None] | None = None) -> None:
        self._on_line = on_line
        self._buffer = b""
        self._bom_checked = False
        self._skip_lf = False
        self._data: list[str] = []
        self._event = ""

    @property
    def pending(self) -> bool:
        """True when bytes or fields are waiting for a line end or a blank line."""
        return bool(self._buffer or self._data or self._event)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add one read of the body; return the events it completed."""
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]

        buffer = self._buffer + chunk if self._buffer else chunk
        if not self._bom_checked:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._buffer = buffer
                return []
            self._bom_checked = True
            if buffer.startswith(_BOM):
                buffer = buffer[len(_BOM) :]

        if b"\r" in buffer:
            parts = _EOL.split(buffer)
            # A CR closing the read already ended its line; skip a following LF.
            self._skip_lf = buffer.endswith(b"\r")
            self._buffer = parts.pop()
            lines = [part.decode("utf-8", "replace") for part in parts]
        else:
            end = buffer.rfind(b"\n")
            if end < 0:
                self._buffer = buffer
                return []
            self._buffer = buffer[end + 1 :]
            # Line ends are ASCII, so the complete lines decode as one block exactly
            # as they would one by one; a split character stays in the buffer.
            lines = buffer[:end].decode("utf-8", "replace").split("\n")

        events: list[SSEEvent] = []
        on_line = self._on_line
        data = self._data
        for line in lines:
            if on_line is not None:
                on_line(line)

            if not line:
                if data:
                    events.append((self._event or "message", "\n".join(data)))
                    data = self._data = []
                self._event = ""
            elif line.startswith("data:"):
                # The common case, handled without the general field parsing.
                data.append(line[6:] if line[5:6] == " " else line[5:])
            elif line[0] != ":":
                self._field(line)

        return events

    def close(self) -> list[SSEEvent]:
        """End of body: an unfinished line or event is discarded, never dispatched."""
        self._buffer = b""
        self._data = []
        self._event = ""
        return []

    def _field(self, line: str) -> None:
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]

        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        # `id` and `retry` only matter for reconnecting, which we never do.
