"""What the referee saw: one :class:`Connection` per accepted request, in a :class:`Record`.

The server thread fills these objects while the test thread may read them; every
mutation happens under the record's lock, and readers should wait for
:meth:`referee.Referee.wait_closed` (or leave the ``with`` block) before trusting them.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WriteRecord:
    """One scripted write the referee attempted: its index, when, how many body bytes."""

    index: int
    t: float
    nbytes: int
    ok: bool


@dataclass
class Connection:
    """One HTTP exchange: the request as received and what happened to the response."""

    number: int
    method: str = ""
    path: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    t_accept: float = 0.0
    t_request: float = 0.0
    writes: list[WriteRecord] = field(default_factory=list)
    disconnected_at: float | None = None
    finished: bool = False
    closed_at: float | None = None
    end: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        """The request body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    def header(self, name: str) -> str | None:
        """The first request header called ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value

        return None

    @property
    def writes_ok(self) -> int:
        """How many scripted writes reached the socket before the client left."""
        return sum(1 for w in self.writes if w.ok)

    def last_write_before(self, t: float) -> int | None:
        """Index of the last successful write at or before monotonic time ``t``."""
        indexes = [w.index for w in self.writes if w.ok and w.t <= t]
        return max(indexes) if indexes else None


@dataclass
class Record:
    """Everything the referee saw during one ``with Referee(...)`` block."""

    connections: list[Connection] = field(default_factory=list)
    requests: int = 0
    stray_connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_request(self, conn: Connection) -> int:
        """Count a request and keep its connection; returns the request's 0-based index."""
        with self._lock:
            index = self.requests
            self.requests += 1
            self.connections.append(conn)
            return index

    def add_stray(self) -> None:
        """Count a connection that closed before it sent a whole request."""
        with self._lock:
            self.stray_connections += 1

    @property
    def errors(self) -> list[str]:
        """Every harness error of every connection, prefixed by the request number."""
        with self._lock:
            return [
                f"request {c.number}: {e}" for c in self.connections for e in c.errors
            ]
