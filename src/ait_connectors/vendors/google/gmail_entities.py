"""Gmail entity models, validated from the API's message and label resources.

A message is read with ``format=metadata`` (headers, labels, snippet, ids, size; no body) or,
when bodies are asked for, ``format=full``, whose ``text/plain`` part (base64url) becomes
``body_text``. A stored payload validates by the fields' own names.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AliasPath, Field, model_validator

from ait_connectors.vendor import Entity

__all__ = ["METADATA_HEADERS", "GmailLabel", "GmailMessage", "plain_text"]

#: The headers asked for with ``format=metadata`` (and kept from ``format=full``).
METADATA_HEADERS = ("Subject", "From", "To", "Cc", "Date", "Message-ID")


def _part_text(part: dict[str, Any]) -> str | None:
    data = (part.get("body") or {}).get("data")
    if not isinstance(data, str):
        return None
    try:
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


def plain_text(payload: dict[str, Any] | None) -> str | None:
    """The first ``text/plain`` part of a message payload, decoded (depth-first)."""
    if not isinstance(payload, dict):
        return None
    if str(payload.get("mimeType", "")).startswith("text/plain"):
        text = _part_text(payload)
        if text is not None:
            return text
    for part in payload.get("parts") or ():
        text = plain_text(part) if isinstance(part, dict) else None
        if text is not None:
            return text
    return None


def _headers(payload: Any) -> dict[str, str]:
    wanted = {h.lower(): h for h in METADATA_HEADERS}
    found: dict[str, str] = {}
    for header in (payload or {}).get("headers") or () if isinstance(payload, dict) else ():
        name = str(header.get("name", "")).lower() if isinstance(header, dict) else ""
        if name in wanted and wanted[name] not in found:
            found[wanted[name]] = str(header.get("value", ""))
    return found


def _epoch_ms(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class GmailMessage(Entity):
    """A message of the mailbox (spam and trash included: ``label_ids`` tells them)."""

    entity_type: ClassVar[str] = "gmail_messages"
    # Gmail moves a message's historyId on every change; it says nothing a field does not.
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"history_id"})

    id: str
    thread_id: str | None = None
    history_id: str | None = None
    label_ids: list[str] = []
    snippet: str | None = None
    internal_date: datetime | None = None
    size_estimate: int | None = None
    subject: str | None = None
    sender: str | None = None  # the From header
    to: str | None = None
    cc: str | None = None
    date: str | None = None
    message_id: str | None = None
    body_text: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_api(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "threadId" not in data:
            return data  # a stored payload
        headers = _headers(data.get("payload"))
        full = isinstance(data.get("payload"), dict) and "parts" in data["payload"]
        return {
            "id": data.get("id"),
            "thread_id": data.get("threadId"),
            "history_id": data.get("historyId"),
            "label_ids": data.get("labelIds") or [],
            "snippet": data.get("snippet"),
            "internal_date": _epoch_ms(data.get("internalDate")),
            "size_estimate": data.get("sizeEstimate"),
            "subject": headers.get("Subject"),
            "sender": headers.get("From"),
            "to": headers.get("To"),
            "cc": headers.get("Cc"),
            "date": headers.get("Date"),
            "message_id": headers.get("Message-ID"),
            "body_text": plain_text(data.get("payload")) if full or data.get("raw") else None,
        }


def _at(*path: str) -> Any:
    return Field(None, validation_alias=AliasPath(*path))


class GmailLabel(Entity):
    """A label: system (``INBOX``, ``SPAM``…) or the user's own, with its counts."""

    entity_type: ClassVar[str] = "gmail_labels"

    id: str
    name: str | None = None
    type: str | None = None
    message_list_visibility: str | None = _at("messageListVisibility")
    label_list_visibility: str | None = _at("labelListVisibility")
    messages_total: int | None = _at("messagesTotal")
    messages_unread: int | None = _at("messagesUnread")
    threads_total: int | None = _at("threadsTotal")
    threads_unread: int | None = _at("threadsUnread")
    text_color: str | None = _at("color", "textColor")
    background_color: str | None = _at("color", "backgroundColor")
