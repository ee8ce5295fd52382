"""The exceptions raised by ait-connectors.

Hierarchy::

    AItError
    ├── ConfigurationError            a setting is missing or malformed
    ├── EncryptionError               a secret cannot be decrypted (wrong key, tampered, moved)
    ├── AuthorizationRequiredError    the user must (re)connect; raised without any network call
    ├── RateLimitError                the vendor asked us to wait until ``reset_at``
    ├── VendorResponseError           a vendor API answered something we cannot use
    ├── DatabaseUnavailableError      the database cannot be reached (lost mid-way or refused)
    └── ConnectorOAuthError
        ├── ConnectorOAuthRequestError            non-2xx (or an error body) from an OAuth endpoint
        │   └── ConnectorOAuthRefreshTokenExpiredError   invalid_grant on refresh
        ├── ConnectorOAuthJsonParseError          2xx that is not JSON
        └── ConnectorOAuthNetworkError            connect/read timeout, connection error (retryable)

No exception carries a token, secret or verifier: bodies are redacted before they are stored.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "AItError",
    "AuthorizationRequiredError",
    "ConfigurationError",
    "ConnectorOAuthError",
    "ConnectorOAuthJsonParseError",
    "ConnectorOAuthNetworkError",
    "ConnectorOAuthRefreshTokenExpiredError",
    "ConnectorOAuthRequestError",
    "DatabaseUnavailableError",
    "EncryptionError",
    "FullScanRequired",
    "RateLimitError",
    "VendorResponseError",
    "database_unavailable",
    "redact",
]

_SECRET_KEYS = (
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code_verifier",
    "code",
    "token",
    "password",
    "secret",
)
_SECRET_PATTERN = re.compile(
    r"""(?P<key>["']?(?:"""
    + "|".join(sorted(_SECRET_KEYS, key=len, reverse=True))
    + r""")["']?\s*[:=]\s*["']?)(?P<value>[^"'&,\s}]+)""",
    re.IGNORECASE,
)
_BEARER_PATTERN = re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9\-._~+/=]+")


def redact(text: str, max_length: int = 2000) -> str:
    """Mask token-like values in ``text`` (JSON, form bodies, headers) and cap its length."""
    text = _SECRET_PATTERN.sub(lambda m: f"{m.group('key')}[REDACTED]", text)
    text = _BEARER_PATTERN.sub(lambda m: f"{m.group(1)} [REDACTED]", text)
    if len(text) > max_length:
        text = text[:max_length] + "…"
    return text


