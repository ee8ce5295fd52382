"""The sandbox's entities (each model is its own mapper)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from ...vendor import Entity

__all__ = ["SandboxContact", "SandboxEvent"]


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
