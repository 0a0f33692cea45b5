"""token-budget: stream an LLM answer and stop the request at a token budget.

    import asyncio
    from token_budget import stream_with_budget

    result = asyncio.run(stream_with_budget("loopback", "Why budgets?", 100))
    print(result.content, result.estimated_tokens, result.budget_reached)

Every name below loads on first use, so `import token_budget` (and with it
`token-budget --help`) stays fast; httpx is imported only when a request starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from token_budget.budget import (
        BudgetObserver,
        BudgetResult,
        stream_with_budget,
        stream_with_budget_sync,
        validate_budget,
    )
    from token_budget.contract import CONTRACT_VERSION
    from token_budget.errors import (
        AuthError,
        BadRequestError,
        MissingDependencyError,
        OverloadedError,
        ProtocolError,
        ProviderConnectionError,
        ProviderError,
        RateLimitError,
        ServerError,
        StreamTimeoutError,
        TokenBudgetError,
        TruncatedStreamError,
        UsageError,
    )
    from token_budget.estimate import (
        Estimator,
        ExactEstimator,
        RatioEstimator,
        ratio_estimate,
    )
    from token_budget.providers import Chunk, Provider, Request, make_provider
    from token_budget.providers.anthropic import AnthropicProvider
    from token_budget.providers.loopback import LoopbackProvider
    from token_budget.providers.ollama import OllamaProvider
    from token_budget.providers.openai import OpenAIProvider
    from token_budget.usage import Cost, PriceTable, Usage, compute_cost, load_prices

_WHERE = {
    "token_budget.budget": (
        "BudgetObserver",
        "BudgetResult",
        "stream_with_budget",
        "stream_with_budget_sync",
        "validate_budget",
    ),
    "token_budget.contract": ("CONTRACT_VERSION",),
    "token_budget.errors": (
        "AuthError",
        "BadRequestError",
        "MissingDependencyError",
        "OverloadedError",
        "ProtocolError",
        "ProviderConnectionError",
        "ProviderError",
        "RateLimitError",
        "ServerError",
        "StreamTimeoutError",
        "TokenBudgetError",
        "TruncatedStreamError",
        "UsageError",
    ),
    "token_budget.estimate": (
        "Estimator",
        "ExactEstimator",
        "RatioEstimator",
        "ratio_estimate",
    ),
    "token_budget.providers": ("Chunk", "Provider", "Request", "make_provider"),
    "token_budget.providers.anthropic": ("AnthropicProvider",),
    "token_budget.providers.loopback": ("LoopbackProvider",),
    "token_budget.providers.ollama": ("OllamaProvider",),
    "token_budget.providers.openai": ("OpenAIProvider",),
    "token_budget.usage": (
        "Cost",
        "PriceTable",
        "Usage",
        "compute_cost",
        "load_prices",
    ),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'token_budget' has no attribute {name!r}")

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULE_OF])


__all__ = [
    "CONTRACT_VERSION",
    "AnthropicProvider",
    "AuthError",
    "BadRequestError",
    "BudgetObserver",
    "BudgetResult",
    "Chunk",
    "Cost",
    "Estimator",
    "ExactEstimator",
    "LoopbackProvider",
    "MissingDependencyError",
    "OllamaProvider",
    "OpenAIProvider",
    "OverloadedError",
    "PriceTable",
    "ProtocolError",
    "Provider",
    "ProviderConnectionError",
    "ProviderError",
    "RateLimitError",
    "RatioEstimator",
    "Request",
    "ServerError",
    "StreamTimeoutError",
    "TokenBudgetError",
    "TruncatedStreamError",
    "Usage",
    "UsageError",
    "__version__",
    "compute_cost",
    "load_prices",
    "make_provider",
    "ratio_estimate",
    "stream_with_budget",
    "stream_with_budget_sync",
    "validate_budget",
]