class AItError(Exception):
    """Base class: a machine-readable ``code``, a human ``message`` and safe ``metadata``."""

    def __init__(
        self,
        code: str,
        message: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.metadata: dict[str, Any] = dict(metadata or {})

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ConfigurationError(AItError):
    """A setting is missing or malformed; the message says which and how to fix it."""

    def __init__(self, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__("CONFIGURATION", message, metadata)


class EncryptionError(AItError):
    """A stored secret cannot be decrypted with any configured key."""

    def __init__(self, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__("ENCRYPTION", message, metadata)


class AuthorizationRequiredError(AItError):
    """The connection has no usable token: the user must connect (again)."""

    def __init__(
        self,
        message: str = "This connection needs the user to connect (again).",
        *,
        reason: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__("AUTHORIZATION_REQUIRED", message, metadata)
        self.reason = reason


class RateLimitError(AItError):
    """The vendor limited us; retry at ``reset_at`` (timezone-aware UTC)."""

    def __init__(
        self,
        provider: str,
        reset_at: datetime,
        message: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if reset_at.tzinfo is None:
            reset_at = reset_at.replace(tzinfo=UTC)
        super().__init__(
            "RATE_LIMIT",
            message or f"{provider} rate limit reached; retry at {reset_at.isoformat()}",
            metadata,
        )
        self.provider = provider
        self.reset_at = reset_at

    def wait_seconds(self, now: datetime | None = None) -> float:
        """Seconds from ``now`` until the limit resets (never negative)."""
        now = now or datetime.now(UTC)
        return max(0.0, (self.reset_at - now).total_seconds())


class FullScanRequired(AItError):
    """The vendor refused the incremental handle (an expired sync token, a stale history id):
    only a full scan can bring the records back in line. Raised by a data source; the engine
    drops the watermark and runs a full scan in the same run, with deletions swept."""

    def __init__(self, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__("SYNC_FULL_SCAN_REQUIRED", message, metadata)


class VendorResponseError(AItError):
    """A vendor API answered with an error or a body we cannot use."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status_code: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code, message, metadata)
        self.status_code = status_code


class ConnectorOAuthError(AItError):
    """Base of every failure talking to an OAuth endpoint."""


class ConnectorOAuthRequestError(ConnectorOAuthError):
    """The OAuth endpoint answered non-2xx, or a 2xx carrying an error (GitHub, Slack)."""

    def __init__(
        self,
        status_code: int,
        response_body: str,
        message: str | None = None,
        *,
        error: str | None = None,
        error_description: str | None = None,
    ) -> None:
        body = redact(response_body)
        detail = error or f"HTTP {status_code}"
        if error_description:
            detail = f"{detail}: {error_description}"
        super().__init__(
            "OAUTH_REQUEST",
            message or f"OAuth request failed ({detail})",
            {"status_code": status_code, "error": error},
        )
        self.status_code = status_code
        self.response_body = body
        self.error = error
        self.error_description = error_description


class ConnectorOAuthRefreshTokenExpiredError(ConnectorOAuthRequestError):
    """The refresh token was refused (``invalid_grant``): the user must reconnect."""


class ConnectorOAuthJsonParseError(ConnectorOAuthError):
    """The OAuth endpoint answered 2xx with a body that is not the JSON we need."""

    def __init__(self, status_code: int, response_body: str, message: str | None = None) -> None:
        super().__init__(
            "OAUTH_JSON_PARSE",
            message or f"OAuth endpoint answered HTTP {status_code} with a body that is not JSON",
            {"status_code": status_code},
        )
        self.status_code = status_code
        self.response_body = redact(response_body)


class ConnectorOAuthNetworkError(ConnectorOAuthError):
    """Connection error or timeout talking to an OAuth endpoint; safe to retry."""

    def __init__(self, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__("OAUTH_NETWORK", message, metadata)


class DatabaseUnavailableError(AItError):
    """The database went away (or refuses connections). What was committed is kept."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            "DATABASE_UNAVAILABLE",
            f"Lost the database ({reason}). Check that it is running and that AIT_DATABASE_URL "
            "points at it; what was committed is kept, and the next sync resumes from it.",
            {"reason": reason},
        )


# PostgreSQL error classes that mean "the connection is gone": connection exceptions (08…),
# and the server shutting down or not accepting connections yet.
_LOST_SQLSTATES = ("08", "57P01", "57P02", "57P03")
_SQLITE_LOST = ("unable to open database file", "disk i/o error")


def database_unavailable(exc: BaseException) -> DatabaseUnavailableError | None:
    """The :class:`DatabaseUnavailableError` that ``exc`` (or what caused it) amounts to, if it
    says the database cannot be reached; else ``None``. Drivers are looked at only when already
    imported, so this costs nothing where no database was opened."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseUnavailableError):
            return current
        reason = _lost_connection(current)
        if reason is not None:
            return DatabaseUnavailableError(reason)
        current = current.__cause__ or current.__context__
    return None


def _lost_connection(exc: BaseException) -> str | None:
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.OperationalError):
        state = getattr(exc, "sqlstate", None)
        if state is None or state.startswith(_LOST_SQLSTATES):
            return _first_line(exc)
    sqlite3 = sys.modules.get("sqlite3")
    lost = sqlite3 is not None and isinstance(exc, sqlite3.OperationalError)
    if lost and str(exc).lower().startswith(_SQLITE_LOST):
        return _first_line(exc)
    # SQLAlchemy raises this on the next use of a connection it invalidated on a disconnect: the
    # original driver error was raised (and reported) earlier, on another await.
    sa_exc = sys.modules.get("sqlalchemy.exc")
    pending = sa_exc is not None and isinstance(exc, sa_exc.PendingRollbackError)
    if pending and "can't reconnect" in str(exc).lower():
        return "the connection to the database was lost"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return redact(line, max_length=300)
