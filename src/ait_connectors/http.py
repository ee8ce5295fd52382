"""Requests to vendor APIs: what data sources call to talk to their vendor.

:func:`send` / :func:`request_json` put a timeout on every request, retry 5xx and network errors
with exponential backoff (stamina), and map every failure onto the framework's errors: rate
limits → ``RateLimitError`` (read by :mod:`ait_connectors.ratelimit`), a 401 that survived the
client's token refresh → ``AuthorizationRequiredError``, other 4xx → ``VendorResponseError``, a
body that is not JSON → ``VendorResponseError`` saying so.

Tests switch the backoff off with ``stamina.set_testing(True, attempts=3)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import stamina

from .errors import AuthorizationRequiredError, VendorResponseError, redact
from .json_codec import loads
from .metrics.series import (
    observe_rate_limited,
    observe_vendor_network_error,
    observe_vendor_response,
)
from .metrics.traces import span
from .providers.spec import RateLimitHeaders
from .ratelimit import graphql_errors, graphql_rate_limit, rate_limit_error
from .settings import get_settings

__all__ = [
    "DEFAULT_TIMEOUT",
    "ProviderInfo",
    "TransientVendorError",
    "check_graphql",
    "is_retryable",
    "parse_json",
    "request_json",
    "send",
]

DEFAULT_TIMEOUT = 30.0
_RETRYABLE_STATUS = frozenset({408, 500, 502, 503, 504, 520, 522, 524, 529})


class ProviderInfo(Protocol):
    """What the HTTP helpers and the sync engine read of a provider (``ProviderSpec``
    satisfies it)."""

    @property
    def slug(self) -> str: ...

    @property
    def rate_limit(self) -> RateLimitHeaders: ...


class TransientVendorError(VendorResponseError):
    """A failure worth retrying: 5xx, timeout, connection error."""


def is_retryable(exc: Exception) -> bool:
    """Retry 5xx answers and network failures; never rate limits or other 4xx."""
    return isinstance(exc, TransientVendorError | httpx.TransportError)


def _provider(provider: ProviderInfo | str) -> tuple[str, RateLimitHeaders | None]:
    if isinstance(provider, str):
        return provider, None
    return provider.slug, provider.rate_limit


def _where(method: str, url: httpx.URL | str) -> str:
    # The path only: query strings may carry tokens or cursors we do not want in error messages.
    path = httpx.URL(str(url)).path if not isinstance(url, httpx.URL) else url.path
    return f"{method} {path}"


def _timeout(client: httpx.AsyncClient, timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if timeout is not None:
        return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
    current = client.timeout
    if current.read is None and current.connect is None:
        return httpx.Timeout(DEFAULT_TIMEOUT)  # a request without a timeout can hang a worker
    return current


def _unlink_stream(response: httpx.Response) -> None:
    """Let reference counting free a read response (and its body) as soon as it is dropped.

    httpx binds a response and its stream to each other; that cycle keeps every page's body
    alive until a full garbage collection, which in a long sync means dozens of pages. The body
    has been read and the stream closed, so the stream is no longer needed.
    """
    if response.is_closed:
        response.stream = httpx.ByteStream(b"")


@dataclass(frozen=True)
class _Call:
    """What every attempt of one :func:`send` shares."""

    slug: str
    spec: RateLimitHeaders | None
    timeout: httpx.Timeout
    max_bytes: int


def _too_large(call: _Call, where: str, size: str) -> VendorResponseError:
    return VendorResponseError(
        "VENDOR_RESPONSE_TOO_LARGE",
        f"{call.slug}: {where} answered a body of {size}, over the cap of {call.max_bytes} bytes; "
        "raise AIT_MAX_RESPONSE_BYTES (or max_bytes=) if such pages are expected, or ask the "
        "vendor for smaller pages",
        metadata={"max_bytes": call.max_bytes},
    )


async def _read_capped(response: httpx.Response, call: _Call, where: str) -> None:
    """Read the body, stopping as soon as it passes the cap (it is never held whole)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > call.max_bytes:
        raise _too_large(call, where, f"{declared} bytes (Content-Length)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > call.max_bytes:
            raise _too_large(call, where, f"more than {call.max_bytes} bytes ({size} read)")
        chunks.append(chunk)
    # What Response.aread() stores; the body is then available as .content / .text.
    response._content = b"".join(chunks)


async def _receive(
    client: httpx.AsyncClient, request: httpx.Request, call: _Call, where: str
) -> httpx.Response:
    try:
        with span("vendor.request", {"vendor": call.slug, "http.request.method": request.method}):
            response = await client.send(request, stream=True)
            observe_vendor_response(call.slug, response.status_code)
            try:
                await _read_capped(response, call, where)
            finally:
                await response.aclose()
    except httpx.TimeoutException as exc:
        observe_vendor_network_error(call.slug)
        raise TransientVendorError(
            "VENDOR_TIMEOUT", f"{call.slug}: {where} timed out ({type(exc).__name__})"
        ) from exc
    except httpx.TransportError as exc:
        observe_vendor_network_error(call.slug)
        raise TransientVendorError(
            "VENDOR_NETWORK_ERROR", f"{call.slug}: {where} failed: {type(exc).__name__}: {exc}"
        ) from exc
    _unlink_stream(response)
    return response


def _check_status(response: httpx.Response, call: _Call, where: str) -> httpx.Response:
    status = response.status_code
    if 200 <= status < 300:
        return response
    limited = rate_limit_error(response, call.slug, call.spec)
    if limited is not None:
        observe_rate_limited(call.slug)
        raise limited
    body = redact(response.text[:500]) if response.content else ""
    if status in _RETRYABLE_STATUS or status >= 500:
        raise TransientVendorError(
            "VENDOR_SERVER_ERROR",
            f"{call.slug}: {where} answered HTTP {status}",
            status_code=status,
            metadata={"body": body},
        )
    if status == 401:
        raise AuthorizationRequiredError(
            f"{call.slug}: {where} answered HTTP 401 even with a fresh token; "
            "the user must reconnect",
            reason="vendor_unauthorized",
            metadata={"status_code": status},
        )
    raise VendorResponseError(
        "VENDOR_CLIENT_ERROR",
        f"{call.slug}: {where} answered HTTP {status}: {body[:200]}",
        status_code=status,
        metadata={"body": body, **_vendor_code(response)},
    )


_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{2,63}")


def _vendor_code(response: httpx.Response) -> dict[str, str]:
    """The error's machine-readable ``code`` (Notion's ``restricted_resource``), which the
    redacted body hides (a ``code`` may be an OAuth code): kept when it is an identifier."""
    try:
        data = loads(response.content)
    except ValueError:
        return {}
    code = data.get("code") if isinstance(data, dict) else None
    return {"vendor_code": code} if isinstance(code, str) and _IDENTIFIER.fullmatch(code) else {}


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    provider: ProviderInfo | str,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout | None = None,
    attempts: int = 5,
    retry_timeout: float = 120.0,
    max_bytes: int | None = None,
) -> httpx.Response:
    """Send one request and return its 2xx response (body read).

    Retries 5xx, timeouts and connection errors with exponential backoff and jitter
    (``attempts`` in all, within ``retry_timeout`` seconds); ``content`` is a raw body (a
    multipart batch), ``json`` a JSON one. Raises ``RateLimitError`` for rate
    limits, ``AuthorizationRequiredError`` for a 401 that survived the client's token refresh,
    ``VendorResponseError`` for everything else, including a body over ``max_bytes``
    (default: the ``AIT_MAX_RESPONSE_BYTES`` setting, 64 MiB).
    """
    slug, spec = _provider(provider)
    cap = max_bytes if max_bytes is not None else get_settings().max_response_bytes
    call = _Call(slug, spec, _timeout(client, timeout), cap)
    where = _where(method, url)
    async for attempt in stamina.retry_context(
        on=is_retryable,
        attempts=attempts,
        timeout=retry_timeout,
        wait_initial=0.5,
        wait_max=10.0,
    ):
        with attempt:
            request = client.build_request(
                method,
                url,
                params=params,
                json=json,
                content=content,
                headers=headers,
                timeout=call.timeout,
            )
            return _check_status(await _receive(client, request, call, where), call, where)
    raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover


