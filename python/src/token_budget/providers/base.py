"""The provider interface and the HTTP plumbing the three HTTP providers share.

A provider turns a `Request` into an async stream of normalized `Chunk`s. It knows
nothing about budgets: the budget loop decides when to stop and closes the stream,
and closing the stream closes the HTTP response and its connection.
"""

from __future__ import annotations

import json
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast
from urllib.parse import urlsplit

from token_budget.errors import (
    ErrorKind,
    ProtocolError,
    ProviderError,
    UsageError,
    one_line,
)
from token_budget.usage import UsageUpdate

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
REDACTED = "[REDACTED]"
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key"})


@dataclass(frozen=True, slots=True)
class Request:
    """What to ask: the prompt, the model (None: the provider's default) and the
    provider's max-output-tokens field (None: the budget)."""

    prompt: str
    model: str | None = None
    max_tokens: int | None = None


class Chunk:
    """One provider delta, normalized.

    `text` is visible answer text, `hidden` billed text that is not shown (reasoning,
    thinking, tool-call arguments) and `counted` all counted text in the order the
    contract defines (by default hidden, then visible). `terminal` marks the
    provider's end-of-stream marker. A plain slotted class: one is built per delta.
    """

    __slots__ = ("counted", "finish_reason", "hidden", "terminal", "text", "usage")

    def __init__(
        self,
        text: str = "",
        hidden: str = "",
        counted: str = "",
        usage: UsageUpdate | None = None,
        finish_reason: str | None = None,
        terminal: bool = False,
    ) -> None:
        self.text = text
        self.hidden = hidden
        self.counted = counted or (hidden + text if hidden else text)
        self.usage = usage
        self.finish_reason = finish_reason
        self.terminal = terminal

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Chunk({fields})"


