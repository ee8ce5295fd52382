"""The proxy's rules: which paths it forwards, which headers cross it, and no token coming back.

- **Paths**: only a relative path under the connection's API base. The raw (still
  percent-encoded) path is checked, decoded as often as it decodes, so that ``..``,
  ``%2e%2e``, ``%252e%252e``, encoded slashes and backslashes, a scheme (``https:``), a leading
  ``/`` (``//host``) and userinfo (``@host``) are refused before anything is sent; the built URL
  is then checked to be on the base's scheme, host and port and under its path.
- **Request headers**: the caller's credentials (``Authorization``, cookies, ``X-API-Key``, the
  CSRF token), hop-by-hop headers (and those ``Connection`` names), ``Host``, ``Proxy-*`` and the
  ``Forwarded`` family stay at the gateway; the connection's client adds its own authorization.
- **Response headers**: ``Set-Cookie``, hop-by-hop headers and the vendor's CORS and transport
  policy stay behind; so does any header carrying the credential that was sent.
- **Response body**: the credential that was sent is masked (same length, so ``Content-Length``
  holds) wherever the vendor echoes it, also across chunk boundaries.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator, Iterable
from urllib.parse import unquote, unquote_plus

import httpx

__all__ = [
    "REPLAYABLE_BODY_LIMIT",
    "BodyNotReplayableError",
    "OneShotBody",
    "ProxyPathError",
    "TokenMask",
    "forwarded_query",
    "read_body",
    "request_headers",
    "response_headers",
    "sent_credentials",
    "target_url",
]

#: Request bodies up to this size are held in memory so a 401 can be retried with a new token;
#: larger ones are streamed through and cannot be sent twice.
REPLAYABLE_BODY_LIMIT = 1024 * 1024

#: The gateway's own query parameters: never forwarded (``token`` is a credential).
GATEWAY_PARAMS = frozenset({"user_id", "token"})

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
_CALLER_ONLY = frozenset(
    {
        "authorization",
        "cookie",
        "x-api-key",
        "x-csrf-token",
        "content-length",  # httpx frames the body; a streamed body gets it back explicitly
        "accept-encoding",  # the gateway reads the body (to mask the token): its own choice
        "expect",
        "forwarded",
        "x-real-ip",
        "origin",
        "referer",
    }
)
_VENDOR_ONLY = frozenset(
    {
        "set-cookie",
        "set-cookie2",
        "date",  # the gateway's server sets its own
        "server",
        "alt-svc",  # about the vendor's host, not the gateway's
        "strict-transport-security",
    }
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class ProxyPathError(ValueError):
    """The requested path is not a plain path under the provider's API base."""


class BodyNotReplayableError(Exception):
    """A streamed request body was asked for a second time (a retry after a 401)."""


def _connection_named(headers: httpx.Headers) -> set[str]:
    return {
        token.strip().lower()
        for value in headers.get_list("connection")
        for token in value.split(",")
        if token.strip()
    }


def _dropped(name: str, extra: frozenset[str], named: set[str]) -> bool:
    return (
        name in _HOP_BY_HOP
        or name in extra
        or name in named
        or name.startswith("proxy-")
        or name.startswith("x-forwarded-")
    )


def request_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The caller's headers that may reach the vendor."""
    given = httpx.Headers(list(headers))
    named = _connection_named(given)
    return [(k, v) for k, v in given.multi_items() if not _dropped(k.lower(), _CALLER_ONLY, named)]


def response_headers(
    response: httpx.Response, secrets: Iterable[bytes], *, decoded: bool
) -> list[tuple[bytes, bytes]]:
    """The vendor's headers that may reach the caller (``decoded``: the body is re-encoded)."""
    named = _connection_named(response.headers)
    extra = _VENDOR_ONLY | ({"content-encoding", "content-length"} if decoded else frozenset())
    kept: list[tuple[bytes, bytes]] = []
    for name, value in response.headers.raw:
        lowered = name.decode("latin-1").lower()
        if _dropped(lowered, extra, named) or lowered.startswith("access-control-"):
            continue
        if any(secret in value for secret in secrets):
            continue
        kept.append((name.lower(), value))
    return kept


def _fully_decoded(text: str) -> str:
    for _ in range(8):  # %2525… decodes once per round; deeper nesting is refused below
        decoded = unquote(text)
        if decoded == text:
            return decoded
        text = decoded
    raise ProxyPathError("The path is percent-encoded too many times over.")


