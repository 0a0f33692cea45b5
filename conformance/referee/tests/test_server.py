"""The referee against real clients on real 127.0.0.1 sockets."""

from __future__ import annotations

import itertools
import socket
import threading
import time

import httpx
import pytest

from referee import Referee, Script, ServerError, Write

REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2\r\n\r\n{}"
)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _recv_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        piece = sock.recv(65536)
        assert piece, f"connection closed before {marker!r}; got {data!r}"
        data += piece
    return data


def test_each_write_is_its_own_chunk_sent_after_its_delay() -> None:
    frames = [b"data: one\n\n", b"data: two\n\n", b"data: three\n\n"]
    script = Script(writes=[Write(f, 0.15) for f in frames])

    with (
        Referee(script) as ref,
        socket.create_connection(("127.0.0.1", ref.port)) as sock,
    ):
        sock.sendall(REQUEST)
        body = _recv_until(sock, b"\r\n\r\n").split(b"\r\n\r\n", 1)[1]
        while not body.endswith(b"0\r\n\r\n"):
            piece = sock.recv(65536)
            assert piece, f"connection closed early; got {body!r}"
            body += piece

    # Every write is one HTTP chunk, in order, then the final zero-length chunk.
    assert body == b"".join(_chunk(f) for f in frames) + b"0\r\n\r\n"
    # The pacing is judged on the referee's own clock: how fast a loaded machine
    # schedules the reading test says nothing about when the bytes left.
    writes = ref.record.connections[0].writes
    assert [w.index for w in writes] == [0, 1, 2]
    assert [w.nbytes for w in writes] == [len(f) for f in frames]
    assert all(w.ok for w in writes)
    gaps = [b.t - a.t for a, b in itertools.pairwise(writes)]
    assert all(gap >= 0.14 for gap in gaps), gaps


def test_the_request_is_recorded() -> None:
    with Referee(Script(writes=[Write(b"data: [DONE]\n\n")])) as ref:
        response = httpx.post(
            ref.url + "/v1/chat/completions",
            json={"model": "m", "stream": True},
            headers={"Authorization": "Bearer sk-test"},
        )
        assert ref.wait_closed(5.0)

    conn = ref.record.connections[0]
    assert response.content == b"data: [DONE]\n\n"
    assert (conn.method, conn.path) == ("POST", "/v1/chat/completions")
    assert conn.header("authorization") == "Bearer sk-test"
    assert conn.json == {"model": "m", "stream": True}
    assert conn.finished and conn.end == "close"
    assert conn.disconnected_at is None or conn.disconnected_at >= conn.writes[-1].t
    assert ref.record.requests == 1


def test_reset_gives_the_client_a_transport_error() -> None:
    script = Script(writes=[Write(b"data: half\n\n")], end="reset")

    with Referee(script) as ref:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            httpx.post(ref.url, json={})
        assert ref.wait_closed(5.0)

    conn = ref.record.connections[0]
    assert conn.end == "reset"
    assert conn.writes[0].ok


def test_a_clean_close_without_writes_reaches_the_client_complete() -> None:
    script = Script(writes=[], end="close")

    with Referee(script) as ref:
        response = httpx.post(ref.url, json={})

    assert response.status_code == 200
    assert response.content == b""


def test_hold_records_when_the_client_hangs_up() -> None:
    script = Script(writes=[Write(b"data: x\n\n")], end="hold", hold_s=20.0)

    with Referee(script) as ref:
        sock = socket.create_connection(("127.0.0.1", ref.port))
        sock.sendall(REQUEST)
        _recv_until(sock, b"data: x")
        time.sleep(0.2)
        closed_at = time.monotonic()
        sock.close()
        assert ref.wait_closed(5.0)

    conn = ref.record.connections[0]
    assert conn.disconnected_at is not None
    assert 0.0 <= conn.disconnected_at - closed_at < 1.0
    assert not conn.finished
    assert conn.end == "client"


def test_hold_that_runs_out_counts_as_finished() -> None:
    script = Script(writes=[Write(b"data: x\n\n")], end="hold", hold_s=0.2)

    with (
        Referee(script) as ref,
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
    ):
        httpx.post(ref.url, json={})

    conn = ref.record.connections[0]
    assert conn.finished
    assert conn.end == "hold-expired"


