"""Slack's ``{"ok": false, "error": "…"}`` answers, mapped onto the framework's errors.

Slack answers most failures with HTTP 200 and ``ok: false``; a status check alone would take them
for success. Rate limits come as HTTP 429 with ``Retry-After`` (the core's request helpers read
those); an ``ok: false`` ``ratelimited`` body is mapped here too, in case one arrives with 200.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ait_connectors.vendor import AuthorizationRequiredError, RateLimitError, VendorResponseError

__all__ = [
    "AUTH_ERRORS",
    "CONVERSATION_ERRORS",
    "SlackAPIError",
    "slack_error",
]

#: The token is dead (expired, revoked, the user or workspace deactivated): a refresh, then
#: the user, must fix it.
AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_expired", "token_revoked", "account_inactive"}
)
#: Errors about one conversation or thread: skip it (with a warning), not the whole walk.
CONVERSATION_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "thread_not_found",
        "missing_scope",
        "access_denied",
        "method_not_supported_for_channel_type",
    }
)
_TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
_DEFAULT_WAIT = 60  # seconds; Slack's limits are per minute


class SlackAPIError(VendorResponseError):
    """A Slack method answered ``ok: false``; ``slack_error`` is Slack's error code."""

    def __init__(self, code: str, message: str, *, slack_error: str, status_code: int) -> None:
        super().__init__(
            code, message, status_code=status_code, metadata={"slack_error": slack_error}
        )
        self.slack_error = slack_error


def _scopes(body: dict[str, Any]) -> str:
    needed, provided = body.get("needed"), body.get("provided")
    return f" (needed: {needed or '?'}; granted: {provided or '?'})" if needed or provided else ""


def slack_error(method: str, body: dict[str, Any], response: httpx.Response) -> Exception:
    """The exception for an ``ok: false`` body of ``method``."""
    error = str(body.get("error") or "unknown_error")[:100]
    status = response.status_code
    if error == "ratelimited":
        header = response.headers.get("retry-after", "")
        wait = int(header) if header.isdigit() else _DEFAULT_WAIT
        reset = datetime.now(UTC) + timedelta(seconds=wait)
        return RateLimitError("slack", reset, f"slack: {method} is rate limited; retry in {wait} s")
    if error in AUTH_ERRORS:
        return AuthorizationRequiredError(
            f"slack: {method} refused the token ({error}); the user must reconnect Slack",
            reason=f"slack_{error}",
            metadata={"slack_error": error},
        )
    if error == "missing_scope":
        return SlackAPIError(
            "VENDOR_MISSING_SCOPE",
            f"slack: {method} needs a scope the token lacks{_scopes(body)}; add it to the app's "
            "user token scopes and reconnect",
            slack_error=error,
            status_code=status,
        )
    code = "VENDOR_SERVER_ERROR" if error in _TRANSIENT else "VENDOR_API_ERROR"
    return SlackAPIError(
        code, f"slack: {method} answered ok=false: {error}", slack_error=error, status_code=status
    )
