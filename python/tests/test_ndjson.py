"""The NDJSON splitter: lines across reads, several per read, a last line without \\n."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from token_budget.providers.ndjson import NDJSONDecoder


def split(*reads: bytes) -> tuple[list[str], str | None]:
    decoder = NDJSONDecoder()
    lines: list[str] = []
    for read in reads:
        lines.extend(decoder.feed(read))
    return lines, decoder.close()


def test_line_split_across_reads_and_two_lines_in_one_read() -> None:
    lines, last = split(b'{"a":1}\n{"b"', b':2}\n{"c":3}')
    assert lines == ['{"a":1}', '{"b":2}']
    assert last == '{"c":3}'


def test_cr_before_lf_is_removed_and_blank_lines_skipped() -> None:
    lines, last = split(b'{"a":1}\r\n\n  \n{"b":2}\n')
    assert lines == ['{"a":1}', '{"b":2}']
    assert last is None


def test_multibyte_character_split_across_reads() -> None:
    body = '{"t":"你好"}\n'.encode()
    lines, _ = split(body[:8], body[8:])
    assert lines == ['{"t":"你好"}']


@given(
    st.lists(
        st.sampled_from([b'{"x":1}', b'{"t":"\xc3\xa9"}', b"", b"  "]), max_size=20
    ),
    st.booleans(),
    st.data(),
)
def test_any_split_gives_the_same_lines(
    lines: list[bytes], final_newline: bool, data: st.DataObject
) -> None:
    body = b"\n".join(lines) + (b"\n" if final_newline else b"")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=10)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]

    assert split(*pieces) == split(body)
