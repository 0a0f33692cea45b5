"""Per-user quotas across requests: reserve before a request, settle after it.

Stores: ``MemoryStore`` (one process), ``SQLiteStore`` (the default, many processes on
one machine), ``RedisStore`` (many hosts; needs the ``redis`` extra). Open one from a
location with ``open_ledger`` (see ``location``); the command-line glue is in
``token_budget.ledger.cli``.
"""

from __future__ import annotations

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
from .ledger import DEFAULT_TTL, Ledger
from .location import default_ledger_path, open_ledger, open_store, resolve_ledger_url
from .memory import MemoryStore
from .quota import Period, Quota, parse_quota
from .records import Charge, Reservation, Settlement, UsageRow
from .store import LedgerStore

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
