"""Generated streams for the property tests: plans, their frames, and their events.

A :class:`Plan` is the normalized description of one exchange (deltas, finish reason,
usage, terminal marker, an optional mid-stream error, budget, ratio, how the bytes are
split into writes). :func:`frames` turns it into wire frames with the referee's
``dialects`` builders; :func:`model_events` states independently which events those
frames carry, so the oracle can compute the expected result without parsing; and
:func:`parser_agrees` cross-checks that with the oracle's own parser (a disagreement
is a harness error, never a verdict on an implementation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import oracle
from harness import runner
from hypothesis import strategies as st
from oracle import KEEP, Event, UsageUpdate

PROVIDERS = ("openai", "anthropic", "ollama")

# Pieces that tend to break counting: astral planes, combining marks, ZWJ sequences,
# CJK, whitespace-only and empty deltas, a lone CR, JSON-escaped controls.
AWKWARD_TEXT = [
    "",
    " ",
    "  ",
    "\n",
    "\t",
    "\r",
    "\r\n",
    "é",
    "e\u0301",
    "漢字",
    "😀",
    "👩\u200d💻",
    "\U0001d518",
    "\u200b",
    "\ufeff",
    "\x00",
    "\x7f",
    '"q"',
    "\\",
    "data: x",
    "[DONE]",
]
AWKWARD_PROMPTS = [
    " leading and trailing spaces ",
    "say \"double\" and 'single'",
    "line one\nline two\n",
    "$HOME `id` $(echo hi) ${X}",
    "back\\slash\\\\",
    "-x",
    "--",
    "--budget 5",
    "naïve café 日本語 😀",
    "tab\there",
    "*?[glob]",
    "%s %d {}",
    "\u202eRTL",
]
AWKWARD_RATIOS = [
    0.1,
    1 / 3,
    0.3,
    0.7,
    1.0,
    2 / 3,
    2.5,
    3.3,
    4.0,
    9.7,
    0.30000000000000004,
]

TEXT = st.one_of(
    st.sampled_from(AWKWARD_TEXT),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=6),
)
RATIOS = st.one_of(st.sampled_from(AWKWARD_RATIOS), st.floats(0.3, 9.7))


@dataclass(frozen=True)
class Piece:
    """One generated delta: its text and kind (content, reasoning, tool_args)."""

    text: str
    kind: str = "content"
    field: str | None = None


@dataclass(frozen=True)
class Plan:
    provider: str
    pieces: list[Piece]
    budget: int
    ratio: float
    finish: str | None = "stop"
    usage: tuple[int, int] | None = None
    terminal: bool = True
    final_text: str = ""
    error: tuple[str, str] | None = None
    end: str = "close"
    split: str = "frames"
    seed: int = 0
    prompt: str = "p"
    cache_tokens: tuple[int | None, int | None] = (None, None)
    extra_env: dict[str, str] = field(default_factory=dict)
    # SSE line ending: WHATWG allows LF, CRLF and a bare CR (BR-19).
    eol: bytes = b"\n"


def _pieces(provider: str) -> st.SearchStrategy[list[Piece]]:
    kinds = ["content", "content", "content", "reasoning"]
    if provider != "ollama":
        kinds.append("tool_args")
    piece = st.builds(
        Piece,
        text=TEXT,
        kind=st.sampled_from(kinds),
        field=st.sampled_from([None, "reasoning"])
        if provider == "openai"
        else st.none(),
    )
    return st.lists(piece, max_size=12)


_FINISH = {
    "openai": ["stop", "length", "tool_calls", "content_filter"],
    "anthropic": [
        "end_turn",
        "stop_sequence",
        "max_tokens",
        "tool_use",
        "refusal",
        "pause_turn",
    ],
    "ollama": ["stop", "length"],
}


@st.composite
def plans(draw: st.DrawFn, provider: str, errors: bool = False) -> Plan:
    """A stream plan; with ``errors`` it ends in a mid-stream error or a reset."""
    pieces = draw(_pieces(provider))
    usage = draw(st.none() | st.tuples(st.integers(0, 5000), st.integers(0, 5000)))
    if provider == "anthropic" and usage is None:
        usage = (draw(st.integers(0, 500)), draw(st.integers(0, 500)))
    finish = draw(st.sampled_from(_FINISH[provider]))
    plan = Plan(
        provider=provider,
        pieces=pieces,
        budget=draw(st.integers(1, 60)),
        ratio=draw(RATIOS),
        finish=draw(st.none() | st.just(finish)) if provider != "ollama" else finish,
        usage=usage,
        terminal=draw(st.booleans()) if draw(st.integers(0, 4)) == 0 else True,
        final_text=draw(TEXT) if provider == "ollama" else "",
        split=draw(
            st.sampled_from(["frames", "frames", "random", "single", "bytewise"])
        ),
        seed=draw(st.integers(0, 2**16)),
        eol=draw(st.sampled_from([b"\n", b"\n", b"\r\n", b"\r"]))
        if provider != "ollama"
        else b"\n",
        cache_tokens=(
            (draw(st.none() | st.integers(0, 99)), draw(st.none() | st.integers(0, 99)))
            if provider == "anthropic"
            else (None, None)
        ),
    )
    if errors:
        plan = _with_error(draw, plan)
    return plan


_ERROR_TYPES = {
    "openai": [
        ("server_error", "server"),
        ("rate_limit_error", "rate_limit"),
        ("invalid_request_error", "bad_request"),
        ("authentication_error", "auth"),
    ],
    "anthropic": [
        ("overloaded_error", "overloaded"),
        ("rate_limit_error", "rate_limit"),
        ("api_error", "server"),
        ("authentication_error", "auth"),
        ("invalid_request_error", "bad_request"),
    ],
    "ollama": [("x", "server")],
}


def _with_error(draw: st.DrawFn, plan: Plan) -> Plan:
    from dataclasses import replace

    if draw(st.booleans()):
        error = draw(st.sampled_from(_ERROR_TYPES[plan.provider]))
        return replace(plan, error=error, terminal=False, finish=None, usage=plan.usage)
    # A reset right after hundreds of tiny writes can drop bytes still queued in the
    # referee's kernel buffer (SO_LINGER 0 discards them), so resets keep whole frames.
    split = plan.split if plan.split in ("frames", "single") else "frames"
    return replace(plan, end="reset", terminal=False, finish=None, split=split)


def _deltas(plan: Plan) -> list[Any]:
    from referee import dialects

    return [dialects.Delta(p.text, p.kind, p.field) for p in plan.pieces]  # type: ignore[arg-type]


def frames(plan: Plan) -> list[bytes]:
    """The plan's wire frames, built by the referee's dialect builders."""
    from referee import dialects

    items = _deltas(plan)
    open_ended = plan.error is not None or plan.end == "reset"
    if plan.provider == "openai":
        usage = None
        if plan.usage is not None and not open_ended:
            usage = {"prompt_tokens": plan.usage[0], "completion_tokens": plan.usage[1]}
        built = dialects.openai_frames(items, plan.finish, usage, done=plan.terminal)
        tail = (
            [dialects.openai_error_frame("boom", plan.error[0])] if plan.error else []
        )
    elif plan.provider == "anthropic":
        assert plan.usage is not None
        built = dialects.anthropic_frames(
            items,
            None if open_ended else plan.finish,
            input_tokens=plan.usage[0],
            output_tokens=plan.usage[1],
            cache_creation_input_tokens=plan.cache_tokens[0],
            cache_read_input_tokens=plan.cache_tokens[1],
            stop=plan.terminal,
        )
        tail = (
            [dialects.anthropic_error_frame(plan.error[0], "boom")]
            if plan.error
            else []
        )
    else:
        counts = plan.usage or (0, 0)
        built = dialects.ollama_frames(
            items,
            plan.finish or "stop",
            prompt_eval_count=counts[0],
            eval_count=counts[1],
            final_text=plan.final_text,
            done=plan.terminal and not open_ended,
        )
        tail = [dialects.ollama_error_line("boom")] if plan.error else []
    if plan.eol != b"\n":
        # The builders write LF only, and JSON text never holds a raw newline.
        return [frame.replace(b"\n", plan.eol) for frame in built + tail]
    return built + tail


def model_events(plan: Plan) -> list[Event]:
    """The events the frames carry, stated from the plan (not parsed)."""
    open_ended = plan.error is not None or plan.end == "reset"
    deltas = [_delta_event(p) for p in plan.pieces]
    events: list[Event] = []
    if plan.provider == "openai":
        events = deltas
        if plan.finish is not None:
            events.append(Event(finish_reason=plan.finish))
        if plan.usage is not None and not open_ended:
            events.append(Event(usage=UsageUpdate(*plan.usage)))
        if plan.terminal:
            events.append(Event(terminal=True))
    elif plan.provider == "anthropic":
        assert plan.usage is not None
        # message_start carries the prompt parts it has; the oracle sums them.
        parts = (("input_tokens", plan.usage[0]),) + tuple(
            (name, count)
            for name, count in zip(
                ("cache_creation_input_tokens", "cache_read_input_tokens"),
                plan.cache_tokens,
                strict=True,
            )
            if count is not None
        )
        events = [Event(usage=UsageUpdate(prompt_parts=parts)), *deltas]
        if not open_ended and plan.finish is not None:
            mapped = oracle.ANTHROPIC_STOP_REASONS.get(plan.finish, plan.finish)
            events.append(
                Event(finish_reason=mapped, usage=UsageUpdate(KEEP, plan.usage[1]))
            )
        if plan.terminal:
            events.append(Event(terminal=True))
    else:
        events = deltas
        if plan.terminal and not open_ended:
            counts = plan.usage or (0, 0)
            events.append(
                Event(
                    visible=plan.final_text,
                    finish_reason=plan.finish,
                    usage=UsageUpdate(*counts),
                    terminal=True,
                )
            )
    if plan.error is not None:
        events.append(Event(error=plan.error[1]))
    return events


def _delta_event(piece: Piece) -> Event:
    if piece.kind == "content":
        return Event(visible=piece.text)
    return Event(hidden=piece.text)


def _meaningful(events: list[Event]) -> list[Event]:
    return [e for e in events if e != Event()]


def parser_agrees(plan: Plan, body: bytes) -> str | None:
    """None when the oracle's parser reads the frames as the plan says, else why not."""
    parsed = _meaningful(oracle.parse_body(plan.provider, body).events)
    stated = _meaningful(model_events(plan))
    if parsed == stated:
        return None
    for index, (a, b) in enumerate(zip(parsed, stated, strict=False)):
        if a != b:
            return f"event {index}: parsed {a!r}, plan says {b!r}"
    return f"parsed {len(parsed)} events, the plan says {len(stated)}"


