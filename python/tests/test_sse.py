"""The SSE decoder against the WHATWG rules, and against arbitrary read splits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from token_budget.providers.sse import SSEDecoder, SSEEvent


def decode(*reads: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = []
    for read in reads:
        events.extend(decoder.feed(read))
    events.extend(decoder.close())
    return events


def data_of(*reads: bytes) -> list[str]:
    return [data for _, data in decode(*reads)]


def test_one_space_after_colon_is_removed_and_a_second_kept() -> None:
    assert data_of(b"data: a\n\ndata:  b\n\n") == ["a", " b"]


def test_data_lines_join_with_newline() -> None:
    assert data_of(b"data: x\ndata: y\n\n") == ["x\ny"]


def test_cr_and_crlf_and_lf_all_end_lines() -> None:
    assert data_of(b"data: x\r\rdata: y\r\n\r\ndata: z\n\n") == ["x", "y", "z"]


def test_cr_at_the_end_of_a_read_pairs_with_the_next_lf() -> None:
    assert data_of(b"data: x\r", b"\n\r", b"\n") == ["x"]


def test_comments_and_data_less_events_dispatch_nothing() -> None:
    assert data_of(b": keepalive\n\nevent: ping\n\n:\n\n") == []


def test_a_bare_data_line_dispatches_empty_data() -> None:
    assert data_of(b"data\n\n") == [""]


def test_one_leading_bom_is_stripped_even_when_split() -> None:
    assert data_of(b"\xef", b"\xbb", b"\xbfdata: a\n\n") == ["a"]


def test_a_second_bom_is_part_of_the_field_name() -> None:
    # "\ufeffdata" is an unknown field, so the event has no data.
    assert data_of(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n") == []


def test_event_pending_at_eof_is_discarded() -> None:
    assert data_of(b"data: tail") == []
    assert data_of(b"data: tail\n") == []


def test_event_name_is_kept_and_defaults_to_message() -> None:
    events = decode(b"event: message_stop\ndata: {}\n\ndata: 1\n\n")
    assert events == [("message_stop", "{}"), ("message", "1")]


def test_utf8_split_across_reads_decodes_whole() -> None:
    body = "data: café 你好 🙂\n\n".encode()
    assert data_of(body[:10], body[10:13], body[13:]) == ["café 你好 🙂"]


def test_invalid_utf8_becomes_one_replacement_character() -> None:
    assert data_of(b"data: a\xffb\n\n") == ["a\ufffdb"]


def test_raw_lines_are_reported_when_asked() -> None:
    seen: list[str] = []
    decoder = SSEDecoder(seen.append)
    decoder.feed(b": hi\r\ndata: 1\r\n\r\n")
    assert seen == [": hi", "data: 1", ""]


_LINE = st.sampled_from(
    [
        b'data: {"a": 1}',
        b"data:x",
        b"data",
        b"event: ping",
        b": comment",
        b"id: 7",
        b"retry: 10",
        b"data: caf\xc3\xa9 \xf0\x9f\x99\x82",
        b"data:  two spaces",
        b"",
    ]
)
_EOL = st.sampled_from([b"\n", b"\r", b"\r\n"])


@st.composite
def sse_bodies(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.tuples(_LINE, _EOL), max_size=30))
    body = b"".join(line + eol for line, eol in lines)
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + body


@given(sse_bodies(), st.data())
def test_any_split_of_the_same_bytes_gives_the_same_events(
    body: bytes, data: st.DataObject
) -> None:
    cuts = sorted(
        data.draw(st.lists(st.integers(0, len(body)), max_size=12), label="cuts")
    )
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]

    assert decode(*pieces) == decode(body)


@given(sse_bodies())
def test_byte_by_byte_feeding_matches_one_read(body: bytes) -> None:
    single = [body[i : i + 1] for i in range(len(body))]
    assert decode(*single) == decode(body)
