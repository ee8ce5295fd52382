"""``GoogleBase``: what every Google product's data source shares.

- **One client, several hosts.** Calendar and YouTube live under ``www.googleapis.com``, People
  under ``people.googleapis.com``, Gmail under ``gmail.googleapis.com``. With the catalogue's API
  base URL each product goes to its own Google host; with any other base URL (a local mock, a
  test proxy) every product is served under that one base, at the same paths. The token goes
  only to Google's hosts, or to the one base the config names.
- **Errors.** Google's error body is read (:mod:`.errors`); a registered reason hook decides
  first. ``rateLimitExceeded`` / ``userRateLimitExceeded`` (403) and 429 back off exponentially
  with jitter: 1 s, 2 s, 4 s … up to 32 s, plus up to 1 s at random, as a ``RateLimitError``
  whose reset is that delay, so the engine waits it out (and stops cleanly after a few). A
  ``Retry-After`` header wins over the backoff. A 401 goes through the connection's
  refresh-once flow before any of this.
- **Scopes.** :meth:`GoogleBase.require_scope` fails an entity type whose scope the connection
  was not granted, before any request.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

import httpx

from ait_connectors.vendor import (
    ProviderInfo,
    RateLimitError,
    VendorResponseError,
    parse_json,
    send,
    utcnow,
)

from .auth import missing_scope_error, scope_granted
from .errors import BACKOFF_REASONS, GoogleError, client_error, hooked, parse_google_error

__all__ = ["GOOGLE_API_BASE", "PRODUCT_ROOTS", "Backoff", "GoogleBase"]

GOOGLE_API_BASE = "www.googleapis.com"
#: product -> (its own Google origin, the path of its API root there).
PRODUCT_ROOTS: dict[str, tuple[str, str]] = {
    "calendar": ("https://www.googleapis.com", "/calendar/v3"),
    "people": ("https://people.googleapis.com", "/v1"),
    "youtube": ("https://www.googleapis.com", "/youtube/v3"),
    "gmail": ("https://gmail.googleapis.com", "/gmail/v1"),
    "gmail_batch": ("https://gmail.googleapis.com", "/batch/gmail/v1"),
}
_MAX_ERROR_BODY = 65536

Granted = Callable[[], Awaitable[str | None]]
"""Reads the scope string the connection was granted (``None``: not recorded)."""


@dataclass
class Backoff:
    """Google's truncated exponential backoff: ``min(initial * 2**n, maximum)`` + jitter."""

    initial: float = 1.0
    maximum: float = 32.0
    jitter: float = 1.0
    rng: Callable[[], float] = field(default=random.random)
    attempt: int = 0

    def next_delay(self) -> float:
        delay: float = min(self.initial * 2.0**self.attempt, self.maximum)
        delay += self.jitter * self.rng()
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class _LastError:
    """The body and headers of the latest error response of one client (error bodies are
    small; the SDK's exceptions keep only a redacted excerpt)."""

    status: int = 0
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""


def _capture(client: httpx.AsyncClient) -> _LastError:
    found: _LastError | None = getattr(client, "_google_last_error", None)
    if found is not None:
        return found
    last = _LastError()

    async def hook(response: httpx.Response) -> None:
        if response.status_code < 400 or response.status_code == 401:
            return
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > _MAX_ERROR_BODY:
            return
        await response.aread()
        last.status, last.headers, last.body = (
            response.status_code,
            response.headers,
            response.content[:_MAX_ERROR_BODY],
        )

    client.event_hooks["response"] = [*client.event_hooks.get("response", []), hook]
    client._google_last_error = last  # type: ignore[attr-defined]
    return last


