"""The referee: a scripted HTTP/1.1 server that records what the client did on the wire.

It runs an asyncio event loop in a background thread so that synchronous test code can
start it, run an implementation as a subprocess against ``ref.url`` and then read
``ref.record``. HTTP parsing and framing is h11's job; this module only decides *when*
each byte goes out and watches for the client leaving.

Design points that matter for the conformance suite:

* Each scripted write is one h11 ``Data`` event, hence one HTTP chunk and one socket
  write, drained before the next, so the client sees separate reads.
* While the response is being written a second task keeps reading the socket. The
  client sends nothing after its request, so the first EOF or reset it sees is the
  client hanging up: that time is ``Connection.disconnected_at``. A failed write counts
  the same. After that the referee never writes again.
* ``reset`` sets SO_LINGER to 0 before closing, so the kernel sends a TCP RST and the
  client sees an incomplete chunked body instead of a clean end.
"""

from __future__ import annotations

import asyncio
import fcntl
import http
import logging
import socket
import struct
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Self

import h11

from . import dialects
from .errors import ServerError
from .record import Connection, Record, WriteRecord
from .script import Script

# Linux ioctl: bytes in the send queue not yet acknowledged by the peer.
_SIOCOUTQ = 0x5411
# How long a client gets to read the last writes before a scripted reset.
RESET_GRACE_S = 0.05

logger = logging.getLogger("referee.server")

