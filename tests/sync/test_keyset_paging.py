"""``RecordReader.page`` reads by keyset cursor (issue 10, the data API): no ``OFFSET`` in the
SQL, rows written between two pages neither skipped nor repeated, NULL sort keys and backward
paging exact, and a cursor that is garbled, forged or reused elsewhere refused clearly."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from ait_connectors.entities import Entity, prepare_row
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.sync_state import ConnectionKey
from ait_connectors.sync.reader import InvalidCursorError, RecordReader
from ait_connectors.sync.writer import writer_for
from ait_connectors.vendors.sandbox.data import contact
from ait_connectors.vendors.sandbox.data import event as sandbox_event
from ait_connectors.vendors.sandbox.entities import SandboxContact, SandboxEvent

KEY = b"k" * 32


@pytest.fixture
async def config_id(database: Database, cipher: Any) -> str:
    config = await ConnectorConfigStore(database, cipher).create(
        "sandbox", client_id="c", client_secret="s", redirect_uri="http://127.0.0.1/cb"
    )
    return config.id


async def write(
    database: Database, config_id: str, entities: list[Entity], user: str = "u1"
) -> None:
    key = ConnectionKey(config_id, user, entities[0].entity_type)
    async with database.transaction() as conn:
        await writer_for(database.dialect).upsert(
            conn, key, [prepare_row(e) for e in entities], generation=1, now=datetime.now(UTC)
        )


def contacts(*numbers: int) -> list[Entity]:
    return [SandboxContact.model_validate(contact(i)) for i in numbers]


async def read_all(reader: RecordReader, config_id: str, entity: type[Entity], **kw: Any) -> list:
    ids: list[str] = []
    cursor = None
    while True:
        page = await reader.page(config_id, "u1", entity.entity_type, entity, cursor=cursor, **kw)
        ids += [r.external_id for r in page.records]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


async def test_pages_by_keyset_and_never_offset(database: Database, config_id: str) -> None:
    await write(database, config_id, contacts(*range(1, 51)))
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        statements.append((statement, params))

    event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
    try:
        reader = RecordReader(database, key=KEY)
        assert await read_all(reader, config_id, SandboxContact, limit=7) == [
            f"c-{i:05d}" for i in range(1, 51)
        ]
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", seen)
    pages = [(s, p) for s, p in statements if "FROM records" in s]
    assert len(pages) == 8  # 50 rows, 7 a page; no count query unless asked
    for sql, params in pages:
        if database.dialect == "sqlite":
            # SQLAlchemy's SQLite dialect always writes "LIMIT ? OFFSET ?": the offset is 0.
            assert sql.rstrip().endswith("LIMIT ? OFFSET ?") and params[-1] == 0, sql
        else:
            assert "OFFSET" not in sql.upper(), sql
    assert all("external_id >" in sql for sql, _ in pages[1:])  # the keyset condition


async def test_rows_written_between_pages_are_neither_skipped_nor_repeated(
    database: Database, config_id: str
) -> None:
    await write(database, config_id, contacts(*range(10, 100, 10)))  # c-00010 … c-00090
    reader = RecordReader(database, key=KEY)
    first = await reader.page(config_id, "u1", "contacts", SandboxContact, limit=3)
    assert [r.external_id for r in first.records] == ["c-00010", "c-00020", "c-00030"]
    # Another writer inserts rows before and after the position, and deletes none.
    await write(database, config_id, contacts(5, 15, 35, 95))
    ids = [r.external_id for r in first.records]
    cursor = first.next_cursor
    while cursor is not None:
        page = await reader.page(
            config_id, "u1", "contacts", SandboxContact, limit=3, cursor=cursor
        )
        ids += [r.external_id for r in page.records]
        cursor = page.next_cursor
    # Every row that existed is there once; the new rows after the position too (an offset
    # would have repeated c-00030 after the two inserts before it).
    after = [f"c-{i:05d}" for i in (35, 40, 50, 60, 70, 80, 90, 95)]
    assert ids == ["c-00010", "c-00020", "c-00030", *after]
    assert len(ids) == len(set(ids))


async def test_null_sort_keys_descending_and_backwards(database: Database, config_id: str) -> None:
    # amount_cents is null for every event but purchases: many NULL ties, broken by id.
    events = [SandboxEvent.model_validate(sandbox_event(i)) for i in range(1, 41)]
    await write(database, config_id, events)  # type: ignore[arg-type]
    reader = RecordReader(database, key=KEY)
    for descending in (False, True):

        def rank(e: SandboxEvent) -> tuple[bool, int, str]:
            amount = e.amount_cents
            return (amount is not None, amount or 0, e.id)

        expected = [e.id for e in sorted(events, key=rank, reverse=descending)]  # type: ignore[arg-type]
        kw: dict[str, Any] = {"order_by": "amount_cents", "descending": descending, "limit": 6}
        assert await read_all(reader, config_id, SandboxEvent, **kw) == expected
        # Walk to the last page, then back to the first with prev_cursor.
        pages = [await reader.page(config_id, "u1", "events", SandboxEvent, **kw)]
        while pages[-1].next_cursor is not None:
            nxt = pages[-1].next_cursor
            pages.append(
                await reader.page(config_id, "u1", "events", SandboxEvent, cursor=nxt, **kw)
            )
        back = [pages[-1]]
        while back[-1].prev_cursor is not None:
            prv = back[-1].prev_cursor
            back.append(
                await reader.page(config_id, "u1", "events", SandboxEvent, cursor=prv, **kw)
            )
        ids = [[r.external_id for r in p.records] for p in pages]
        assert [[r.external_id for r in p.records] for p in reversed(back)] == ids


async def test_bad_cursors_are_refused_clearly(database: Database, config_id: str) -> None:
    await write(database, config_id, contacts(*range(1, 11)))
    await write(database, config_id, contacts(*range(1, 11)), user="u2")
    reader = RecordReader(database, key=KEY)
    page = await reader.page(config_id, "u1", "contacts", SandboxContact, limit=2)
    good = page.next_cursor
    assert good is not None

    def read(cursor: str, user: str = "u1", **kw: Any) -> Any:
        return reader.page(config_id, user, "contacts", SandboxContact, cursor=cursor, **kw)

    body, mac = good.split(".")
    raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[3] = "c-00008"  # jump ahead, keeping the old MAC
    edited = base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode() + "." + mac
    unsigned = RecordReader(database)  # no key: a plain digest, which anyone can compute
    forged = (await unsigned.page(config_id, "u1", "contacts", SandboxContact, limit=2)).next_cursor
    assert forged is not None
    for bad in ("garbage", "a.b.c", "!!!.???", edited, forged, good[:-3]):
        with pytest.raises(InvalidCursorError, match="not one this API issued"):
            await read(bad)
    with pytest.raises(InvalidCursorError, match="another listing"):
        await read(good, user="u2")
    with pytest.raises(InvalidCursorError, match="order_by=_external_id: repeat"):
        await read(good, descending=True)
    assert [r.external_id for r in (await read(good, limit=2)).records] == ["c-00003", "c-00004"]
