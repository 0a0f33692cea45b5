"""The `--describe` object (SPEC section 7): who we are and what we support."""

from __future__ import annotations

from typing import Any

from token_budget.contract import CONTRACT_VERSION, IMPLEMENTATION
from token_budget.estimate import exact_available
from token_budget.providers import PROVIDER_NAMES


def describe() -> dict[str, Any]:
    """Name, version, providers and capabilities of this implementation."""
    from token_budget import __version__

    capabilities = ["linger", "verbose", "step", "prices", "ledger"]
    # Claim the exact estimator only when its optional extra is installed.
    if exact_available():
        capabilities.insert(3, "exact_estimator")

    return {
        "contract_version": CONTRACT_VERSION,
        "name": IMPLEMENTATION,
        "language": "Python",
        "version": __version__,
        "providers": list(PROVIDER_NAMES),
        "capabilities": capabilities,
    }