def test_nothing_is_written_after_the_client_left() -> None:
    script = Script(
        writes=[Write(b"data: w\n\n", 0.01) for _ in range(2000)], end="close"
    )

    with Referee(script) as ref:
        with httpx.stream("POST", ref.url, json={}) as response:
            for _ in zip(range(3), response.iter_raw()):
                pass
        assert ref.wait_closed(5.0)

    conn = ref.record.connections[0]
    assert conn.disconnected_at is not None
    assert not conn.finished
    assert conn.end == "client"
    assert len(conn.writes) < 200
    assert all(w.t <= conn.disconnected_at for w in conn.writes)


def test_a_list_of_scripts_serves_request_i_the_ith_and_counts_retries() -> None:
    limited = Script(status=429, headers=[("Retry-After", "2")], writes=[Write(b"{}")])
    stream = Script(writes=[Write(b"data: [DONE]\n\n")])

    with Referee([limited, limited, stream]) as ref:
        statuses = [httpx.post(ref.url, json={}).status_code for _ in range(4)]
        assert ref.wait_closed(5.0)

    assert statuses == [429, 429, 200, 200]
    assert ref.record.requests == 4
    assert [c.number for c in ref.record.connections] == [0, 1, 2, 3]


def test_content_length_mode_sends_no_chunks() -> None:
    body = b'{"error":{"message":"nope"}}'
    script = Script(
        status=500,
        headers=[("Content-Type", "application/json")],
        writes=[Write(body[:5]), Write(body[5:])],
        content_length=True,
    )

    with Referee(script) as ref:
        response = httpx.post(ref.url, json={})

    assert response.status_code == 500
    assert response.headers["content-length"] == str(len(body))
    assert "transfer-encoding" not in response.headers
    assert response.json() == {"error": {"message": "nope"}}


def test_expect_100_continue_is_answered() -> None:
    request = b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    with (
        Referee(Script(writes=[Write(b"data: [DONE]\n\n")])) as ref,
        socket.create_connection(("127.0.0.1", ref.port)) as sock,
    ):
        sock.sendall(request)
        assert _recv_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 100")
        sock.sendall(b"{}")
        assert b"[DONE]" in _recv_until(sock, b"[DONE]")

    assert ref.record.connections[0].json == {}


def test_a_connection_without_a_request_is_not_counted() -> None:
    with Referee(Script()) as ref:
        socket.create_connection(("127.0.0.1", ref.port)).close()
        time.sleep(0.1)
        assert ref.wait_closed(5.0)

    assert ref.record.requests == 0
    assert ref.record.stray_connections == 1


def test_stop_ends_a_held_stream_and_joins_the_thread() -> None:
    script = Script(writes=[Write(b"data: x\n\n")], end="hold", hold_s=60.0)
    ref = Referee(script)
    ref.start()
    sock = socket.create_connection(("127.0.0.1", ref.port))
    sock.sendall(REQUEST)
    _recv_until(sock, b"data: x")

    started = time.monotonic()
    ref.stop()

    assert time.monotonic() - started < 5.0
    assert not any(t.name == "referee" and t.is_alive() for t in threading.enumerate())
    assert sock.recv(65536) == b""
    sock.close()


def test_a_busy_port_is_a_server_error() -> None:
    with (
        Referee(Script()) as first,
        pytest.raises(ServerError, match="cannot listen"),
        Referee(Script(), port=first.port),
    ):
        pass


def test_the_url_needs_a_running_referee() -> None:
    with pytest.raises(ServerError, match="not running"):
        _ = Referee(Script()).url


def test_self_check_errors_are_recorded_unless_raw() -> None:
    bad = [Write(b'event: message_start\ndata: {"type":"ping"}\n\n')]
    checked = Script(writes=bad, dialect="anthropic")
    raw = Script(writes=bad, dialect="anthropic", raw=True)

    with Referee([checked, raw]) as ref:
        httpx.post(ref.url, json={})
        httpx.post(ref.url, json={})

    first, second = ref.record.connections
    assert any("differs from JSON type" in e for e in first.errors)
    assert second.errors == []
    assert ref.record.errors == [f"request 0: {e}" for e in first.errors]


def test_record_json_is_none_for_a_non_json_body() -> None:
    with Referee(Script()) as ref:
        httpx.post(ref.url, content=b"not json")

    assert ref.record.connections[0].json is None
    assert ref.record.connections[0].body == b"not json"
