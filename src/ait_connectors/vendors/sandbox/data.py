"""The sandbox's deterministic data set: the same few thousand records on every machine and run.

Each record is a pure function of its index (bytes of a SHA-256 pick names, dates and amounts), so
nothing is stored, any page can be served in O(page size), and two syncs see identical data.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["CONTACT_COUNT", "EVENT_COUNT", "contact", "contacts_page", "event", "events_page"]

CONTACT_COUNT = 2_500
EVENT_COUNT = 1_200

_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia",
          "Tim", "Margaret", "Linus", "Katherine", "Dennis", "Hedy", "John")  # fmt: skip
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
         "Perlman", "Berners-Lee", "Hamilton", "Torvalds", "Johnson", "Ritchie", "Lamarr",
         "McCarthy")  # fmt: skip
_COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell")
_CITIES = ("Lisbon", "Nairobi", "Osaka", "Lima", "Oslo", "Austin", "Pune", "Leeds")
_TAGS = ("customer", "lead", "partner", "vip", "newsletter", "churned")
_EVENT_TYPES = ("call", "email", "meeting", "purchase")


def _digest(kind: str, index: int) -> bytes:
    return hashlib.sha256(f"ait-sandbox/{kind}/{index}".encode()).digest()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def contact(index: int) -> dict[str, Any]:
    """Contact number ``index`` (1-based)."""
    d = _digest("contact", index)
    first, last = _FIRST[d[0] % len(_FIRST)], _LAST[d[1] % len(_LAST)]
    created = _EPOCH + timedelta(hours=index * 3)
    return {
        "id": f"c-{index:05d}",
        "name": f"{first} {last}",
        "email": f"{first}.{last}.{index}@example.com".lower(),
        "company": _COMPANIES[d[2] % len(_COMPANIES)],
        "city": _CITIES[d[3] % len(_CITIES)],
        "tags": sorted({_TAGS[d[4] % len(_TAGS)], _TAGS[d[5] % len(_TAGS)]}),
        "score": d[6] % 100,
        "created_at": _iso(created),
        "updated_at": _iso(created + timedelta(days=d[7] % 30)),
    }


def event(index: int) -> dict[str, Any]:
    """Event number ``index`` (1-based), attached to a contact."""
    d = _digest("event", index)
    kind = _EVENT_TYPES[d[0] % len(_EVENT_TYPES)]
    return {
        "id": f"e-{index:05d}",
        "contact_id": f"c-{1 + int.from_bytes(d[1:3], 'big') % CONTACT_COUNT:05d}",
        "type": kind,
        "occurred_at": _iso(_EPOCH + timedelta(minutes=index * 97)),
        "amount_cents": int.from_bytes(d[3:5], "big") % 50_000 if kind == "purchase" else None,
        "summary": f"{kind.title()} #{index}",
    }


def contacts_page(page: int, per_page: int) -> list[dict[str, Any]]:
    """Page ``page`` (1-based) of the contacts, in id order."""
    start = (page - 1) * per_page + 1
    return [contact(i) for i in range(start, min(start + per_page, CONTACT_COUNT + 1))]


def events_page(after: int, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` events whose index is greater than ``after``."""
    start = after + 1
    return [event(i) for i in range(start, min(start + limit, EVENT_COUNT + 1))]
