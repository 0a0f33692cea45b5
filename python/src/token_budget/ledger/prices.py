"""Read prices from the package's price table without depending on its owner's code.

The table is ``token_budget/prices.json``, written by the main package. Only the few
fields read here are assumed; any shape we do not recognise means "no price", never an
error, because a missing price must not stop a request from being recorded.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

logger = logging.getLogger("token_budget.ledger.prices")

# Field names a row may use for dollars per million tokens, most specific first.
_INPUT_NAMES = ("input_usd_per_million", "input_per_mtok", "input", "prompt")
_OUTPUT_NAMES = ("output_usd_per_million", "output_per_mtok", "output", "completion")


@dataclass(frozen=True)
class Price:
    """US dollars per million prompt (input) and completion (output) tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def usd_micros(self, prompt_tokens: int, completion_tokens: int) -> int:
        """SPEC.md section 6.3: (P * in + O * out) / 1e6 dollars, to six decimals."""
        usd = (
            prompt_tokens * self.input_per_mtok
            + completion_tokens * self.output_per_mtok
        ) / 1e6
        return round(usd * 1_000_000)


@lru_cache(maxsize=1)
def load_price_table() -> dict[tuple[str, str], Price]:
    """Map (provider, model) to a price; provider "" matches any provider."""
    try:
        text = (
            resources.files("token_budget").joinpath("prices.json").read_text("utf-8")
        )
        data = json.loads(text)
    except (OSError, ValueError, ModuleNotFoundError, TypeError) as exc:
        logger.debug("no usable price table (%s); costs stay unpriced", exc)
        return {}
    return dict(_rows(data))


def price_for(model: str, provider: str | None = None) -> Price | None:
    table = load_price_table()
    if provider:
        found = table.get((provider, model))
        if found is not None:
            return found
    return table.get(("", model))


def _rows(data: Any) -> list[tuple[tuple[str, str], Price]]:
    """Accept {"models": {...}}, {"prices": [...]}, a list of rows or a mapping."""
    if isinstance(data, dict):
        for name in ("models", "prices", "rows"):
            if name in data:
                return _rows(data[name])
        rows: list[tuple[tuple[str, str], Price]] = []
        for model, row in data.items():
            if isinstance(row, dict):
                rows.extend(_row({"model": model, **row}))
        return rows
    if isinstance(data, list):
        return [entry for row in data if isinstance(row, dict) for entry in _row(row)]
    return []


def _row(row: dict[str, Any]) -> list[tuple[tuple[str, str], Price]]:
    model = row.get("model")
    given_in = next((row[name] for name in _INPUT_NAMES if name in row), None)
    given_out = next((row[name] for name in _OUTPUT_NAMES if name in row), None)
    if not isinstance(model, str):
        return []
    if not isinstance(given_in, (int, float)) or not isinstance(
        given_out, (int, float)
    ):
        return []

    price = Price(float(given_in), float(given_out))
    provider = row.get("provider")
    entries = [(("", model), price)]
    if isinstance(provider, str):
        entries.append(((provider, model), price))
    return entries
