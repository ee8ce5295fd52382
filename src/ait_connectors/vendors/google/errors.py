"""Google's error bodies, mapped onto the framework's errors.

Every Google API answers a failure with one JSON shape (the older APIs fill ``errors[]``, the
newer ones ``status`` and ``details[]``)::

    {"error": {"code": 403, "message": "…", "status": "PERMISSION_DENIED",
               "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits"}],
               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "EXPIRED_SYNC_TOKEN"}]}}

:func:`parse_google_error` reads it into a :class:`GoogleError` (every ``reason``, from both
lists). :data:`REASON_HOOKS` maps a reason onto the exception a data source raises for it:
that is the hook for product quirks. A product module registers its own reasons at import time
with :func:`register_reason` — YouTube's daily ``quotaExceeded``, say, whose reset is midnight
Pacific time rather than "retry in a while"::

    def _quota(error: GoogleError, exc: Exception) -> Exception | None:
        return RateLimitError("google", next_pacific_midnight(), "youtube: daily quota spent")

    register_reason("quotaExceeded", _quota)

A hook gets the parsed error and the exception the SDK's request helpers raised
(``RateLimitError`` or ``VendorResponseError``), and returns the exception to raise instead, or
``None`` to leave the default. Rate limits without a hook (``rateLimitExceeded``,
``userRateLimitExceeded``, any 429) back off exponentially in :mod:`.base`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from ait_connectors.vendor import VendorResponseError

__all__ = [
    "REASON_HOOKS",
    "GoogleAPIError",
    "GoogleError",
    "ReasonHook",
    "SyncTokenExpired",
    "parse_google_error",
    "register_reason",
]

#: Short-lived limits: exponential backoff (Google's advice), not a stop.
BACKOFF_REASONS = frozenset({"ratelimitexceeded", "userratelimitexceeded"})
#: Configuration errors, never rate limits: the message says what to fix.
_CONFIG_HINTS = {
    "accessnotconfigured": "enable the API for the OAuth client's project in the Google Cloud "
    "console",
    "insufficientpermissions": "the token lacks a scope this request needs; reconnect Google "
    "with the product's scope",
    "access_token_scope_insufficient": "the token lacks a scope this request needs; reconnect "
    "Google with the product's scope",
}


@dataclass(frozen=True)
class GoogleError:
    """The parts of a Google error body that decide what to do (reasons lower-cased)."""

    status_code: int
    reasons: frozenset[str]
    status: str | None = None
    message: str = ""

    def has(self, reason: str) -> bool:
        return reason.lower() in self.reasons


def parse_google_error(status_code: int, body: bytes) -> GoogleError:
    """Read a Google error body (any other body gives a :class:`GoogleError` with no reason)."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return GoogleError(status_code, frozenset())
    reasons: set[str] = set()
    for group in ("errors", "details"):
        for item in error.get(group) or []:
            if isinstance(item, dict) and isinstance(item.get("reason"), str):
                reasons.add(item["reason"].lower())
    status = error.get("status") if isinstance(error.get("status"), str) else None
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    return GoogleError(status_code, frozenset(reasons), status, str(message)[:300])


class GoogleAPIError(VendorResponseError):
    """A Google API refused a request; ``reasons`` are Google's (lower-cased)."""

    def __init__(self, message: str, error: GoogleError, code: str = "VENDOR_CLIENT_ERROR") -> None:
        super().__init__(
            code,
            message,
            status_code=error.status_code,
            metadata={"google_reasons": sorted(error.reasons), "google_status": error.status},
        )
        self.error = error


class SyncTokenExpired(GoogleAPIError):
    """A sync token is no longer valid (Calendar 410 Gone, People ``EXPIRED_SYNC_TOKEN``): the
    collection must be listed again in full."""

    def __init__(self, what: str, error: GoogleError) -> None:
        super().__init__(
            f"google: the sync token of {what} expired; listing it again in full",
            error,
            code="GOOGLE_SYNC_TOKEN_EXPIRED",
        )


ReasonHook = Callable[[GoogleError, Exception], "Exception | None"]
#: reason (lower-cased) -> hook; see the module docstring.
REASON_HOOKS: dict[str, ReasonHook] = {}


def register_reason(reason: str, hook: ReasonHook) -> None:
    """Make ``hook`` decide what a Google error with ``reason`` raises (replaces an earlier one)."""
    REASON_HOOKS[reason.lower()] = hook


def hooked(error: GoogleError, exc: Exception) -> Exception | None:
    """What the first registered hook of one of the error's reasons makes of ``exc``."""
    for reason in sorted(error.reasons):
        hook = REASON_HOOKS.get(reason)
        if hook is not None:
            found = hook(error, exc)
            if found is not None:
                return found
    return None


def client_error(where: str, error: GoogleError, exc: VendorResponseError) -> Exception:
    """A 4xx that no hook claimed: say what Google said and, for a setup error, what to do."""
    for reason in sorted(error.reasons):
        hint = _CONFIG_HINTS.get(reason)
        if hint is not None:
            return GoogleAPIError(
                f"google: {where} answered HTTP {error.status_code} ({reason}): {hint}",
                error,
                code="VENDOR_CONFIGURATION_ERROR",
            )
    if not error.reasons and error.status is None:
        return exc
    said = ", ".join(sorted(error.reasons)) or error.status or "?"
    return GoogleAPIError(
        f"google: {where} answered HTTP {error.status_code} ({said}): {error.message}", error
    )
