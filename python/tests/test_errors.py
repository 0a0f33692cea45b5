"""Error mapping at the provider boundary (SPEC section 8)."""

from __future__ import annotations

import pytest

from token_budget.errors import (
    AuthError,
    ProviderError,
    RateLimitError,
    ServerError,
    one_line,
)
from token_budget.providers.anthropic import anthropic_stream_error
from token_budget.providers.base import (
    error_message_from_body,
    kind_for_status,
    redact,
    redact_headers,
    retry_after_seconds,
)
from token_budget.providers.openai import openai_stream_error


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, "auth"),
        (403, "auth"),
        (429, "rate_limit"),
        (400, "bad_request"),
        (404, "bad_request"),
        (503, "overloaded"),
        (529, "overloaded"),
        (500, "server"),
        (502, "server"),
        (302, "server"),
    ],
)
def test_status_maps_to_kind(status: int, kind: str) -> None:
    assert kind_for_status(status) == kind


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2", 2.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("-1", None),
        ("1.5", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_retry_after_is_read_only_as_whole_seconds(
    header: str | None, seconds: float | None
) -> None:
    assert retry_after_seconds(header) == seconds


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"error":{"message":"Rate limit reached","type":"x"}}',
            "Rate limit reached",
        ),
        (
            b'{"type":"error","error":{"type":"a","message":"Rate limited"}}',
            "Rate limited",
        ),
        (b'{"error":"too many requests"}', "too many requests"),
        (b"internal failure\nsecond line\n", "internal failure"),
        (b"", ""),
    ],
)
def test_provider_message_comes_from_the_body(body: bytes, message: str) -> None:
    assert error_message_from_body(body) == message


def test_messages_are_one_line_of_at_most_500_characters() -> None:
    error = ServerError("a\nb\r\nc" + "x" * 600)
    assert "\n" not in error.message and "\r" not in error.message
    assert len(error.message) == 500
    assert one_line("a\rb") == "a b"


def test_of_kind_builds_the_typed_subclass() -> None:
    error = ProviderError.of_kind("rate_limit", "slow down", status=429, retry_after=2)
    assert isinstance(error, RateLimitError)
    assert error.to_dict() == {
        "kind": "rate_limit",
        "message": "slow down",
        "status": 429,
        "retry_after": 2,
    }


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"type": "authentication_error", "message": "m"}, "auth"),
        ({"type": "x", "code": "rate_limit_exceeded", "message": "m"}, "rate_limit"),
        ({"type": "rate_limit_error", "message": "m"}, "rate_limit"),
        ({"type": "invalid_request_error", "message": "m"}, "bad_request"),
        ({"type": "server_error", "message": "m"}, "server"),
        ("plain text", "server"),
    ],
)
def test_openai_mid_stream_error_kinds(error: object, kind: str) -> None:
    mapped = openai_stream_error(error)
    assert mapped.kind == kind and mapped.status is None


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("authentication_error", "auth"),
        ("permission_error", "auth"),
        ("rate_limit_error", "rate_limit"),
        ("invalid_request_error", "bad_request"),
        ("not_found_error", "bad_request"),
        ("request_too_large", "bad_request"),
        ("overloaded_error", "overloaded"),
        ("api_error", "server"),
    ],
)
def test_anthropic_mid_stream_error_kinds(error_type: str, kind: str) -> None:
    mapped = anthropic_stream_error(
        {"type": "error", "error": {"type": error_type, "message": "boom"}}
    )
    assert (mapped.kind, mapped.message) == (kind, "boom")


def test_credentials_are_redacted_in_headers_and_text() -> None:
    shown = redact_headers(
        [
            ("Authorization", "Bearer sk-123"),
            ("x-api-key", "k"),
            ("X-Echo", "sk-123 here"),
        ],
        ["sk-123"],
    )
    assert shown == [
        ("Authorization", "[REDACTED]"),
        ("x-api-key", "[REDACTED]"),
        ("X-Echo", "[REDACTED] here"),
    ]
    assert redact("key sk-123!", ["sk-123"]) == "key [REDACTED]!"


def test_a_one_letter_placeholder_key_does_not_shred_the_trace() -> None:
    # Local servers ignore keys, so users set placeholders like "e"; credential
    # headers are still masked, other text is left readable.
    shown = redact_headers(
        [("Authorization", "Bearer e"), ("Connection", "keep")], ["e"]
    )

    assert shown == [("Authorization", "[REDACTED]"), ("Connection", "keep")]
    assert redact("keep-alive", ["e"]) == "keep-alive"
    assert isinstance(AuthError("x"), ProviderError)
