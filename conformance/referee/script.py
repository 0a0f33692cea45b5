"""What the referee sends: a status, headers, a list of timed writes and how it ends.

A :class:`Script` is plain data. The server in :mod:`referee.server` plays it; the case
files in ``conformance/cases/`` describe one in their ``server`` section, which
:meth:`Script.from_case` turns into this form.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

from .errors import ScriptError

End = Literal["close", "reset", "hold"]
RECHUNK_MODES = ("bytewise", "random", "single")
# The harness and the standalone referee use the same seed, so a printed repro command
# replays exactly the split that failed.
DEFAULT_RECHUNK_SEED = 20240531
ENDS: tuple[End, ...] = ("close", "reset", "hold")


@dataclass(frozen=True)
class Write:
    """One socket write (one HTTP chunk), sent after sleeping ``delay_s`` seconds."""

    data: bytes
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            raise ScriptError(
                f"Write.data must be bytes, got {type(self.data).__name__}"
            )

        if self.delay_s < 0:
            raise ScriptError(f"Write.delay_s must be >= 0, got {self.delay_s}")


@dataclass(frozen=True)
class Script:
    """One scripted HTTP response.

    ``end`` says how the response finishes: ``close`` ends the body cleanly, ``reset``
    aborts the TCP connection without the final chunk, ``hold`` keeps the connection
    open and silent until the client leaves or ``hold_s`` passes. ``dialect`` turns on
    the self-check of every frame (see :func:`referee.dialects.check_body`) unless
    ``raw`` says the bytes are malformed on purpose. ``content_length`` sends a
    ``Content-Length`` computed from the writes instead of chunked encoding.
    """

    status: int = 200
    headers: Sequence[tuple[str, str]] = (("Content-Type", "text/event-stream"),)
    writes: Sequence[Write] = ()
    end: End = "close"
    hold_s: float = 30.0
    dialect: str | None = None
    raw: bool = False
    content_length: bool = False

    def __post_init__(self) -> None:
        # Freeze the sequences so a Script can be shared between threads safely.
        object.__setattr__(
            self, "headers", tuple((str(k), str(v)) for k, v in self.headers)
        )
        object.__setattr__(self, "writes", tuple(self.writes))

        if not 100 <= self.status <= 999:
            raise ScriptError(
                f"status must be a 3-digit HTTP status, got {self.status}"
            )

        if self.end not in ENDS:
            raise ScriptError(f"end must be one of {', '.join(ENDS)}, got {self.end!r}")

        if self.hold_s < 0:
            raise ScriptError(f"hold_s must be >= 0, got {self.hold_s}")

    @cached_property
    def body(self) -> bytes:
        """Every scripted byte of the body, concatenated (for re-chunking and checks)."""
        return b"".join(w.data for w in self.writes)

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value

        return None

    def with_writes(self, writes: Iterable[Write]) -> Script:
        """The same response with other writes (used to re-chunk the same bytes)."""
        return replace(self, writes=tuple(writes))

    def rechunked(self, mode: str, seed: int = DEFAULT_RECHUNK_SEED) -> Script:
        """The same body re-split: ``bytewise``, ``random`` (seeded) or ``single``.

        Delays are dropped except the first write's, so the re-split stream keeps the
        timing of its start but not of each frame.
        """
        body = self.body
        first_delay = self.writes[0].delay_s if self.writes else 0.0
        pieces = _split_body(body, mode, seed)
        writes = [
            Write(p, first_delay if i == 0 else 0.0) for i, p in enumerate(pieces)
        ]
        return self.with_writes(writes)

    @classmethod
    def from_case(cls, server: Mapping[str, Any], dialect: str | None = None) -> Script:
        """Build a Script from one object of a case file's ``server`` section."""
        if not isinstance(server, Mapping):
            raise ScriptError("a case's server section must be an object (or a list)")

        writes: list[Write] = []
        for position, item in enumerate(server.get("writes", [])):
            writes.extend(_writes_from_case(item, position))

        headers = [_header_from_case(h) for h in server.get("headers", [])]
        return cls(
            status=int(server.get("status", 200)),
            headers=headers,
            writes=writes,
            end=server.get("end", "close"),
            hold_s=float(server.get("hold_ms", 30000)) / 1000.0,
            dialect=dialect,
            raw=bool(server.get("raw", False)),
            content_length=bool(server.get("content_length", False)),
        )


