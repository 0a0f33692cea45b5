"""Ready-made well-formed streams for the standalone referee (``--persona``).

A persona is a long, paced, well-formed stream in one dialect: enough to watch a real
client cancel mid-stream without an API key.
"""

from __future__ import annotations

from itertools import cycle, islice

from . import dialects
from .dialects import Delta
from .script import Script, Write

DEFAULT_TEXT = (
    "Streaming answers need a budget because every token costs money and time, "
    "and a client that stops reading must also stop the request upstream."
)


def persona_script(
    dialect: str, frames: int = 500, pace_ms: float = 100.0, text: str = DEFAULT_TEXT
) -> Script:
    """A ``frames``-delta stream of ``text``'s words, one write every ``pace_ms``."""
    if dialect not in dialects.DIALECTS:
        raise ValueError(
            f"persona must be one of {', '.join(dialects.DIALECTS)}, got {dialect!r}"
        )

    words = text.split() or ["word"]
    items = [Delta(" " + w) for w in islice(cycle(words), max(frames, 0))]
    built = _frames(dialect, items)
    delay = pace_ms / 1000.0
    writes = [Write(f, 0.0 if i == 0 else delay) for i, f in enumerate(built)]
    headers = [("Content-Type", dialects.CONTENT_TYPES[dialect])]
    return Script(
        status=200, headers=headers, writes=writes, end="close", dialect=dialect
    )


def _frames(dialect: str, items: list[Delta]) -> list[bytes]:
    if dialect == "openai":
        usage = {"prompt_tokens": 9, "completion_tokens": len(items)}
        return dialects.openai_frames(items, usage=usage)

    if dialect == "anthropic":
        return dialects.anthropic_frames(items, input_tokens=9)

    return dialects.ollama_frames(items, prompt_eval_count=9)
