"""Per-user quotas across requests: reserve before a request, settle after it.

Stores: ``MemoryStore`` (one process), ``SQLiteStore`` (the default, many processes on
one machine), ``RedisStore`` (many hosts; needs the ``redis`` extra). Open one from a
location with ``open_ledger`` (see ``location``); the command-line glue is in
``token_budget.ledger.cli``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported on first use: the main command line loads only `options` unless a request
# really uses a ledger (see options.py).
_WHERE = {
    "Charge": "records",
    "DEFAULT_TTL": "options",
    "InvalidLedgerURL": "errors",
    "InvalidQuota": "errors",
    "Ledger": "ledger",
    "LedgerCorrupt": "errors",
    "LedgerError": "errors",
    "LedgerReadOnly": "errors",
    "LedgerStore": "store",
    "LedgerUnavailable": "errors",
    "MemoryStore": "memory",
    "Period": "quota",
    "Quota": "quota",
    "QuotaExceeded": "errors",
    "Reservation": "records",
    "Settlement": "records",
    "UsageRow": "records",
    "charge_from_result": "charges",
    "default_ledger_path": "location",
    "open_ledger": "location",
    "open_store": "location",
    "parse_quota": "quota",
    "resolve_ledger_url": "location",
}

if TYPE_CHECKING:
    from .charges import charge_from_result
    from .errors import (
        InvalidLedgerURL,
        InvalidQuota,
        LedgerCorrupt,
        LedgerError,
        LedgerReadOnly,
        LedgerUnavailable,
        QuotaExceeded,
    )
    from .ledger import Ledger
    from .location import (
        default_ledger_path,
        open_ledger,
        open_store,
        resolve_ledger_url,
    )
    from .memory import MemoryStore
    from .options import DEFAULT_TTL
    from .quota import Period, Quota, parse_quota
    from .records import Charge, Reservation, Settlement, UsageRow
    from .store import LedgerStore


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "DEFAULT_TTL",
    "Charge",
    "InvalidLedgerURL",
    "InvalidQuota",
    "Ledger",
    "LedgerCorrupt",
    "LedgerError",
    "LedgerReadOnly",
    "LedgerStore",
    "LedgerUnavailable",
    "MemoryStore",
    "Period",
    "Quota",
    "QuotaExceeded",
    "Reservation",
    "Settlement",
    "UsageRow",
    "charge_from_result",
    "default_ledger_path",
    "open_ledger",
    "open_store",
    "parse_quota",
    "resolve_ledger_url",
]