def _check_path(rest: str) -> None:
    if rest.startswith("/") or rest.startswith("\\"):
        raise ProxyPathError(
            "The path after /api/proxy/{vendor}/ must be relative: it starts with a slash "
            "(another host, //host, is not allowed)."
        )
    if _SCHEME.match(rest) or _SCHEME.match(_fully_decoded(rest)):
        raise ProxyPathError(
            "Absolute URLs are not allowed: give a path under the provider's API base, "
            "e.g. /api/proxy/github/user."
        )
    decoded = _fully_decoded(rest)
    if "\\" in decoded:
        raise ProxyPathError("Backslashes are not allowed in the path (plain or encoded).")
    if decoded.count("/") != rest.count("/"):
        raise ProxyPathError("Encoded slashes (%2F) are not allowed in the path.")
    segments = decoded.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise ProxyPathError("'.' and '..' segments are not allowed (plain or encoded).")
    if "@" in segments[0]:
        raise ProxyPathError("'@' is not allowed in the path's first segment (no userinfo).")
    if any(ord(c) < 32 or ord(c) == 127 for c in decoded):
        raise ProxyPathError("The path may not contain control characters (plain or encoded).")


def target_url(base: httpx.URL, raw_rest: bytes, raw_query: bytes) -> httpx.URL:
    """``raw_rest`` (the request's raw path after the prefix) under ``base``, with the query."""
    if not base.is_absolute_url:
        raise ProxyPathError("This provider has no API base URL to proxy to.")
    try:
        rest = raw_rest.decode("ascii")
        query = raw_query.decode("ascii")
    except UnicodeDecodeError:
        raise ProxyPathError("Percent-encode non-ASCII characters in the path and query.") from None
    _check_path(rest)
    prefix = base.raw_path.split(b"?", 1)[0]
    if not prefix.endswith(b"/"):
        prefix += b"/"
    tail = rest.encode() + (b"?" + query.encode() if query else b"")
    url = base.copy_with(raw_path=prefix + tail)
    if (url.scheme, url.host, url.port, url.userinfo) != (
        base.scheme,
        base.host,
        base.port,
        base.userinfo,
    ) or not url.raw_path.startswith(prefix):
        raise ProxyPathError("The path leaves the provider's API base.")  # pragma: no cover
    return url


def forwarded_query(raw: bytes) -> bytes:
    """The query string as the caller wrote it, minus the gateway's own parameters."""
    kept = [
        part
        for part in raw.split(b"&")
        if part and unquote_plus(part.split(b"=", 1)[0].decode("latin-1")) not in GATEWAY_PARAMS
    ]
    return b"&".join(kept)


class OneShotBody:
    """A request body too large to hold: the buffered start, then the rest of the stream.

    Iterable once; a second iteration (httpx resending after a 401) raises
    :class:`BodyNotReplayableError` instead of sending a truncated body.
    """

    def __init__(self, head: bytes, rest: AsyncIterator[bytes]) -> None:
        self._head = head
        self._rest = rest
        self._used = False

    @property
    def used(self) -> bool:
        return self._used

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._used:
            raise BodyNotReplayableError
        self._used = True
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        yield self._head
        async for chunk in self._rest:
            if chunk:
                yield chunk


async def read_body(
    stream: AsyncIterator[bytes], limit: int = REPLAYABLE_BODY_LIMIT
) -> bytes | OneShotBody:
    """The whole body when it is at most ``limit`` bytes, else a :class:`OneShotBody`."""
    held = bytearray()
    async for chunk in stream:
        held += chunk
        if len(held) > limit:
            return OneShotBody(bytes(held), stream)
    return bytes(held)


def sent_credentials(request: httpx.Request) -> list[bytes]:
    """What the connection's client put in ``Authorization`` (and, for Basic, its parts)."""
    value = request.headers.get("authorization")
    if not value:
        return []
    scheme, _, credential = value.partition(" ")
    found = [credential.strip().encode()] if credential.strip() else []
    if scheme.lower() == "basic" and found:
        try:
            pair = base64.b64decode(found[0], validate=True)
        except (binascii.Error, ValueError):
            pair = b""
        found += [part for part in pair.split(b":", 1) if len(part) >= 8]
    return found


class TokenMask:
    """Masks every secret in a byte stream with ``*`` of the same length, across chunks."""

    def __init__(self, secrets: Iterable[bytes]) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._keep = max((len(s) for s in self.secrets), default=1) - 1
        self._tail = b""

    def feed(self, chunk: bytes) -> bytes:
        if not self.secrets:
            return chunk
        data = self._tail + chunk
        for secret in self.secrets:
            data = data.replace(secret, b"*" * len(secret))
        # An occurrence cut by the chunk boundary lies wholly in the last len - 1 bytes.
        cut = max(len(data) - self._keep, 0)
        self._tail = data[cut:]
        return data[:cut]

    def flush(self) -> bytes:
        tail, self._tail = self._tail, b""
        return tail