class GoogleBase:
    """The shared half of every Google data source (see the module docstring).

    ``required_scopes``: entity type -> the scope it needs (the service's data source sets it
    from the product modules' ``REQUIRED_SCOPES``).
    """

    required_scopes: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        client: httpx.AsyncClient,
        provider: ProviderInfo,
        *,
        granted: Granted | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.provider = provider
        self.granted = granted
        self.backoff = backoff or Backoff()
        self._granted_scope: str | None = None
        self._granted_read = False
        self._last_error = _capture(client)

    # -- scopes ---------------------------------------------------------------------------------

    async def require_scope(self, entity_type: str) -> None:
        """Raise before any request when the connection lacks ``entity_type``'s scope (a
        connection whose granted scopes were not recorded is let through)."""
        needed = self.required_scopes.get(entity_type)
        if needed is None or self.granted is None:
            return
        if not self._granted_read:
            self._granted_scope = await self.granted()
            self._granted_read = True
        if self._granted_scope is not None and not scope_granted(needed, self._granted_scope):
            raise missing_scope_error(entity_type, needed)

    # -- requests -------------------------------------------------------------------------------

    def api_url(self, product: str, path: str) -> str:
        """The URL of ``path`` (``/users/me/calendarList``) in ``product``'s API."""
        origin, root = PRODUCT_ROOTS[product]
        if self.client.base_url.host == GOOGLE_API_BASE:
            return f"{origin}{root}{path}"
        return f"{root}{path}"  # under the configured base URL (a mock, a proxy)

    async def get_json(
        self, product: str, path: str, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, bytes]:
        """GET a JSON document of ``product``; returns (parsed body, raw body)."""
        response = await self.request("GET", product, path, params=params)
        return parse_json(response, self.provider), response.content

    async def request(
        self,
        method: str,
        product: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request to ``product``'s API, its errors read as Google's (see the module)."""
        url = self.api_url(product, path)
        self._last_error.status = 0  # one request at a time per data source: this one's error
        try:
            response = await send(
                self.client,
                method,
                url,
                provider=self.provider,
                params=params,
                content=content,
                headers=headers,
            )
        except (RateLimitError, VendorResponseError) as exc:
            raise self._mapped(exc, f"{method} {product}{path}") from None
        self.backoff.reset()
        return response

    def _mapped(self, exc: RateLimitError | VendorResponseError, where: str) -> Exception:
        last = self._last_error
        said = getattr(exc, "status_code", None) or last.status
        if not last.status or last.status >= 500 or last.status != said:
            return exc  # a server error after retries, a network failure: as the SDK said
        error = parse_google_error(last.status, last.body)
        replaced = hooked(error, exc)
        if replaced is not None:
            return replaced
        if isinstance(exc, RateLimitError):
            return self._rate_limited(exc, error, last.headers)
        return client_error(where, error, exc)

    def _rate_limited(
        self, exc: RateLimitError, error: GoogleError, headers: httpx.Headers
    ) -> RateLimitError:
        if "retry-after" in headers:
            return exc  # the SDK read the reset from it
        if error.status_code != 429 and not error.reasons & BACKOFF_REASONS:
            return exc  # another limit (daily quota…): the SDK's reset stands
        delay = self.backoff.next_delay()
        reset = utcnow() + timedelta(seconds=delay)
        return RateLimitError(
            self.provider.slug,
            reset,
            f"google: rate limited ({', '.join(sorted(error.reasons)) or error.status_code}); "
            f"backing off {delay:.1f} s",
            metadata={"status_code": error.status_code, "backoff_attempt": self.backoff.attempt},
        )


def items_of(data: Any, key: str, provider: ProviderInfo, where: str) -> list[dict[str, Any]]:
    """``data[key]`` as a list of objects (absent = none), or a clear malformed-body error."""
    if not isinstance(data, dict):
        raise VendorResponseError(
            "VENDOR_MALFORMED_RESPONSE",
            f"{provider.slug}: {where} answered JSON that is not an object",
        )
    found = data.get(key) or []
    if not isinstance(found, list) or not all(isinstance(i, dict) for i in found):
        raise VendorResponseError(
            "VENDOR_MALFORMED_RESPONSE",
            f"{provider.slug}: {where}: {key!r} is not a list of objects",
        )
    return found
