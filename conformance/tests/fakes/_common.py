"""Shared bits of the fake implementations (they speak the contract badly on purpose)."""

from __future__ import annotations

import json
import sys
from typing import Any


def describe(name: str) -> None:
    """Answer --describe like a real implementation, then exit."""
    if "--describe" in sys.argv:
        print(
            json.dumps(
                {
                    "contract_version": 1,
                    "name": name,
                    "language": "python",
                    "version": "0.0.0",
                    "providers": ["openai", "anthropic", "ollama"],
                    "capabilities": ["linger"],
                }
            )
        )
        sys.exit(0)


def option(name: str, default: str | None = None) -> str | None:
    args = sys.argv[1:]
    stop = args.index("--") if "--" in args else len(args)
    for i, arg in enumerate(args[:stop]):
        if arg == name and i + 1 < stop:
            return args[i + 1]
    return default


def result(**changes: Any) -> dict[str, Any]:
    """A schema-valid result for an empty complete stream; tests override fields."""
    base: dict[str, Any] = {
        "contract_version": 1,
        "case_id": option("--case-id"),
        "implementation": "fake",
        "provider": option("--provider", "openai"),
        "model": "m",
        "content": "",
        "counted_chars": 0,
        "estimated_tokens": 0,
        "estimator": "ratio",
        "budget": int(option("--budget", "100") or 100),
        "budget_reached": False,
        "finish_reason": "stop",
        "end": "complete",
        "usage": None,
        "chunks": 0,
        "cost": {
            "basis": "estimate",
            "prompt_tokens": 1,
            "completion_tokens": 0,
            "usd": None,
            "note": "fake",
        },
        "error": None,
    }
    base.update(changes)
    return base
