"""Providers: one interface, four back ends, chosen by name.

Importing this package does not import httpx; the HTTP providers load it when a
request starts, which keeps `token-budget --help` fast.
"""

from __future__ import annotations

from collections.abc import Mapping

from token_budget.errors import UsageError
from token_budget.providers.base import (
    DEFAULT_TIMEOUT,
    Chunk,
    HttpProvider,
    Provider,
    Request,
    Trace,
)

PROVIDER_NAMES = ("loopback", "openai", "anthropic", "ollama")
ALIASES = {"claude": "anthropic"}


def canonical_name(name: str) -> str:
    """`claude` is `anthropic` everywhere; unknown names are a usage error."""
    canonical = ALIASES.get(name, name)
    if canonical not in PROVIDER_NAMES:
        choices = ", ".join((*PROVIDER_NAMES, *ALIASES))
        raise UsageError(f"unknown provider {name!r}: choose one of {choices}")

    return canonical


def make_provider(
    name: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    trace: Trace | None = None,
    env: Mapping[str, str] | None = None,
) -> Provider:
    """Build a provider by name with its credentials and base URL resolved."""
    canonical = canonical_name(name)
    if canonical == "loopback":
        from token_budget.providers.loopback import LoopbackProvider

        return LoopbackProvider(timeout=timeout, trace=trace, env=env)

    http_class: type[HttpProvider]
    if canonical == "openai":
        from token_budget.providers.openai import OpenAIProvider as http_class
    elif canonical == "anthropic":
        from token_budget.providers.anthropic import AnthropicProvider as http_class
    else:
        from token_budget.providers.ollama import OllamaProvider as http_class

    return http_class(
        api_key=api_key, base_url=base_url, timeout=timeout, trace=trace, env=env
    )


__all__ = [
    "ALIASES",
    "PROVIDER_NAMES",
    "Chunk",
    "HttpProvider",
    "Provider",
    "Request",
    "Trace",
    "canonical_name",
    "make_provider",
]
