"""Turn a finished request's result into a ledger charge.

The result is duck-typed (SPEC.md section 6): ``estimated_tokens``, ``usage``, ``cost``,
``model``, ``provider`` and, when present, ``counted_chars``. ``usage`` and ``cost`` may
be objects or the plain dicts of the JSON result.
"""

from __future__ import annotations

from typing import Any

from .prices import price_for
from .records import Basis, Charge

_BASES: tuple[Basis, ...] = ("provider", "partial", "estimate", "none")


def charge_from_result(result: Any, *, prompt_estimate: int = 0) -> Charge:
    """What the request cost: provider counts where reported, else the estimates.

    ``prompt_estimate`` stands in for the prompt when the result carries neither a cost
    nor a reported prompt count.
    """
    model = _field(result, "model")
    model = model if isinstance(model, str) else None
    provider = _field(result, "provider")
    cost = _field(result, "cost")
    counted = _count(_field(result, "counted_chars"))

    if cost is not None and _field(cost, "basis") in _BASES:
        basis: Basis = _field(cost, "basis")
        prompt = _count(_field(cost, "prompt_tokens")) or 0
        completion = _count(_field(cost, "completion_tokens")) or 0
    else:
        basis, prompt, completion = _from_usage(result, prompt_estimate)

    # Nothing was generated when the provider refused before a stream began.
    if basis == "none":
        prompt = completion = 0

    usd = _field(cost, "usd") if cost is not None else None
    if isinstance(usd, (int, float)) and not isinstance(usd, bool) and usd >= 0:
        usd_micros = round(usd * 1_000_000)
    else:
        price = (
            price_for(model, provider if isinstance(provider, str) else None)
            if model
            else None
        )
        usd_micros = price.usd_micros(prompt, completion) if price is not None else 0

    return Charge(
        prompt_tokens=prompt,
        completion_tokens=completion,
        basis=basis,
        usd_micros=usd_micros,
        model=model,
        counted_chars=counted,
    )


def _from_usage(result: Any, prompt_estimate: int) -> tuple[Basis, int, int]:
    usage = _field(result, "usage")
    reported_prompt = (
        _count(_field(usage, "prompt_tokens")) if usage is not None else None
    )
    reported_completion = (
        _count(_field(usage, "completion_tokens")) if usage is not None else None
    )

    reported = (reported_prompt is not None) + (reported_completion is not None)
    basis: Basis = ("estimate", "partial", "provider")[reported]
    prompt = reported_prompt if reported_prompt is not None else prompt_estimate
    completion = (
        reported_completion
        if reported_completion is not None
        else _count(_field(result, "estimated_tokens")) or 0
    )
    return basis, prompt, completion


def _field(value: Any, name: str) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def _count(value: Any) -> int | None:
    """A token or character count, or None when it is missing or not a count."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
