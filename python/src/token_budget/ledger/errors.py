"""The ledger's exceptions: one root, a few leaves, each message says what to do.

``LedgerError``
  ``QuotaExceeded``        the user has nothing left in this period (exit code 3)
  ``InvalidQuota``         a quota text or value that cannot be used (usage error)
  ``InvalidLedgerURL``     a ``--ledger`` / ``TOKEN_BUDGET_LEDGER`` value we cannot open
  ``LedgerUnavailable``    the store cannot be reached or written right now
    ``LedgerCorrupt``      the SQLite file is not a database we can read
    ``LedgerReadOnly``     the SQLite file or its folder cannot be written

Every class carries ``exit_code`` so a command line can map it without a table of its
own. A refused quota and an unreachable ledger both stop the request before anything is
sent upstream, which is what exit code 3 means in SPEC.md section 8.
"""

from __future__ import annotations

# SPEC.md section 8: 2 is a usage error, 3 is "refused before anything was sent".
EXIT_USAGE = 2
EXIT_REFUSED = 3


class LedgerError(Exception):
    """Root of every error the ledger raises."""

    exit_code: int = EXIT_REFUSED


class QuotaExceeded(LedgerError):
    """The user's quota for the current period is used up or fully reserved."""

    exit_code = EXIT_REFUSED

    def __init__(
        self,
        message: str,
        *,
        user: str,
        period_key: str,
        limit: int,
        used: int,
        reserved: int,
    ) -> None:
        super().__init__(message)
        self.user = user
        self.period_key = period_key
        self.limit = limit
        self.used = used
        self.reserved = reserved


class InvalidQuota(LedgerError, ValueError):
    """A quota given by the user does not parse or is out of range."""

    exit_code = EXIT_USAGE


class InvalidLedgerURL(LedgerError, ValueError):
    """The ledger location names a scheme or path we cannot use."""

    exit_code = EXIT_USAGE


class LedgerUnavailable(LedgerError):
    """The store cannot be reached or written; requests fail closed unless told."""

    exit_code = EXIT_REFUSED


class LedgerCorrupt(LedgerUnavailable):
    """The SQLite file exists but is not a readable ledger; it was left untouched."""


class LedgerReadOnly(LedgerUnavailable):
    """The SQLite file or its folder is read-only; nothing was written."""
