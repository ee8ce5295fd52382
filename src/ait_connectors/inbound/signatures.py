"""The checks every vendor's webhook scheme is made of: HMAC-SHA256 over bytes, compared in
constant time against one or more signatures, and a timestamp window.

A receiver (:mod:`.schemes`) says only where its signature, signed bytes and timestamp are;
these functions do the comparisons and raise :class:`~.receiver.WebhookRejected` (401) with
a message that names what is wrong, never a secret or the expected value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .receiver import WebhookRejected

__all__ = [
    "check_fresh",
    "check_hmac",
    "hmac_hex",
    "json_object",
    "parse_timestamp",
    "required_header",
]


def hmac_hex(secret: str | bytes, message: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of ``message`` keyed by ``secret`` (UTF-8 when text)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def required_header(headers: Mapping[str, str], name: str, vendor: str) -> str:
    """The value of header ``name`` (lower-case keys); a missing or empty one is a rejection."""
    value = headers.get(name.lower(), "").strip()
    if not value:
        raise WebhookRejected(f"{vendor}: the {name} header is missing; the request is refused")
    return value


def check_hmac(
    secrets: Sequence[str], message: bytes, signatures: Iterable[str], vendor: str
) -> None:
    """Pass when one of ``signatures`` (hex) is the HMAC of ``message`` under one of
    ``secrets`` (current and previous, during a rotation). Every pair is compared with
    :func:`hmac.compare_digest`; no secret configured is a rejection, not a pass."""
    given = [s.strip().lower().encode() for s in signatures if s.strip()]
    if not secrets:
        raise WebhookRejected(
            f"{vendor}: no webhook signing secret is configured for this connector config; "
            "set it with `ait-connectors configs update <config> --webhook-secret-stdin`"
        )
    if not given:
        raise WebhookRejected(f"{vendor}: the request carries no signature; it is refused")
    matched = False
    for secret in secrets:
        expected = hmac_hex(secret, message).encode()
        for signature in given:
            # No early exit: the time taken does not depend on which pair matched.
            matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise WebhookRejected(
            f"{vendor}: the signature does not match the body under the configured secret "
            "(a tampered body, or the wrong secret configured)"
        )


def parse_timestamp(value: Any, vendor: str, *, milliseconds: bool = False) -> float:
    """Epoch seconds from a header or body value (``milliseconds``: it counts those)."""
    if isinstance(value, bool):  # bool is an int: never a timestamp
        value = None
    try:
        number = float(value) if isinstance(value, int | float) else float(str(value).strip())
    except (TypeError, ValueError):
        raise WebhookRejected(
            f"{vendor}: the request timestamp is missing or not a number"
        ) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise WebhookRejected(f"{vendor}: the request timestamp is not a finite number")
    return number / 1000.0 if milliseconds else number


def check_fresh(timestamp: float, now: float, tolerance: float, vendor: str) -> None:
    """Reject a timestamp more than ``tolerance`` seconds from ``now`` (either way: a replayed
    old request, or a clock far ahead)."""
    if abs(now - timestamp) > tolerance:
        raise WebhookRejected(
            f"{vendor}: the request timestamp is {abs(now - timestamp):.0f} s from this "
            f"server's clock, more than the {tolerance:.0f} s allowed (a replay, or a clock "
            "out of sync)"
        )


def json_object(body: bytes, vendor: str) -> dict[str, Any]:
    """``body`` parsed as a JSON object (400 when it is not one). Call after verification."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(
            f"{vendor}: the body is not JSON", status=400, code="WEBHOOK_MALFORMED"
        ) from None
    if not isinstance(data, dict):
        raise WebhookRejected(
            f"{vendor}: the body is not a JSON object", status=400, code="WEBHOOK_MALFORMED"
        )
    return data
