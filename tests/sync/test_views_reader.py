"""Typed views per entity type, and reading records back with paging and ordering."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sync_helpers import add_config, rows
from sync_mockvendor import MockVendor
from sync_testkit import FakeConnection, Item, MockService

from ait_connectors.entities import Entity, canonical_json, prepare_row
from ait_connectors.storage.db import Database
from ait_connectors.sync import RecordReader
from ait_connectors.sync.views import ensure_view


async def test_typed_view_exposes_entity_fields(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    svc = MockService(FakeConnection(vendor.url, config_id), database)
    await svc.sync(["items"])
    other = await add_config(database, provider="otherhub")  # another provider's records
    await MockService(FakeConnection(vendor.url, other), database).sync(["items"])
    vendor.items.pop(0)
    await svc.sync(["items"])  # item 1 is deleted: not in the view

    found = await rows(
        database,
        "SELECT id, name, score, active, updated_at, owner, tags, _external_id, _user_id "
        "FROM mockhub_items WHERE id IN (2, 3) ORDER BY id",
    )
    count = await rows(database, "SELECT COUNT(*) FROM mockhub_items")
    assert count[0][0] == 44
    two, three = found
    assert two.id == 2
    assert two.name == "item-2"
    assert two.score == 3.0
    assert two._external_id == "2"
    assert two._user_id == "user-1"
    assert bool(two.active) is True
    assert bool(three.active) is False
    owner = two.owner if isinstance(two.owner, dict) else json.loads(two.owner)
    tags = two.tags if isinstance(two.tags, list) else json.loads(two.tags)
    assert owner == {"login": "owner2", "id": 102}
    assert tags == ["t2", "x"]
    if database.dialect == "postgresql":
        assert isinstance(two.id, int)
        assert isinstance(two.active, bool)
        assert two.updated_at == datetime(2024, 1, 3, tzinfo=UTC)
    else:
        assert two.updated_at.startswith("2024-01-03T00:00:00")
    # Filtering and ordering happen in SQL on typed columns.
    top = await rows(database, "SELECT id FROM mockhub_items ORDER BY score DESC LIMIT 2")
    assert [r[0] for r in top] == [45, 44]


async def test_views_are_idempotent_and_follow_the_model(database: Database) -> None:
    class Thing(Entity):
        id: int
        label: str

    class ThingV2(Entity):
        id: int
        label: str
        weight: float | None = None

    assert await ensure_view(database, "mockhub", "things", Thing) == "mockhub_things"
    assert await ensure_view(database, "mockhub", "things", Thing) == "mockhub_things"
    fresh = Database(database.url)  # another process: finds the view up to date
    try:
        await ensure_view(fresh, "mockhub", "things", Thing)
        await ensure_view(fresh, "mockhub", "things", ThingV2)  # replaced with the new column
    finally:
        await fresh.dispose()
    assert await rows(database, "SELECT id, label, weight FROM mockhub_things") == []
    with pytest.raises(ValueError, match="valid view name"):
        await ensure_view(database, "mockhub", "bad name; drop", Thing)


async def test_reader_pages_and_orders_by_a_field(
    database: Database, config_id: str, vendor: MockVendor
) -> None:
    svc = MockService(FakeConnection(vendor.url, config_id), database)
    await svc.sync(["items"])

    page1 = await svc.read("items", order_by="score", descending=True, limit=10, count=True)
    assert page1.total == 45
    assert page1.next_cursor is not None and page1.prev_cursor is None
    assert [e.id for e in page1.items] == list(range(45, 35, -1))  # type: ignore[attr-defined]
    assert all(isinstance(e, Item) for e in page1.items)
    page = page1
    for _ in range(4):
        assert page.next_cursor is not None
        page = await svc.read(
            "items", order_by="score", descending=True, limit=10, cursor=page.next_cursor
        )
    assert [e.id for e in page.items] == [5, 4, 3, 2, 1]  # type: ignore[attr-defined]
    assert page.next_cursor is None and page.total is None

    by_name = await svc.read("items", order_by="name", limit=3)
    assert [e.name for e in by_name.items] == ["item-1", "item-10", "item-11"]  # type: ignore[attr-defined]
    by_time = await svc.read("items", order_by="updated_at", limit=2)
    assert [e.id for e in by_time.items] == [28, 1]  # type: ignore[attr-defined]
    by_meta = await svc.read("items", order_by="_updated_at", limit=2)
    assert [e.id for e in by_meta.items] == [1, 10]  # type: ignore[attr-defined]

    reader = RecordReader(database)
    one = await reader.get(config_id, "user-1", "items", Item, "7")
    assert one is not None
    assert one.full_name == "owner0/item-7"
    assert await reader.get(config_id, "user-2", "items", Item, "7") is None
    assert await reader.count(config_id, "user-1", "items") == 45
    with pytest.raises(ValueError, match="cannot order"):
        await svc.read("items", order_by="payload; drop table records")

    assert await reader.purge(config_id, "user-1") == 45
    assert await reader.count(config_id, "user-1", "items") == 0
    again = await svc.sync(["items"])
    assert again[0].added == 45  # purge also reset the sync state


def test_checksum_is_canonical_and_ignores_volatile_fields() -> None:
    base = dict(
        id=1,
        name="n",
        full_name="o/n",
        owner={"login": "o", "id": 2},
        score=1.0,
        active=True,
        tags=["a"],
        updated_at="2024-01-01T00:00:00Z",
    )
    a = Item.model_validate({**base, "views": 1})
    b = Item.model_validate({**base, "views": 99})
    c = Item.model_validate({**base, "name": "other"})
    assert a.checksum() == b.checksum() != c.checksum()
    assert prepare_row(a).checksum == a.checksum()
    assert prepare_row(a).payload != prepare_row(b).payload  # the payload keeps every field
    assert (
        canonical_json({"b": 1, "a": {"d": [1, 2], "c": None}})
        == '{"a":{"c":null,"d":[1,2]},"b":1}'
    )
    assert a.external_id == "1"
