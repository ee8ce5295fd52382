"""Opaque keyset cursors for :class:`~ait_connectors.sync.reader.RecordReader`.

A cursor names a position in one listing: the sort key and external id of a row, the direction
to read from it, and which listing it belongs to (the order, and a digest of the connection and
entity type). It is URL-safe base64 of that JSON plus a MAC: HMAC-SHA256 with the reader's key
when it has one (the gateway's, derived from the encryption key, so a cursor cannot be forged or
edited), else a plain SHA-256 (which catches garbled cursors only).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import AItError

__all__ = ["Cursor", "CursorCodec", "InvalidCursorError"]

_MAC_BYTES = 16
_MAX_LENGTH = 4096


class InvalidCursorError(AItError):
    """A cursor this reader did not issue, or issued for another listing."""

    def __init__(self, message: str) -> None:
        super().__init__("INVALID_CURSOR", message)


@dataclass(frozen=True)
class Cursor:
    """A position: the row's sort key (``None`` when it has none) and external id; ``before``
    reads the rows before it instead of after it."""

    order: str  # "<order_by>:<asc|desc>:<all|live>"
    value: Any
    external_id: str
    before: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _plain(value: Any) -> Any:
    return {"$dt": value.isoformat()} if isinstance(value, datetime) else value


def _typed(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$dt"}:
        return datetime.fromisoformat(value["$dt"])
    return value


class CursorCodec:
    """Encodes and checks cursors; ``key`` makes them unforgeable."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key

    def __repr__(self) -> str:
        return f"CursorCodec(signed={self._key is not None})"

    def _mac(self, body: bytes) -> bytes:
        if self._key is None:
            return hashlib.sha256(body).digest()[:_MAC_BYTES]
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, scope: str, cursor: Cursor) -> str:
        fields = [_scope_digest(scope), cursor.order, _plain(cursor.value)]
        body = json.dumps([*fields, cursor.external_id, cursor.before], separators=(",", ":"))
        return self._sign(body.encode())

    def _sign(self, body: bytes) -> str:
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def decode(self, scope: str, order: str, text: str) -> Cursor:
        """The cursor in ``text``, checked: issued here, for this listing and this order."""
        try:
            if len(text) > _MAX_LENGTH:
                raise ValueError("too long")
            body_text, _mac = text.split(".")  # the MAC is checked below, as text
            body = _unb64(body_text)
        except (ValueError, binascii.Error):
            raise InvalidCursorError(_GARBLED) from None
        # The whole text against the one this body encodes to: base64 decoding ignores the
        # unused low bits of a last character, so comparing decoded bytes would let an edited
        # cursor through now and then (1 edit in ~256 of its last two characters).
        if not hmac.compare_digest(text.encode(), self._sign(body).encode()):
            raise InvalidCursorError(_GARBLED)
        try:
            digest, issued_order, value, external_id, before = json.loads(body)
            value = _typed(value)
        except (ValueError, TypeError):
            raise InvalidCursorError(_GARBLED) from None
        if digest != _scope_digest(scope):
            raise InvalidCursorError(
                "This cursor belongs to another listing (another entity type, user or filter): "
                "use it only with the request that returned it."
            )
        if issued_order != order:
            by, direction, _deleted = str(issued_order).split(":")
            raise InvalidCursorError(
                f"This cursor was issued for order_by={by}"
                f"{' descending' if direction == 'desc' else ''}: repeat those parameters, or "
                "start again without a cursor."
            )
        return Cursor(issued_order, value, str(external_id), bool(before))


_GARBLED = (
    "The cursor is not one this API issued (garbled, truncated or edited): pass next_cursor or "
    "prev_cursor exactly as returned, or start again without a cursor."
)


def _scope_digest(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:16]