def scripts_for_case(case: Mapping[str, Any]) -> list[Script]:
    """All Scripts of a whole case: its ``server`` may be one object or a list.

    The case's ``provider`` becomes each Script's dialect, so the referee self-checks
    the frames (a case marks deliberately malformed bytes with ``"raw": true``).
    """
    server = case.get("server")
    items = server if isinstance(server, list) else [server]
    if not items or any(not isinstance(i, Mapping) for i in items):
        raise ScriptError(
            f"case {case.get('id')!r}: server must be an object or a list"
        )

    dialect = case.get("provider")
    return [
        Script.from_case(item, dialect=dialect) for item in items if item is not None
    ]


def _header_from_case(item: Any) -> tuple[str, str]:
    if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 2:
        raise ScriptError(f"a header must be a [name, value] pair, got {item!r}")

    return str(item[0]), str(item[1])


def _writes_from_case(item: Any, position: int) -> list[Write]:
    if not isinstance(item, Mapping):
        raise ScriptError(f"writes[{position}] must be an object, got {item!r}")

    data = _write_bytes(item, position)
    delay_s = float(item.get("delay_ms", 0)) / 1000.0
    repeat = int(item.get("repeat", 1))
    if repeat < 1:
        raise ScriptError(f"writes[{position}].repeat must be >= 1, got {repeat}")

    return [Write(data, delay_s) for _ in range(repeat)]


WRITE_FORMS = ("text", "hex", "sse", "ndjson", "concat")


def _write_bytes(item: Mapping[str, Any], position: int) -> bytes:
    """Exactly one of text / hex / sse / ndjson / concat gives the bytes of a write."""
    forms = [k for k in WRITE_FORMS if k in item]
    if len(forms) != 1:
        raise ScriptError(
            f"writes[{position}] needs exactly one of {', '.join(WRITE_FORMS)}; got {forms}"
        )

    form = forms[0]
    if form == "concat":
        # Text and raw bytes in one write, e.g. a UTF-8 sequence cut after its first byte.
        pieces = item["concat"]
        if not isinstance(pieces, list) or not pieces:
            raise ScriptError(f"writes[{position}].concat must be a non-empty list")
        return b"".join(_write_bytes(_piece(p, position), position) for p in pieces)

    if form == "text":
        return str(item["text"]).encode("utf-8")

    if form == "hex":
        try:
            return bytes.fromhex(str(item["hex"]))
        except ValueError as exc:
            raise ScriptError(f"writes[{position}].hex is not hex: {exc}") from exc

    if form == "ndjson":
        return compact_json(item["ndjson"]).encode("utf-8") + b"\n"

    return sse_bytes(item["sse"], event=item.get("event"))


def _piece(piece: Any, position: int) -> Mapping[str, Any]:
    if not isinstance(piece, Mapping) or "concat" in piece:
        raise ScriptError(f"writes[{position}].concat items are objects without concat")
    return piece


def compact_json(value: Any) -> str:
    """JSON the way the providers send it: no spaces, UTF-8 text kept as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def sse_bytes(data: Any, event: str | None = None) -> bytes:
    """One SSE event: optional ``event:`` line, one ``data:`` line, blank line.

    ``data`` that is a string is sent as is (``[DONE]``); anything else as compact JSON.
    """
    payload = data if isinstance(data, str) else compact_json(data)
    head = f"event: {event}\n" if event is not None else ""
    return f"{head}data: {payload}\n\n".encode()


def _split_body(body: bytes, mode: str, seed: int) -> list[bytes]:
    if mode == "single":
        return [body] if body else []

    if mode == "bytewise":
        return [body[i : i + 1] for i in range(len(body))]

    if mode == "random":
        rng = random.Random(seed)
        pieces: list[bytes] = []
        start = 0
        while start < len(body):
            size = rng.randint(1, 17)
            pieces.append(body[start : start + size])
            start += size
        return pieces

    raise ScriptError(f"rechunk mode must be bytewise, random or single, got {mode!r}")
