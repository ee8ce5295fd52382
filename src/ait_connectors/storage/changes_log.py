"""The changes feed's storage primitives: positions from the counter row, change rows.

Why positions are taken this way (and why a consumer can never skip one) is explained in
:mod:`ait_connectors.sync.changes`; the sync engine, the purge and the deletion of a connector
config write through these.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from .types import UTCDateTime

__all__ = [
    "DELETE",
    "UPSERT",
    "advance",
    "append_changes",
    "reserve",
    "take_range",
    "tombstone_config",
]

UPSERT = "upsert"
DELETE = "delete"
_RANGE = "ait_feed_range"  # positions reserved in the connection's current transaction
# An upsert rather than an UPDATE: the migration creates the row, but a database emptied table by
# table (TRUNCATE in tests) must still work. Same SQL on both databases.
_TAKE = (
    "INSERT INTO changes_feed (id, position, pruned_through) VALUES (1, :n, 0) "
    "ON CONFLICT (id) DO UPDATE SET position = changes_feed.position + excluded.position "
    "RETURNING position"
)


async def reserve(conn: AsyncConnection, count: int) -> int:
    """Take ``count`` positions (``0``: just the lock); return the last position before them.

    Holds the counter row until the transaction ends: see :mod:`ait_connectors.sync.changes`.
    """
    top = (
        await conn.execute(
            text(_TAKE),
            {"n": count},
        )
    ).scalar_one()
    base = int(top) - count
    if count:
        _note_range(conn, base + 1, int(top))
    return base


async def advance(conn: AsyncConnection, base: int, count: int) -> None:
    """Take ``count`` more positions after ``base`` (the counter is already held)."""
    if count:
        await conn.execute(
            text("UPDATE changes_feed SET position = position + :n WHERE id = 1"), {"n": count}
        )
        _note_range(conn, base + 1, base + count)


def _note_range(conn: AsyncConnection, first: int, last: int) -> None:
    info = conn.info
    seen = info.get(_RANGE)
    info[_RANGE] = (first, last) if seen is None else (min(seen[0], first), max(seen[1], last))


def take_range(conn: AsyncConnection) -> tuple[int, int] | None:
    """The positions reserved on ``conn`` since the last call (call it before a transaction to
    forget a rolled-back one's, and after its commit to learn what it wrote)."""
    found = conn.info.pop(_RANGE, None)
    return None if found is None else (int(found[0]), int(found[1]))


async def append_changes(
    conn: AsyncConnection, dialect: str, rows: Sequence[dict[str, Any]], now: datetime
) -> None:
    """Insert change rows: dicts with ``pos``, ``c``, ``u``, ``t``, ``eid``, ``op`` and
    ``payload`` (the record's JSON text, or ``None``), all at ``now``."""
    if not rows:
        return
    payload = "CAST(:payload AS jsonb)" if dialect == "postgresql" else ":payload"
    statement = text(
        "INSERT INTO changes (position, connector_config_id, user_id, entity_type, external_id, "
        f"operation, payload, changed_at) VALUES (:pos, :c, :u, :t, :eid, :op, {payload}, :now)"
    ).bindparams(bindparam("now", type_=UTCDateTime()))
    await conn.execute(statement, [{**row, "now": now} for row in rows])


async def tombstone_config(conn: AsyncConnection, config_id: str, now: datetime) -> int:
    """A delete change for every live record of a connector config about to be deleted (its
    records go with it by cascade); returns how many. One statement, server-side."""
    base = await reserve(conn, 0)
    result = await conn.execute(
        text(
            "INSERT INTO changes (position, connector_config_id, user_id, entity_type, "
            "external_id, operation, payload, changed_at) "
            "SELECT :base + row_number() OVER (ORDER BY user_id, entity_type, external_id), "
            "connector_config_id, user_id, entity_type, external_id, 'delete', NULL, :now "
            "FROM records WHERE connector_config_id = :c AND deleted_at IS NULL"
        ).bindparams(bindparam("now", type_=UTCDateTime())),
        {"base": base, "c": config_id, "now": now},
    )
    count = int(result.rowcount)
    await advance(conn, base, count)
    return count