HOST = "127.0.0.1"
READ_SIZE = 65536
SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "proxy-authorization"}
)
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class Referee:
    """A scripted mock provider on an ephemeral 127.0.0.1 port, one per test case.

    ``script`` is one :class:`Script` for every request, or a list: request ``i`` gets
    ``scripts[min(i, len - 1)]``. Use it as a context manager; ``record`` stays
    readable after the block.
    """

    def __init__(self, script: Script | Sequence[Script], port: int = 0) -> None:
        scripts = [script] if isinstance(script, Script) else list(script)
        if not scripts:
            raise ServerError("Referee needs at least one Script")

        self.scripts = scripts
        self.record = Record()
        self._wanted_port = port
        self._port: int | None = None
        self._self_check = [_self_check(s) for s in scripts]
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._active = 0
        self._idle = threading.Condition()

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Bind the port and start serving in a background thread."""
        if self._thread is not None:
            raise ServerError(
                "this Referee was already started; make a new one per case"
            )

        self._thread = threading.Thread(target=self._run, name="referee", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise ServerError("the referee's event loop did not start within 10 s")

        if self._start_error is not None:
            self._thread.join(STOP_TIMEOUT_S)
            raise ServerError(
                f"cannot listen on {HOST}:{self._wanted_port}: {self._start_error}"
            ) from self._start_error

    def stop(self) -> None:
        """Abort every open connection, close the port and join the thread."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is None or stop is None or thread is None or not thread.is_alive():
            return

        loop.call_soon_threadsafe(stop.set)
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            raise ServerError("the referee's thread did not stop within 10 s")

    @property
    def port(self) -> int:
        if self._port is None:
            raise ServerError("the referee is not running; use it in a with block")

        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; every path and method is answered."""
        return f"http://{HOST}:{self.port}"

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """Wait until no connection is open; False when ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def wait_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` requests arrived; False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while self.record.requests < count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

        return True

    # -- the event loop thread ---------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            server = await asyncio.start_server(self._handle, HOST, self._wanted_port)
        except OSError as exc:
            self._start_error = exc
            self._ready.set()
            return

        self._port = int(server.sockets[0].getsockname()[1])
        logger.info("referee listening on http://%s:%d", HOST, self._port)
        self._ready.set()
        await self._stop.wait()

        # Refuse new clients first, then end the exchanges still running (a held
        # stream, a client that never read); their handlers abort their sockets.
        server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._set_active(+1)
        try:
            await _Exchange(self, reader, writer).run()
        except asyncio.CancelledError:
            pass
        except Exception:
            # A bug in the referee must not pass for an implementation failure.
            logger.exception("referee handler failed")
        finally:
            writer.transport.abort()
            self._tasks.discard(task)
            self._set_active(-1)

    def _set_active(self, change: int) -> None:
        with self._idle:
            self._active += change
            self._idle.notify_all()

    def _script_for(self, index: int) -> tuple[Script, list[str]]:
        position = min(index, len(self.scripts) - 1)
        return self.scripts[position], self._self_check[position]


class _Exchange:
    """One accepted connection: read one request, play one script, record it all."""

    def __init__(
        self,
        referee: Referee,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.referee = referee
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.SERVER)
        self.conn = Connection(number=-1, t_accept=time.monotonic())
        self.gone = asyncio.Event()

    async def run(self) -> None:
        _set_nodelay(self.writer)
        if not await self._read_request():
            self.referee.record.add_stray()
            return

        conn = self.conn
        conn.number = self.referee.record.add_request(conn)
        script, check_errors = self.referee._script_for(conn.number)
        conn.errors.extend(check_errors)
        _log_request(conn)

        watcher = asyncio.create_task(self._watch())
        try:
            await self._respond(script)
            if script.end == "hold" and not self.gone.is_set():
                await self._hold(script.hold_s)
        finally:
            # Stop watching before we close: our own close must not look like the
            # client hanging up.
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

        await self._finish(script)
        conn.closed_at = time.monotonic()

    async def _read_request(self) -> bool:
        """Read one whole request into ``self.conn``; False if the client left first."""
        conn = self.conn
        body = bytearray()
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                logger.warning("malformed request from the client: %s", exc)
                return False

            if event is h11.NEED_DATA:
                try:
                    data = await self.reader.read(READ_SIZE)
                except OSError:
                    return False
                self.h11.receive_data(data)
                continue

            if isinstance(event, h11.Request):
                conn.method = event.method.decode("ascii", "replace")
                conn.path = event.target.decode("ascii", "replace")
                conn.headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in event.headers.raw_items()
                ]
                await self._continue_if_asked()
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                conn.body = bytes(body)
                conn.t_request = time.monotonic()
                return True
            else:
                return False

    async def _continue_if_asked(self) -> None:
        # curl sends "Expect: 100-continue" for larger bodies and waits for this.
        if self.h11.they_are_waiting_for_100_continue:
            data = self.h11.send(h11.InformationalResponse(status_code=100, headers=[]))
            await self._send(data or b"")

    async def _watch(self) -> None:
        """Read until EOF or reset: that is the moment the client hung up."""
        try:
            while await self.reader.read(READ_SIZE):
                pass
        except OSError:
            pass

        self._mark_gone("the client closed the connection")

    def _mark_gone(self, why: str) -> None:
        conn = self.conn
        if conn.disconnected_at is None:
            conn.disconnected_at = time.monotonic()
            logger.info(
                "request %d: %s at +%.3fs, after %d of the scripted writes",
                conn.number,
                why,
                conn.disconnected_at - conn.t_request,
                conn.writes_ok,
            )
        self.gone.set()

    async def _respond(self, script: Script) -> None:
        head = h11.Response(
            status_code=script.status,
            headers=_response_headers(script),
            reason=_reason(script.status),
        )
        if not await self._send(self.h11.send(head) or b""):
            self._mark_gone("a write failed")
            return

        for index, write in enumerate(script.writes):
            if not await self._sleep(write.delay_s):
                return

            if not await self._write_one(index, write.data):
                return

        self.conn.finished = script.end != "hold"

    async def _sleep(self, delay_s: float) -> bool:
        """Sleep before a write; False when the client left meanwhile."""
        if self.gone.is_set():
            return False

        if delay_s <= 0:
            return True

        try:
            await asyncio.wait_for(self.gone.wait(), delay_s)
        except TimeoutError:
            return True

        return False

    async def _write_one(self, index: int, data: bytes) -> bool:
        conn = self.conn
        try:
            payload = self.h11.send(h11.Data(data=data)) or b""
        except h11.LocalProtocolError as exc:
            conn.errors.append(f"write {index} breaks the response framing: {exc}")
            self._mark_gone("the referee gave up (script error)")
            return False

        ok = await self._send(payload)
        conn.writes.append(WriteRecord(index, time.monotonic(), len(data), ok))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "request %d: write %d, %d bytes, %s at +%.3fs: %r",
                conn.number,
                index,
                len(data),
                "ok" if ok else "FAILED",
                conn.writes[-1].t - conn.t_request,
                data[:120],
            )

        if not ok:
            self._mark_gone("a write failed")
        return ok

    async def _send(self, payload: bytes) -> bool:
        if not payload:
            return True

        try:
            self.writer.write(payload)
            await self.writer.drain()
        except (ConnectionError, OSError):
            return False

        return True

    async def _hold(self, hold_s: float) -> None:
        """Send nothing until the client leaves or ``hold_s`` passes."""
        try:
            await asyncio.wait_for(self.gone.wait(), hold_s)
        except TimeoutError:
            # Nobody hung up: the stream "ended" when the hold ran out.
            self.conn.finished = True

    async def _finish(self, script: Script) -> None:
        """End the response as scripted, unless the client already left."""
        conn = self.conn
        if self.gone.is_set():
            conn.end = "client"
        elif script.end == "close":
            try:
                await self._send(self.h11.send(h11.EndOfMessage()) or b"")
            except h11.LocalProtocolError as exc:
                conn.errors.append(f"the body does not match Content-Length: {exc}")
            conn.end = "close"
            await _close(self.writer)
        elif script.end == "reset":
            conn.end = "reset"
            await _reset(self.writer)
        else:
            conn.end = "hold-expired"
            await _close(self.writer)

        logger.info("request %d: response ended (%s)", conn.number, conn.end)


def _self_check(script: Script) -> list[str]:
    """Harness errors for a script whose frames break its dialect (checked once)."""
    if script.dialect is None or script.raw or not 200 <= script.status < 300:
        return []

    if not dialects.media_type_matches(script.dialect, script.header("Content-Type")):
        return []

    return [
        f"self-check: {e}" for e in dialects.check_body(script.dialect, script.body)
    ]


def _response_headers(script: Script) -> list[tuple[str, str]]:
    headers = [(k, v) for k, v in script.headers]
    names = {k.lower() for k, _ in headers}
    if script.content_length:
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(script.body))))

    # One exchange per connection: a retry must show up as a new connection.
    if "connection" not in names:
        headers.append(("Connection", "close"))
    return headers


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b"Unknown"


def _set_nodelay(writer: asyncio.StreamWriter) -> None:
    # Small paced writes must leave at once, not wait for Nagle to batch them.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _reset(writer: asyncio.StreamWriter) -> None:
    # A reset throws away whatever the peer has not read yet, on both sides. Scripted
    # writes before the reset are part of the case ("partial content is kept"), so
    # first let the kernel deliver them (send queue empty = acknowledged) and give the
    # client a moment to read them; only then send the RST.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        await _drain_send_queue(sock)
        await asyncio.sleep(RESET_GRACE_S)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _drain_send_queue(sock: socket.socket, limit_s: float = 1.0) -> None:
    """Wait until the kernel's send queue is empty (Linux SIOCOUTQ), at most limit_s."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            pending = struct.unpack(
                "i", fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0")
            )[0]
        except OSError:
            return
        if pending == 0:
            return
        await asyncio.sleep(0.002)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 2.0)
    except (TimeoutError, OSError):
        writer.transport.abort()


def _log_request(conn: Connection) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return

    headers = ", ".join(f"{k}: {redact_header(k, v)}" for k, v in conn.headers)
    body = conn.body.decode("utf-8", "replace")
    logger.info("request %d: %s %s", conn.number, conn.method, conn.path)
    logger.info("request %d headers: %s", conn.number, headers)
    logger.info("request %d body: %s", conn.number, body[:2000])


def redact_header(name: str, value: str) -> str:
    """Hide credentials when printing a request header."""
    return "[REDACTED]" if name.lower() in SECRET_HEADERS else value
