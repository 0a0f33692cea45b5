"""The harness's exceptions: one root so callers can catch whatever the harness raises."""

from __future__ import annotations


class HarnessError(Exception):
    """Base class for errors of the harness itself (never of an implementation)."""


class RegistryError(HarnessError, ValueError):
    """implementations.json is missing, unreadable or does not match its schema."""


class CaseError(HarnessError, ValueError):
    """A case file cannot be loaded or asks for something the harness does not know."""


class ExpectationFileError(HarnessError, ValueError):
    """An expected-failure file is malformed (every entry needs a non-empty reason)."""


class ReportError(HarnessError, ValueError):
    """A report file is missing or is not a report this harness wrote."""
