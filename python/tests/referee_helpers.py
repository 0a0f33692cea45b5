"""Running the library against the shared referee, and the bug-report byte constants."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from referee import Record, Referee, Script, Write

from token_budget import (
    BudgetResult,
    Request,
    make_provider,
    stream_with_budget,
    stream_with_budget_sync,
)

# "async" or "sync": which API `run` drives. Test modules flip it with a fixture so
# every transcript is checked through both the async client and the sync one.
MODE = "async"

# The exact bytes bug-reports.md abbreviates OpenAI- and Ollama-shaped lines with.
OAI = b'{"id":"c1","object":"chat.completion.chunk","created":0,"model":"m",'
OLL = b'{"model":"m","created_at":"2025-01-01T00:00:00Z",'

SSE = [("Content-Type", "text/event-stream")]
NDJSON = [("Content-Type", "application/x-ndjson")]
JSON = [("Content-Type", "application/json")]


def oai(body: bytes, eol: bytes = b"\n\n") -> bytes:
    """One OpenAI chunk event: the shared prefix, then the rest of the object."""
    return b"data: " + OAI + body + eol


def oll(body: bytes, eol: bytes = b"\n") -> bytes:
    return OLL + body + eol


def script(
    writes: Sequence[bytes | tuple[bytes, float]],
    *,
    headers: Sequence[tuple[str, str]] = SSE,
    status: int = 200,
    end: str = "close",
    hold_s: float = 10.0,
) -> Script:
    made = [
        Write(item[0], delay_s=item[1]) if isinstance(item, tuple) else Write(item)
        for item in writes
    ]
    return Script(status=status, headers=headers, writes=made, end=end, hold_s=hold_s)  # type: ignore[arg-type]


def base_url(provider: str, ref: Referee) -> str:
    return ref.url + "/v1" if provider == "openai" else ref.url


async def run(
    provider: str,
    scripts: Script | Sequence[Script],
    budget: int = 10_000,
    *,
    prompt: str = "p",
    model: str | None = None,
    timeout: float = 5.0,
    rechunk: str | None = None,
    **options: Any,
) -> tuple[BudgetResult, Record]:
    """Serve `scripts`, stream once with the budget, wait for the socket to close."""
    if rechunk is not None and isinstance(scripts, Script):
        scripts = scripts.rechunked(rechunk)

    with Referee(scripts) as ref:
        chosen = make_provider(
            provider, base_url=base_url(provider, ref), timeout=timeout, env={}
        )
        if MODE == "sync":
            # Blocking is fine here: the referee serves from its own thread.
            result = stream_with_budget_sync(
                chosen, Request(prompt, model=model), budget, **options
            )
        else:
            result = await stream_with_budget(
                chosen, Request(prompt, model=model), budget, **options
            )
        ref.wait_closed(timeout=5.0)

    return result, ref.record
