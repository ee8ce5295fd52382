"""Small queries the sync tests use to look at what the engine stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from ait_connectors.storage.db import Database


async def rows(database: Database, sql: str, **params: Any) -> list[Any]:
    async with database.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def record_ids(
    database: Database, entity_type: str = "items", *, live: bool = True
) -> list[str]:
    where = " AND deleted_at IS NULL" if live else ""
    found = await rows(
        database,
        f"SELECT external_id FROM records WHERE entity_type = :t{where} ORDER BY external_id",
        t=entity_type,
    )
    return [r[0] for r in found]


async def deleted_ids(database: Database, entity_type: str = "items") -> list[str]:
    found = await rows(
        database,
        "SELECT external_id FROM records WHERE entity_type = :t AND deleted_at IS NOT NULL "
        "ORDER BY external_id",
        t=entity_type,
    )
    return [r[0] for r in found]


async def state(database: Database, entity_type: str = "items") -> Any:
    from sqlalchemy import select

    from ait_connectors.storage.sync_models import SyncStateRow

    async with database.connect() as conn:
        return (
            await conn.execute(
                select(SyncStateRow.__table__).where(
                    SyncStateRow.__table__.c.entity_type == entity_type
                )
            )
        ).one()


async def runs(database: Database, entity_type: str = "items") -> list[Any]:
    from sqlalchemy import select

    from ait_connectors.storage.sync_models import SyncRunRow

    table = SyncRunRow.__table__
    async with database.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(table)
                    .where(table.c.entity_type == entity_type)
                    .order_by(table.c.started_at)
                )
            ).all()
        )


async def write_marks(database: Database) -> dict[str, Any]:
    """Per record, something that changes whenever the row is physically rewritten."""
    if database.dialect == "postgresql":
        found = await rows(database, "SELECT external_id, xmin::text FROM records")
    else:
        found = await rows(database, "SELECT external_id, updated_at || last_seen_at FROM records")
    return dict((r[0], r[1]) for r in found)


def ids(*numbers: int) -> list[str]:
    return sorted(str(n) for n in numbers)
