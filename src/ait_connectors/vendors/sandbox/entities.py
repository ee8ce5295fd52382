"""The sandbox's entities and their mappers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from ...entities import Entity

__all__ = ["SandboxContact", "SandboxEvent", "map_contact", "map_event"]


class SandboxContact(Entity):
    """A contact of the sandbox CRM."""

    entity_type: ClassVar[str] = "contacts"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str
    name: str
    email: str
    company: str
    city: str
    tags: list[str]
    score: int
    created_at: datetime
    updated_at: datetime


class SandboxEvent(Entity):
    """Something that happened with a contact (a call, an email, a purchase…)."""

    entity_type: ClassVar[str] = "events"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str
    contact_id: str
    type: str
    occurred_at: datetime
    amount_cents: int | None = None
    summary: str


def map_contact(item: Any) -> SandboxContact:
    return SandboxContact.model_validate(item)


def map_event(item: Any) -> SandboxEvent:
    return SandboxEvent.model_validate(item)