def expectation(plan: Plan) -> oracle.Expectation:
    body_end = "reset" if plan.end == "reset" else "clean"
    return oracle.expect(
        model_events(plan),
        budget=plan.budget,
        chars_per_token=plan.ratio,
        prompt=plan.prompt,
        body_end=body_end,
        provider=plan.provider,
    )


def script_for(plan: Plan, body_frames: list[bytes] | None = None) -> Any:
    """A referee Script of the plan, split as the plan says."""
    from referee import Script, Write, dialects

    built = body_frames if body_frames is not None else frames(plan)
    script = Script(
        headers=[("Content-Type", dialects.CONTENT_TYPES[plan.provider])],
        writes=[Write(f) for f in built],
        end=plan.end,  # type: ignore[arg-type]
        dialect=plan.provider,
    )
    if plan.split == "frames":
        return script
    if plan.split == "bytewise" and len(script.body) > 3000:
        return script.rechunked("random", seed=plan.seed)
    return script.rechunked(plan.split, seed=plan.seed)


def spec_for(plan: Plan, case_id: str, script: Any, **client: Any) -> runner.RunSpec:
    key = f"{plan.provider.upper()}_API_KEY"
    settings: dict[str, Any] = {
        "budget": plan.budget,
        "chars_per_token": repr(plan.ratio),
        "prompt": plan.prompt,
        "timeout": "10",
        "env": {key: "sk-tb-property-0000", **plan.extra_env},
    }
    settings.update(client)
    return runner.RunSpec(
        case_id=case_id,
        provider=plan.provider,
        client=settings,
        scripts=[script],
        variant=plan.split,
    )
