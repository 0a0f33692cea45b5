"""The referee's exceptions: one root, so callers can catch everything we raise."""

from __future__ import annotations


class RefereeError(Exception):
    """Base class for every error the referee raises on purpose."""


class ScriptError(RefereeError, ValueError):
    """A script or a case file's ``server`` section cannot be turned into a response."""


class ServerError(RefereeError, RuntimeError):
    """The referee's server could not start or stop (port, thread, event loop)."""