def parse_json(response: httpx.Response, provider: ProviderInfo | str) -> Any:
    """The response body as JSON, or a ``VendorResponseError`` that says what was wrong."""
    slug, _ = _provider(provider)
    try:
        return loads(response.content)
    except ValueError as exc:
        snippet = redact(response.content[:120].decode("utf-8", "replace"))
        raise VendorResponseError(
            "VENDOR_MALFORMED_RESPONSE",
            f"{slug}: {_where(response.request.method, response.request.url)} answered "
            f"HTTP {response.status_code} with a body that is not valid JSON ({exc}); "
            f"it starts with {snippet!r}",
            status_code=response.status_code,
        ) from None


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    provider: ProviderInfo | str,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout | None = None,
    graphql: bool = False,
    max_bytes: int | None = None,
) -> Any:
    """:func:`send` + :func:`parse_json`; with ``graphql=True`` also maps GraphQL errors."""
    response = await send(
        client,
        method,
        url,
        provider=provider,
        params=params,
        json=json,
        headers=headers,
        timeout=timeout,
        max_bytes=max_bytes,
    )
    payload = parse_json(response, provider)
    if graphql:
        check_graphql(payload, response, provider)
    return payload


def check_graphql(payload: Any, response: httpx.Response, provider: ProviderInfo | str) -> None:
    """Raise ``RateLimitError`` / ``VendorResponseError`` for a GraphQL body with errors."""
    slug, spec = _provider(provider)
    limited = graphql_rate_limit(payload, response, slug, spec)
    if limited is not None:
        observe_rate_limited(slug)
        raise limited
    errors = graphql_errors(payload)
    if errors and not (isinstance(payload, dict) and payload.get("data")):
        message = "; ".join(str(e.get("message", e))[:200] for e in errors[:3])
        raise VendorResponseError(
            "VENDOR_GRAPHQL_ERROR", f"{slug}: GraphQL errors: {message}", status_code=200
        )
