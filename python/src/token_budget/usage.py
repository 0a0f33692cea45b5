"""Normalized usage (SPEC section 6.1) and the cost of a request (section 6.3).

Provider counts and local estimates are kept apart: `Usage` only ever holds numbers a
provider reported, and `Cost.basis` says which of the two fed the price.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

logger = logging.getLogger(__name__)

CostBasis = Literal["provider", "partial", "estimate", "none"]

# The suffixes providers put after a model family for a pinned snapshot.
_SNAPSHOT_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)")


def as_count(value: object) -> int | None:
    """A token count as reported: a non-negative JSON integer, else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None

    return value


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts a provider reported; None means it did not report that count."""

    prompt_tokens: int | None
    completion_tokens: int | None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None

        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int | None]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class UsageUpdate:
    """One provider report. Only the counts it `sets` replace earlier values.

    Reports are snapshots, never increments (BR-03, BR-06): applying one replaces
    the counts it carries and keeps the others.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    sets_prompt: bool = False
    sets_completion: bool = False

    @classmethod
    def both(cls, prompt: int | None, completion: int | None) -> UsageUpdate:
        return cls(prompt, completion, sets_prompt=True, sets_completion=True)

    def apply(self, usage: Usage | None) -> Usage | None:
        """Return `usage` with this report's counts put in."""
        if not (self.sets_prompt or self.sets_completion):
            return usage

        prompt = usage.prompt_tokens if usage else None
        completion = usage.completion_tokens if usage else None
        if self.sets_prompt:
            prompt = self.prompt_tokens
        if self.sets_completion:
            completion = self.completion_tokens

        return Usage(prompt, completion)


@dataclass(frozen=True, slots=True)
class Price:
    """One row of the price table, in USD per million tokens."""

    provider: str
    model: str
    input_per_million: float
    output_per_million: float
    source: str
    read_on: str


@dataclass(frozen=True, slots=True)
class PriceTable:
    """The versioned price table shipped as prices.json."""

    version: str
    date: str
    rows: tuple[Price, ...]

    def lookup(self, provider: str, model: str) -> Price | None:
        """Find the row for `model`: exact name, then a dated or suffixed variant.

        A dated snapshot (`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`) is priced
        as its family; any other unknown name stays unpriced. A row whose
        model is `*` prices every model of its provider (local providers).
        """
        candidates = [row for row in self.rows if row.provider == provider]
        for row in candidates:
            if row.model == model:
                return row

        for row in candidates:
            rest = model.removeprefix(row.model)
            if rest != model and _SNAPSHOT_SUFFIX.fullmatch(rest):
                return row

        for row in candidates:
            if row.model == "*":
                return row

        return None


@lru_cache(maxsize=1)
def load_prices() -> PriceTable:
    """Read prices.json from the package (cached: it never changes at run time)."""
    from importlib import resources

    raw = resources.files("token_budget").joinpath("prices.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(raw)
    rows = tuple(
        Price(
            provider=row["provider"],
            model=row["model"],
            input_per_million=float(row["input_usd_per_million"]),
            output_per_million=float(row["output_usd_per_million"]),
            source=row["source"],
            read_on=row["read_on"],
        )
        for row in data["prices"]
    )
    return PriceTable(version=str(data["version"]), date=str(data["date"]), rows=rows)


@dataclass(frozen=True, slots=True)
class Cost:
    """What the request cost, and where the two counts behind it came from."""

    basis: CostBasis
    prompt_tokens: int
    completion_tokens: int
    usd: float | None
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "usd": self.usd,
            "note": self.note,
        }


def compute_cost(
    *,
    provider: str,
    model: str,
    usage: Usage | None,
    prompt_estimate: int,
    completion_estimate: int,
    rejected: bool = False,
    prices: PriceTable | None = None,
) -> Cost:
    """SPEC section 6.3: pick the counts, then price them from the table.

    `rejected` means the request never produced a stream (HTTP error status or an
    unreachable server): nothing was generated, so both counts are a real zero.
    """
    if rejected:
        basis: CostBasis = "none"
        prompt_tokens, completion_tokens = 0, 0
    else:
        reported_prompt = usage.prompt_tokens if usage else None
        reported_completion = usage.completion_tokens if usage else None
        basis = _basis(reported_prompt, reported_completion)
        prompt_tokens = (
            reported_prompt if reported_prompt is not None else prompt_estimate
        )
        completion_tokens = (
            reported_completion
            if reported_completion is not None
            else completion_estimate
        )

    table = prices if prices is not None else load_prices()
    row = table.lookup(provider, model)
    if row is None:
        note = (
            f"no price for {provider} model {model!r} in prices.json "
            f"(version {table.version})"
        )
        return Cost(basis, prompt_tokens, completion_tokens, None, note)

    usd = round(
        (
            prompt_tokens * row.input_per_million
            + completion_tokens * row.output_per_million
        )
        / 1e6,
        6,
    )
    note = (
        f"priced with prices.json {table.version} row {row.provider}/{row.model} "
        f"(read {row.read_on})"
    )
    return Cost(basis, prompt_tokens, completion_tokens, usd, note)


def _basis(prompt: int | None, completion: int | None) -> CostBasis:
    if prompt is not None and completion is not None:
        return "provider"

    if prompt is not None or completion is not None:
        return "partial"

    return "estimate"
