"""The query filters and the full-text search on real SQLite and PostgreSQL, with records
written by the sync engine's own writer (so the search follows inserts, updates, deletions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ait_connectors.crypto import Cipher
from ait_connectors.entities import prepare_row
from ait_connectors.mcp_server.fields import FieldFilter, InvalidQueryError, build_filter
from ait_connectors.mcp_server.search import search_records
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.sync_state import ConnectionKey
from ait_connectors.sync.reader import InvalidCursorError, RecordReader
from ait_connectors.sync.writer import writer_for
from ait_connectors.vendors.sandbox.entities import SandboxContact
from support.databases import PostgresServer

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def contact(index: int, **changes: Any) -> SandboxContact:
    fields: dict[str, Any] = {
        "id": f"c-{index:03d}",
        "name": f"Person {index}",
        "email": f"p{index}@example.com",
        "company": "Acme" if index % 2 else "Globex",
        "city": ["Lyon", "Oslo", "Lima"][index % 3],
        "tags": ["vip"] if index % 4 == 0 else ["lead"],
        "score": index * 10,
        "created_at": datetime(2025, 1 + index // 28, 1 + index % 28, tzinfo=UTC),
        "updated_at": NOW,
    }
    return SandboxContact.model_validate({**fields, **changes})


async def _write(database: Database, key: ConnectionKey, entities: list[SandboxContact]) -> None:
    writer = writer_for(database.dialect, feed=False)
    async with database.transaction() as conn:
        await writer.upsert(conn, key, [prepare_row(e) for e in entities], generation=1, now=NOW)


@pytest.fixture
async def alice(database: Database, cipher: Cipher) -> ConnectionKey:
    config = await ConnectorConfigStore(database, cipher).create(
        "github", client_id="id", client_secret=None, redirect_uri="http://127.0.0.1/cb"
    )
    key = ConnectionKey(config.id, "alice", "contacts")
    await _write(database, key, [contact(i) for i in range(1, 21)])
    return key


async def _ids(
    database: Database, key: ConnectionKey, *filters: dict[str, Any], **kw: Any
) -> list[str]:
    where = build_filter(database.dialect, SandboxContact, [FieldFilter(**f) for f in filters])
    page = await RecordReader(database).page_raw(
        key.connector_config_id, key.user_id, key.entity_type, SandboxContact, where=where, **kw
    )
    return [external_id for external_id, _ in page.rows]


async def test_filters_on_typed_fields(database: Database, alice: ConnectionKey) -> None:
    def ids(*numbers: int) -> list[str]:
        return [f"c-{n:03d}" for n in numbers]

    assert await _ids(database, alice, {"field": "score", "op": "gt", "value": 170}) == ids(
        18, 19, 20
    )
    assert await _ids(database, alice, {"field": "score", "op": "lte", "value": "20"}) == ids(1, 2)
    assert await _ids(database, alice, {"field": "score", "op": "in", "value": [30, 50]}) == ids(
        3, 5
    )
    lyon_vip = [
        {"field": "city", "op": "eq", "value": "Lyon"},
        {"field": "tags", "op": "contains", "value": "vip"},
    ]
    assert await _ids(database, alice, *lyon_vip) == ids(12)
    assert await _ids(
        database, alice, {"field": "name", "op": "contains", "value": "SON 1"}
    ) == ids(1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19)
    since = {"field": "created_at", "op": "gte", "value": "2025-01-20T00:00:00+00:00"}
    assert await _ids(database, alice, since) == ids(19, 20)
    assert await _ids(
        database, alice, {"field": "company", "op": "ne", "value": "Acme"}, limit=2
    ) == ids(2, 4)
    # Ordered by a typed field, paged by a cursor that is bound to the filter.
    acme = {"field": "company", "op": "eq", "value": "Acme"}
    reader = RecordReader(database)
    where = build_filter(database.dialect, SandboxContact, [FieldFilter(**acme)])
    page = await reader.page_raw(
        alice.connector_config_id,
        "alice",
        "contacts",
        SandboxContact,
        where=where,
        order_by="score",
        descending=True,
        limit=3,
    )
    assert [e for e, _ in page.rows] == ids(19, 17, 15)
    other = build_filter(
        database.dialect, SandboxContact, [FieldFilter(field="city", value="Oslo")]
    )
    with pytest.raises(InvalidCursorError):
        await reader.page_raw(
            alice.connector_config_id,
            "alice",
            "contacts",
            SandboxContact,
            where=other,
            order_by="score",
            descending=True,
            cursor=page.next_cursor,
        )
    # Another user's listing under the same config: nothing.
    assert await _ids(database, ConnectionKey(alice.connector_config_id, "bob", "contacts")) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"field": "colour", "value": "red"}, "no field 'colour'; its fields are: id, name"),
        ({"field": "score", "op": "gt", "value": "lots"}, "'score' is int: 'lots' is not a int"),
        ({"field": "tags", "op": "eq", "value": "vip"}, "only 'contains' applies"),
        ({"field": "score", "op": "contains", "value": 1}, "'contains' applies to text and list"),
        ({"field": "score", "op": "in", "value": 5}, "'in' needs a list"),
        ({"field": "score", "op": "lt", "value": None}, "null value works with eq and ne only"),
    ],
)
def test_a_bad_filter_says_what_is_wrong(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message.replace("(", r"\(")):
        build_filter("sqlite", SandboxContact, [FieldFilter(**spec)])


async def test_search_follows_inserts_updates_and_deletes(
    database: Database, alice: ConnectionKey
) -> None:
    async def found(query: str, user: str = "alice") -> list[str]:
        return [hit.external_id for hit in await search_records(database, user, query)]

    assert await found("person 7") == ["c-007"]
    assert await found("globex") == [f"c-{n:03d}" for n in range(2, 21, 2)]
    assert await found("globex", user="bob") == []
    assert await found("nothing-like-this") == []
    assert await found('acme" OR "globex') == []  # quotes are words, never FTS operators

    await _write(database, alice, [contact(7, company="Initech"), contact(30, name="Zed Zulu")])
    assert await found("initech") == ["c-007"]
    assert "c-007" not in await found("acme")
    assert await found("zulu") == ["c-030"]

    writer = writer_for(database.dialect, feed=False)
    async with database.transaction() as conn:
        await writer.mark_deleted(conn, alice, ["c-030"], NOW)
    assert await found("zulu") == []
    await RecordReader(database).purge(alice.connector_config_id, "alice")
    assert await found("initech") == []


async def test_search_ranks_the_better_match_first(
    database: Database, alice: ConnectionKey
) -> None:
    await _write(
        database,
        alice,
        [contact(40, name="Lyon Lyon", city="Lyon", company="Lyon Ltd"), contact(41, city="Lyon")],
    )
    hits = await search_records(database, "alice", "lyon", limit=3)
    assert hits[0].external_id == "c-040" and hits[0].rank > hits[-1].rank


async def test_postgresql_search_uses_the_gin_index(postgres: PostgresServer) -> None:
    from sqlalchemy import text

    from ait_connectors.mcp_server.search import PG_DOCUMENT

    database = Database(postgres.url)
    async with database.transaction() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = (
            await conn.execute(
                text(
                    f"EXPLAIN SELECT 1 FROM records r WHERE {PG_DOCUMENT} @@ "
                    "websearch_to_tsquery('simple', 'acme')"
                )
            )
        ).all()
    await database.dispose()
    assert "ix_records_search" in "\n".join(row[0] for row in plan)