class Trace(Protocol):
    """Observer of the raw exchange (the CLI's --verbose). Values arrive redacted."""

    def request(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> None: ...

    def response(self, status: int, headers: list[tuple[str, str]]) -> None: ...

    def line(self, text: str) -> None: ...

    def note(self, text: str) -> None: ...


class Provider(ABC):
    """A source of chunks. Subclasses set `name` and `default_model`."""

    name: ClassVar[str]
    # Appended to "could not connect" errors: what a user most likely has to do.
    unreachable_hint: ClassVar[str] = ""
    default_model: ClassVar[str]

    def __init__(self, *, trace: Trace | None = None) -> None:
        self.trace = trace

    def model_for(self, request: Request) -> str:
        return request.model or self.default_model

    @abstractmethod
    def target(self) -> str:
        """Where requests go, for humans (e.g. `POST http://host/v1/chat/...`)."""

    @abstractmethod
    def stream(self, request: Request, *, max_tokens: int) -> AsyncIterator[Chunk]:
        """Start the request; iterate chunks; `aclose()` cancels it at once.

        Provider and transport failures are raised as ProviderError subclasses from
        the iteration. The iteration ends after the chunk marked `terminal`.
        """

    def stream_sync(self, request: Request, *, max_tokens: int) -> Iterator[Chunk]:
        """The blocking twin of `stream`; `close()` cancels. Optional: providers
        without it are driven through an event loop by the sync wrapper."""
        raise NotImplementedError

    @property
    def supports_sync(self) -> bool:
        return type(self).stream_sync is not Provider.stream_sync


@dataclass(frozen=True, slots=True)
class HttpCall:
    """One fully built HTTP request."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    secrets: tuple[str, ...] = field(default=())


def normalize_base_url(url: str) -> str:
    """Add `http://` when there is no scheme, drop trailing slashes (SPEC 1.2)."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url

    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise UsageError(f"base URL {url!r} must use http or https")

    return url.rstrip("/")


def env_value(env: Mapping[str, str], name: str) -> str | None:
    """An environment variable, with empty meaning absent (SPEC 1)."""
    value = env.get(name)
    return value if value else None


# A placeholder key such as "x" (local servers ignore keys) would otherwise turn every
# "x" of the trace into [REDACTED]. Credential headers are masked whatever the length.
MIN_SECRET_LENGTH = 6


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every configured secret (of a real key's length) inside `text`."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, REDACTED)

    return text


def redact_headers(
    headers: Iterable[tuple[str, str]], secrets: Iterable[str]
) -> list[tuple[str, str]]:
    """Headers fit for printing: credential headers and secret values masked."""
    secrets = tuple(secrets)
    shown = []
    for name, value in headers:
        if name.lower() in _SECRET_HEADERS:
            value = REDACTED
        shown.append((name, redact(value, secrets)))

    return shown


def kind_for_status(status: int) -> ErrorKind:
    """SPEC section 8: the error kind of an HTTP error status."""
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status in (503, 529):
        return "overloaded"
    if 400 <= status < 500:
        return "bad_request"
    return "server"


def retry_after_seconds(value: str | None) -> float | None:
    """The Retry-After header when it is a non-negative integer, else None."""
    if value is None:
        return None

    value = value.strip()
    return float(int(value)) if value.isascii() and value.isdigit() else None


def error_message_from_body(body: bytes) -> str:
    """The provider's own message from an error body (SPEC section 8)."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        data = None

    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error

    for line in text.splitlines():
        if line.strip():
            return line.strip()

    return ""


class StreamParser(Protocol):
    """Per-request state that maps decoded frames to chunks."""

    def frame(self, frame: Any) -> Chunk | None:
        """Map one frame; None when it carries nothing; raise ProviderError."""
        ...

    def final_fragment(self, text: str) -> Chunk | None:
        """The body's last line had no line end (NDJSON); map or reject it."""
        ...

    def end_of_body(self) -> Chunk | None:
        """The body ended cleanly before a terminal chunk: complete or raise."""
        ...


class FrameDecoder(Protocol):
    def feed(self, chunk: bytes) -> list[Any]: ...

    def close(self) -> Any: ...


class HttpProvider(Provider):
    """Shared HTTP behaviour: one POST, streamed body, errors mapped once, here."""

    base_env: ClassVar[str]
    default_base_url: ClassVar[str]
    key_env: ClassVar[str]
    key_required_for_default: ClassVar[bool] = True
    event_stream: ClassVar[bool] = True

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        trace: Trace | None = None,
        env: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sync_transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(trace=trace)
        self._sync_transport = sync_transport
        env = os.environ if env is None else env
        chosen = base_url or env_value(env, self.base_env) or self.default_base_url
        self.base_url = normalize_base_url(chosen)
        self.api_key = api_key or env_value(env, self.key_env)
        self.timeout = timeout
        self._transport = transport

        is_default = self.base_url == normalize_base_url(self.default_base_url)
        if self.key_required_for_default and is_default and not self.api_key:
            raise UsageError(
                f"{self.key_env} is not set: export it, or point --base-url (or "
                f"{self.base_env}) at a local {self.name}-compatible server"
            )

    @abstractmethod
    def build(self, prompt: str, model: str, max_tokens: int) -> HttpCall:
        """The HTTP request for this provider (SPEC section 5)."""

    @abstractmethod
    def new_decoder(self, on_line: Callable[[str], None] | None) -> FrameDecoder: ...

    @abstractmethod
    def new_parser(self) -> StreamParser: ...

    def target(self) -> str:
        call = self.build("", self.default_model, 1)
        return f"{call.method} {call.url}"

    def secrets(self) -> tuple[str, ...]:
        return (self.api_key,) if self.api_key else ()

    async def stream(
        self, request: Request, *, max_tokens: int
    ) -> AsyncIterator[Chunk]:
        import httpx

        call = self.build(request.prompt, self.model_for(request), max_tokens)
        timeout = httpx.Timeout(self.timeout)
        async with httpx.AsyncClient(
            timeout=timeout, transport=self._transport, trust_env=False
        ) as client:
            response = await self._send(client, call)
            try:
                await self._check_response(response, call)
                on_line = self.trace.line if self.trace is not None else None
                decoder = self.new_decoder(on_line)
                parser = self.new_parser()
                reads = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
                try:
                    # One generator level on purpose: this loop is the hot path.
                    while True:
                        try:
                            data = await anext(reads)
                        except StopAsyncIteration:
                            break
                        except httpx.HTTPError as exc:
                            raise self._read_error(exc, call) from exc

                        for frame in decoder.feed(data):
                            chunk = parser.frame(frame)
                            if chunk is not None:
                                yield chunk
                                if chunk.terminal:
                                    return
                finally:
                    await reads.aclose()

                for chunk in _end_of_body(decoder, parser):
                    yield chunk
            except ProviderError as exc:
                # A provider may echo the key in its message; it never leaves here.
                exc.message = redact(exc.message, call.secrets)
                raise
            finally:
                # Closing an unfinished response closes its connection: it is
                # never drained and never handed back to a pool.
                await response.aclose()

    def stream_sync(self, request: Request, *, max_tokens: int) -> Iterator[Chunk]:
        """`stream` for blocking code, on httpx's sync client (same rules)."""
        import httpx

        call = self.build(request.prompt, self.model_for(request), max_tokens)
        timeout = httpx.Timeout(self.timeout)
        with httpx.Client(
            timeout=timeout, transport=self._sync_transport, trust_env=False
        ) as client:
            response = self._send_sync(client, call)
            try:
                self._check_response_sync(response, call)
                on_line = self.trace.line if self.trace is not None else None
                decoder = self.new_decoder(on_line)
                parser = self.new_parser()
                reads = cast(Generator[bytes, None, None], response.iter_bytes())
                try:
                    while True:
                        try:
                            data = next(reads)
                        except StopIteration:
                            break
                        except httpx.HTTPError as exc:
                            raise self._read_error(exc, call) from exc

                        for frame in decoder.feed(data):
                            chunk = parser.frame(frame)
                            if chunk is not None:
                                yield chunk
                                if chunk.terminal:
                                    return
                finally:
                    reads.close()

                yield from _end_of_body(decoder, parser)
            except ProviderError as exc:
                exc.message = redact(exc.message, call.secrets)
                raise
            finally:
                response.close()

    async def _send(self, client: httpx.AsyncClient, call: HttpCall) -> httpx.Response:
        import httpx

        request = self._request(client, call)
        try:
            return await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._send_error(exc, call) from exc

    def _send_sync(self, client: httpx.Client, call: HttpCall) -> httpx.Response:
        import httpx

        request = self._request(client, call)
        try:
            return client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._send_error(exc, call) from exc

    def _request(
        self, client: httpx.AsyncClient | httpx.Client, call: HttpCall
    ) -> httpx.Request:
        request = client.build_request(
            call.method, call.url, headers=call.headers, content=call.body
        )
        if self.trace is not None:
            sent = redact_headers(request.headers.multi_items(), call.secrets)
            self.trace.request(call.method, call.url, sent, call.body)
        return request

    def _send_error(self, exc: Exception, call: HttpCall) -> ProviderError:
        """An error before any response head arrived: nothing was generated, so the
        cost basis is "none" whatever the kind."""
        import httpx

        kind: ErrorKind
        if isinstance(exc, httpx.ConnectTimeout):
            kind = "timeout"
            message = f"could not connect to {call.url} within {self.timeout:g} s"
        elif isinstance(exc, httpx.ConnectError):
            kind = "connection"
            message = f"could not connect to {call.url}: {exc}{self.unreachable_hint}"
        elif isinstance(exc, httpx.TimeoutException):
            kind = "timeout"
            message = f"{call.url} sent no response for {self.timeout:g} s"
        else:
            kind = "connection"
            message = f"request to {call.url} failed: {exc}"
        return self._error(kind, message, call, before_stream=True)

    async def _check_response(self, response: httpx.Response, call: HttpCall) -> None:
        import httpx

        self._trace_response(response, call)
        if not 200 <= response.status_code < 300:
            try:
                body = await response.aread()
            except httpx.HTTPError:
                body = b""
            raise self._status_error(response, body, call)

        if self.event_stream:
            self._check_event_stream(response)

    def _check_response_sync(self, response: httpx.Response, call: HttpCall) -> None:
        import httpx

        self._trace_response(response, call)
        if not 200 <= response.status_code < 300:
            try:
                body = response.read()
            except httpx.HTTPError:
                body = b""
            raise self._status_error(response, body, call)

        if self.event_stream:
            self._check_event_stream(response)

    def _trace_response(self, response: httpx.Response, call: HttpCall) -> None:
        if self.trace is not None:
            headers = list(response.headers.multi_items())
            self.trace.response(
                response.status_code, redact_headers(headers, call.secrets)
            )

    def _read_error(self, exc: Exception, call: HttpCall) -> ProviderError:
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            return self._error(
                "timeout", f"no data from {call.url} for {self.timeout:g} s", call
            )
        if isinstance(exc, httpx.DecodingError):
            return self._error(
                "protocol", f"undecodable body from {call.url}: {exc}", call
            )
        return self._error(
            "connection",
            f"the connection to {call.url} broke before the body ended: {exc}",
            call,
        )

    def _status_error(
        self, response: httpx.Response, body: bytes, call: HttpCall
    ) -> ProviderError:
        status = response.status_code
        if self.trace is not None:
            for line in body.decode("utf-8", "replace").splitlines():
                self.trace.line(redact(line, call.secrets))

        message = error_message_from_body(body) or f"HTTP {status}"
        return self._error(
            kind_for_status(status),
            message,
            call,
            status=status,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
            before_stream=True,
        )

    def _check_event_stream(self, response: httpx.Response) -> None:
        content_type = response.headers.get("content-type", "")
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "text/event-stream":
            raise ProtocolError(
                f"expected Content-Type text/event-stream from {self.name}, got "
                f"{content_type or 'none'!r}"
            )

    def _error(
        self,
        kind: ErrorKind,
        message: str,
        call: HttpCall,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        before_stream: bool = False,
    ) -> ProviderError:
        text = redact(one_line(message), call.secrets)
        logger.debug("%s error from %s: %s", kind, self.name, text)
        return ProviderError.of_kind(
            kind,
            text,
            status=status,
            retry_after=retry_after,
            before_stream=before_stream,
        )


_raw_decode = json.JSONDecoder().raw_decode


def loads_fast(data: str) -> Any:
    """`json.loads`, with a shortcut for the usual compact frame.

    `raw_decode` skips the two whitespace scans `loads` does; anything it does not
    consume entirely (padding, garbage) goes through `json.loads` for the verdict.
    """
    try:
        value, end = _raw_decode(data)
    except ValueError:
        value = json.loads(data)
    else:
        if end != len(data):
            value = json.loads(data)

    # Only a `\uD800`-style escape can leave a lone surrogate behind (a valid pair
    # becomes one astral character), so the common frame pays two substring scans.
    if "\\ud" in data or "\\uD" in data:
        value = _replace_lone_surrogates(value)
    return value


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_lone_surrogates(value: Any) -> Any:
    """SPEC section 2: a lone surrogate from a JSON escape becomes U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {k: _replace_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_lone_surrogates(v) for v in value]
    return value


def parse_json_object(data: str, what: str) -> dict[str, Any]:
    """Parse a frame that must be a JSON object, else raise a protocol error."""
    try:
        value = loads_fast(data)
    except ValueError:
        raise ProtocolError(f"{what} is not valid JSON: {data[:80]!r}") from None

    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is not a JSON object: {data[:80]!r}")

    return value


def text_of(value: object) -> str:
    """Text that counts: a string adds itself; null, absent or other types add ''."""
    return value if isinstance(value, str) else ""


def _end_of_body(decoder: FrameDecoder, parser: StreamParser) -> Iterator[Chunk]:
    """The body ended cleanly: a last NDJSON line without "\n", then the verdict."""
    last = decoder.close()
    if isinstance(last, str):
        chunk = parser.final_fragment(last)
        if chunk is not None:
            yield chunk
            if chunk.terminal:
                return

    chunk = parser.end_of_body()
    if chunk is not None:
        yield chunk
