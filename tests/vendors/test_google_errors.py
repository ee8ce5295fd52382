"""Google's error bodies and the reason hooks product modules register (no server needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ait_connectors.vendor import RateLimitError, VendorResponseError
from ait_connectors.vendors.google.auth import scope_granted, scopes_for
from ait_connectors.vendors.google.base import Backoff
from ait_connectors.vendors.google.errors import (
    REASON_HOOKS,
    GoogleError,
    hooked,
    parse_google_error,
    register_reason,
)
from ait_connectors.vendors.google.service import PRODUCT_SCOPES


def body(**error: object) -> bytes:
    return json.dumps({"error": error}).encode()


def test_both_error_shapes_are_read() -> None:
    old = parse_google_error(403, body(code=403, errors=[{"reason": "rateLimitExceeded"}]))
    assert old.has("rateLimitExceeded") and old.status is None
    new = parse_google_error(
        400,
        body(
            code=400,
            status="FAILED_PRECONDITION",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "EXPIRED_SYNC_TOKEN",
                }
            ],
        ),
    )
    assert new.has("expired_sync_token") and new.status == "FAILED_PRECONDITION"
    assert parse_google_error(502, b"<html>bad gateway</html>").reasons == frozenset()


def test_a_registered_reason_decides_first() -> None:
    reset = datetime.now(UTC) + timedelta(hours=9)

    def daily(error: GoogleError, exc: Exception) -> Exception | None:
        return RateLimitError("google", reset, "youtube: the daily quota is spent")

    # A reason of its own: the real quotaExceeded hook (quota.py) stays registered.
    register_reason("exampleQuirk", daily)
    try:
        error = parse_google_error(403, body(code=403, errors=[{"reason": "exampleQuirk"}]))
        found = hooked(error, VendorResponseError("VENDOR_CLIENT_ERROR", "403"))
        assert isinstance(found, RateLimitError) and found.reset_at == reset
        other = parse_google_error(403, body(code=403, errors=[{"reason": "forbidden"}]))
        assert hooked(other, VendorResponseError("VENDOR_CLIENT_ERROR", "403")) is None
    finally:
        REASON_HOOKS.pop("examplequirk", None)


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    backoff = Backoff(rng=lambda: 0.5)
    assert [backoff.next_delay() for _ in range(8)] == [1.5, 2.5, 4.5, 8.5, 16.5, 32.5, 32.5, 32.5]
    backoff.reset()
    assert backoff.next_delay() == 1.5


def test_scopes() -> None:
    calendar = "https://www.googleapis.com/auth/calendar.readonly"
    assert scope_granted(calendar, f"openid {calendar}")
    assert scope_granted(calendar, "https://www.googleapis.com/auth/calendar")  # broader
    assert not scope_granted(calendar, "https://www.googleapis.com/auth/contacts.readonly")
    assert scopes_for(["events"], PRODUCT_SCOPES, base=["openid"]) == ["openid", calendar]
    with pytest.raises(KeyError, match="no entity type 'nope'"):
        scopes_for(["nope"], PRODUCT_SCOPES)
