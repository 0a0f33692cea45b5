"""The exceptions of token-budget: one root and a small tree.

    TokenBudgetError
    ├── UsageError                 the caller asked for something invalid (CLI exit 2)
    │   └── MissingDependencyError an optional extra is not installed
    └── ProviderError              the provider or the transport failed (CLI exit 1)
        ├── AuthError              kind "auth"
        ├── RateLimitError         kind "rate_limit"
        ├── BadRequestError        kind "bad_request"
        ├── OverloadedError        kind "overloaded"
        ├── ServerError            kind "server"
        ├── StreamTimeoutError     kind "timeout"
        ├── ProviderConnectionError kind "connection"
        ├── ProtocolError          kind "protocol"
        └── TruncatedStreamError   kind "truncated"

Usage errors are raised. Provider errors are *returned* inside a BudgetResult by
`stream_with_budget`, so the partial answer that arrived before them is never lost.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

ErrorKind = Literal[
    "auth",
    "rate_limit",
    "bad_request",
    "overloaded",
    "server",
    "timeout",
    "connection",
    "protocol",
    "truncated",
]

# SPEC section 8: messages are one line of at most 500 characters.
_MAX_MESSAGE = 500


def one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    """Fold `text` into one line of at most `limit` characters."""
    folded = " ".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    folded = folded.strip()
    return folded[:limit]


class TokenBudgetError(Exception):
    """Root of every exception this package raises on purpose."""


class UsageError(TokenBudgetError, ValueError):
    """An invalid argument or setting; the message says which and how to fix it."""


class MissingDependencyError(UsageError):
    """An optional extra is needed; the message names the pip command."""


class ProviderError(TokenBudgetError):
    """The provider refused, broke off or garbled the stream.

    `kind` is one of SPEC section 8's error kinds, `status` the HTTP status of an
    error response (else None) and `retry_after` the Retry-After header in seconds.
    `before_stream` is true when the request never produced a body: the server
    could not be reached or answered with an error status.
    """

    kind: ClassVar[ErrorKind] = "server"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        before_stream: bool = False,
    ) -> None:
        self.message = one_line(message) or f"{self.kind} error"
        self.status = status
        self.retry_after = retry_after
        self.before_stream = before_stream
        super().__init__(self.message)

    @staticmethod
    def of_kind(
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        before_stream: bool = False,
    ) -> ProviderError:
        """Build the subclass that belongs to `kind`."""
        cls = _BY_KIND[kind]
        return cls(
            message, status=status, retry_after=retry_after, before_stream=before_stream
        )

    def to_dict(self) -> dict[str, Any]:
        """The `error` object of the result (SPEC section 8)."""
        return {
            "kind": self.kind,
            "message": self.message,
            "status": self.status,
            "retry_after": self.retry_after,
        }


class AuthError(ProviderError):
    """The key is missing, wrong or lacks permission."""

    kind = "auth"


class RateLimitError(ProviderError):
    """Too many requests; `retry_after` says how long to wait when known."""

    kind = "rate_limit"


class BadRequestError(ProviderError):
    """The provider rejected the request itself (model name, parameters, size)."""

    kind = "bad_request"


class OverloadedError(ProviderError):
    """The provider is temporarily overloaded (HTTP 503/529, overloaded_error)."""

    kind = "overloaded"


class ServerError(ProviderError):
    """Any other provider-side failure, before or during the stream."""

    kind = "server"


class StreamTimeoutError(ProviderError):
    """No byte arrived within the timeout, while connecting or reading."""

    kind = "timeout"


class ProviderConnectionError(ProviderError):
    """The server could not be reached, or the connection broke mid-body."""

    kind = "connection"


class ProtocolError(ProviderError):
    """The body is not the stream format the provider promised."""

    kind = "protocol"


class TruncatedStreamError(ProviderError):
    """The body ended cleanly but without the provider's terminal marker."""

    kind = "truncated"


_BY_KIND: dict[ErrorKind, type[ProviderError]] = {
    cls.kind: cls
    for cls in (
        AuthError,
        RateLimitError,
        BadRequestError,
        OverloadedError,
        ServerError,
        StreamTimeoutError,
        ProviderConnectionError,
        ProtocolError,
        TruncatedStreamError,
    )
}
