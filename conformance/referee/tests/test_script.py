"""Scripts from case files: every write form, repeats, ends and re-chunking."""

from __future__ import annotations

import httpx
import pytest

from referee import Referee, Script, ScriptError, Write, scripts_for_case


def test_from_case_builds_every_write_form() -> None:
    server = {
        "status": 200,
        "headers": [["Content-Type", "text/event-stream"]],
        "writes": [
            {"text": "data: caf"},
            {"hex": "c3a9", "delay_ms": 50},
            {"text": "\n\n"},
            {"sse": {"type": "ping"}, "event": "ping"},
            {"sse": "[DONE]", "repeat": 2, "delay_ms": 5},
            {"ndjson": {"done": True, "message": {"content": "é"}}},
            {"concat": [{"text": "caf"}, {"hex": "c3"}]},
        ],
        "end": "hold",
        "hold_ms": 1500,
    }
    script = Script.from_case(server)

    assert [w.data for w in script.writes] == [
        b"data: caf",
        b"\xc3\xa9",
        b"\n\n",
        b'event: ping\ndata: {"type":"ping"}\n\n',
        b"data: [DONE]\n\n",
        b"data: [DONE]\n\n",
        '{"done":true,"message":{"content":"é"}}\n'.encode(),
        b"caf\xc3",
    ]
    assert [w.delay_s for w in script.writes] == [
        0.0,
        0.05,
        0.0,
        0.0,
        0.005,
        0.005,
        0.0,
        0.0,
    ]
    assert (script.end, script.hold_s, script.status) == ("hold", 1.5, 200)
    assert script.header("content-type") == "text/event-stream"


def test_a_case_round_trips_through_the_referee_byte_for_byte() -> None:
    case = {
        "id": "x",
        "provider": "openai",
        "server": {
            "headers": [["Content-Type", "text/event-stream"]],
            "writes": [
                {"text": 'data: {"choices":[]}\r\n\r\n'},
                {"text": "data: [DONE]\n\n"},
            ],
        },
    }
    (script,) = scripts_for_case(case)

    with Referee(script) as ref:
        response = httpx.post(ref.url, json={})

    assert response.content == script.body
    assert script.dialect == "openai"
    assert ref.record.connections[0].errors == []


def test_a_list_server_section_gives_one_script_per_item() -> None:
    case = {
        "id": "x",
        "provider": "ollama",
        "server": [{"status": 429}, {"status": 200}],
    }

    assert [s.status for s in scripts_for_case(case)] == [429, 200]


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ({"writes": [{"text": "a", "hex": "00"}]}, "exactly one"),
        ({"writes": [{}]}, "exactly one"),
        ({"writes": [{"hex": "zz"}]}, "not hex"),
        ({"writes": [{"concat": []}]}, "non-empty"),
        ({"writes": [{"concat": [{"concat": []}]}]}, "without concat"),
        ({"writes": [{"text": "a", "repeat": 0}]}, "repeat"),
        ({"end": "explode"}, "end must be"),
        ({"status": 42}, "3-digit"),
        ({"headers": [["only-name"]]}, "pair"),
    ],
)
def test_bad_server_sections_are_script_errors(
    server: dict[str, object], message: str
) -> None:
    with pytest.raises(ScriptError, match=message):
        Script.from_case(server)


def test_rechunked_keeps_the_bytes_and_changes_the_writes() -> None:
    script = Script(
        writes=[Write(b"data: abc\n\n", 0.1), Write(b"data: [DONE]\n\n", 0.2)]
    )

    single = script.rechunked("single")
    bytewise = script.rechunked("bytewise")
    randomly = script.rechunked("random", seed=7)

    assert single.body == bytewise.body == randomly.body == script.body
    assert len(single.writes) == 1
    assert len(bytewise.writes) == len(script.body)
    assert randomly.writes == script.rechunked("random", seed=7).writes
    assert bytewise.writes[0].delay_s == 0.1
    assert all(w.delay_s == 0 for w in bytewise.writes[1:])
    with pytest.raises(ScriptError):
        script.rechunked("sideways")


def test_write_rejects_text_and_negative_delays() -> None:
    with pytest.raises(ScriptError):
        Write("text")  # type: ignore[arg-type]
    with pytest.raises(ScriptError):
        Write(b"x", -1.0)
