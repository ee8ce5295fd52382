"""Connect tokens: short-lived, HMAC-signed credentials for one end user.

An application (holding an API key) asks the gateway for a connect token for one of its users and
hands it to that user's browser, which may then use the Connect page and the user's own routes and
nothing else. The token is stateless — ``act_<payload>.<signature>`` with the payload a small JSON
object (user, expiry, allowed redirect origin) — so any gateway process sharing the encryption key
verifies it without a database round trip.

The signing key is derived from the encryption key with HKDF (one label per purpose), so there is
no second secret to configure, back up or rotate; rotating the encryption key invalidates the
outstanding connect tokens, which live minutes anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..crypto import load_cipher
from ..csrf import CsrfTokens
from ..settings import Settings

__all__ = [
    "CONNECT_TOKEN_PREFIX",
    "ConnectToken",
    "ConnectTokenSigner",
    "InvalidConnectTokenError",
    "derive_key",
    "origin_of",
]

CONNECT_TOKEN_PREFIX = "act_"
DEFAULT_TTL_SECONDS = 15 * 60
MAX_TTL_SECONDS = 7 * 24 * 3600
MAX_USER_ID_LENGTH = 200


def derive_key(settings: Settings, purpose: str) -> bytes:
    """A 32-byte key for ``purpose``, derived from the encryption key ``Connectors.open`` loads
    (``AIT_ENCRYPTION_KEY``, or on the embedded default the generated key file)."""
    return load_cipher(settings).derive_key(purpose)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, else ``None``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class InvalidConnectTokenError(Exception):
    """The token is malformed, forged or expired; ``reason`` says which (safe to show)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ConnectToken:
    """A verified connect token's claims."""

    user_id: str
    expires_at: int  # unix seconds
    redirect_origin: str | None = None


class ConnectTokenSigner:
    """Issues and verifies connect tokens, and derives the Connect page's CSRF tokens."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._csrf = CsrfTokens(key)

    def __repr__(self) -> str:
        return "ConnectTokenSigner()"

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, (CONNECT_TOKEN_PREFIX + payload).encode(), hashlib.sha256)
        return _b64(digest.digest())

    def issue(
        self,
        user_id: str,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        redirect_url: str | None = None,
        now: float | None = None,
    ) -> tuple[str, ConnectToken]:
        """A new token for ``user_id``; ``redirect_url``'s origin becomes an allowed redirect."""
        if not user_id or len(user_id) > MAX_USER_ID_LENGTH:
            raise ValueError(f"user_id must be 1-{MAX_USER_ID_LENGTH} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in user_id):
            raise ValueError("user_id must not contain control characters")
        if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be 1-{MAX_TTL_SECONDS}")
        origin = origin_of(redirect_url) if redirect_url else None
        if redirect_url and origin is None:
            raise ValueError("redirect_url must be an absolute http(s) URL")
        issued = int(now if now is not None else time.time())
        claims = ConnectToken(
            user_id=user_id, expires_at=issued + ttl_seconds, redirect_origin=origin
        )
        body: dict[str, object] = {
            "sub": user_id,
            "exp": claims.expires_at,
            "iat": issued,
            "jti": secrets.token_urlsafe(9),  # two tokens issued in one second still differ
        }
        if origin:
            body["ret"] = origin
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{CONNECT_TOKEN_PREFIX}{payload}.{self._sign(payload)}", claims

    def verify(self, token: str, *, now: float | None = None) -> ConnectToken:
        """The claims of a valid token; raises :class:`InvalidConnectTokenError` otherwise."""
        if not token.startswith(CONNECT_TOKEN_PREFIX) or len(token) > 2048:
            raise InvalidConnectTokenError("malformed")
        payload, _, signature = token[len(CONNECT_TOKEN_PREFIX) :].partition(".")
        if not payload or not signature:
            raise InvalidConnectTokenError("malformed")
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidConnectTokenError("bad_signature")
        try:
            body = json.loads(_unb64(payload))
            user_id = str(body["sub"])
            expires_at = int(body["exp"])
            origin = body.get("ret")
        except (ValueError, KeyError, TypeError):
            raise InvalidConnectTokenError("malformed") from None
        if expires_at <= (now if now is not None else time.time()):
            raise InvalidConnectTokenError("expired")
        return ConnectToken(
            user_id=user_id,
            expires_at=expires_at,
            redirect_origin=str(origin) if isinstance(origin, str) else None,
        )

    def csrf_token(self, credential: str) -> str:
        """The CSRF token the Connect page's forms carry for the session ``credential``."""
        return self._csrf.token(credential)

    def check_csrf(self, credential: str, presented: str | None) -> bool:
        return self._csrf.check(credential, presented)
