"""Bulk writes of records and of the scan bookkeeping, one implementation per database.

Records are written only when new, changed (checksum differs) or coming back after a deletion:

- PostgreSQL: the page's keys are looked up first (one indexed query), then only the new and
  changed rows are sent with ``COPY`` into a temporary table and merged with one
  ``INSERT … ON CONFLICT … DO UPDATE … WHERE records.checksum IS DISTINCT FROM excluded.checksum``
  whose ``RETURNING (xmax = 0)`` tells inserts from updates. Unchanged rows never reach the
  server, so PostgreSQL does not even lock them. The SQL guard acts only when another writer
  commits the same row between the lookup and the merge (the engine's own runs are serialised by
  the sync lock): it then keeps the row from being rewritten and the counts exact
  (``tests/sync/test_writer_merge_guard.py``).
- SQLite: the same lookup, then one ``executemany`` upsert with
  ``WHERE records.checksum IS NOT excluded.checksum``.

Every method runs inside the caller's transaction (the engine commits a page's records, its
``sync_pages`` row and the advanced cursor together).
"""

from __future__ import annotations

import json
import weakref
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..entities import EntityRow
from ..storage.sync_state import ConnectionKey, RunCounts
from ..storage.types import UTCDateTime

__all__ = ["ConnectionKey", "RecordWriter", "writer_for"]


def _chunks(rows: Sequence[EntityRow], size: int) -> list[Sequence[EntityRow]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


class RecordWriter(ABC):
    """Dialect-specific bulk statements; all run in the caller's transaction."""

    dialect: str
    #: The external ids the pages of generation ``:g`` of state ``:s`` held (a subquery for
    #: :meth:`sweep`: each database reads the JSON ``keys`` arrays with its own functions).
    _SEEN_KEYS: str

    @abstractmethod
    async def existing(
        self, conn: AsyncConnection, key: ConnectionKey, ids: Sequence[str]
    ) -> dict[str, tuple[str, bool]]:
        """``external_id -> (checksum, is_deleted)`` for the stored ones among ``ids``."""

    @abstractmethod
    async def _merge(
        self,
        conn: AsyncConnection,
        key: ConnectionKey,
        rows: Sequence[EntityRow],
        *,
        generation: int,
        now: datetime,
        compare: bool,
        existing: dict[str, tuple[str, bool]],
    ) -> tuple[int, int]:
        """Upsert ``rows``; return (inserted, updated) exactly."""

    async def upsert(
        self,
        conn: AsyncConnection,
        key: ConnectionKey,
        rows: Sequence[EntityRow],
        *,
        generation: int,
        now: datetime,
        compare: bool = True,
        batch_size: int = 1000,
    ) -> RunCounts:
        """Write new, changed and restored rows (all rows when ``compare`` is false).

        ``rows`` must have distinct external ids. Counts are exact: ``added + updated +
        unchanged == len(rows)``.
        """
        if not rows:
            return RunCounts()
        # The lookup also serves compare=False: it tells inserts from updates on SQLite.
        existing = await self.existing(conn, key, [r.external_id for r in rows])
        if compare:
            todo = [
                r
                for r in rows
                if (found := existing.get(r.external_id)) is None
                or found[0] != r.checksum
                or found[1]
            ]
        else:
            todo = list(rows)
        added = updated = 0
        for chunk in _chunks(todo, batch_size):
            inserted, changed = await self._merge(
                conn,
                key,
                chunk,
                generation=generation,
                now=now,
                compare=compare,
                existing=existing,
            )
            added += inserted
            updated += changed
        return RunCounts(added=added, updated=updated, unchanged=len(rows) - added - updated)

    # -- scan bookkeeping (same SQL on both databases except where noted) ------------------

    async def add_page(
        self,
        conn: AsyncConnection,
        state_id: str,
        generation: int,
        seq: int,
        fingerprint: str | None,
        keys: Sequence[str],
    ) -> None:
        """Record the external ids one page held (for the sweep) and its fingerprint."""
        await conn.execute(
            text(
                "INSERT INTO sync_pages (state_id, generation, seq, fingerprint, item_count, keys) "
                f"VALUES (:s, :g, :seq, :fp, :n, {self._json_param('keys')})"
            ),
            {
                "s": state_id,
                "g": generation,
                "seq": seq,
                "fp": fingerprint,
                "n": len(keys),
                "keys": json.dumps(list(keys), separators=(",", ":")),
            },
        )

    @abstractmethod
    async def carry_pages(
        self,
        conn: AsyncConnection,
        state_id: str,
        ref_generation: int,
        generation: int,
        pages: Sequence[tuple[int, str]],
    ) -> int:
        """Copy the rows of unchanged pages ``(seq, fingerprint)`` from the reference generation
        into the current one, server-side (the keys never travel). Returns rows copied."""

    async def load_fingerprints(
        self, conn: AsyncConnection, state_id: str, generation: int
    ) -> tuple[dict[str, int], int]:
        """``fingerprint -> item count`` of the pages of one generation, and its page count."""
        result = await conn.execute(
            text(
                "SELECT fingerprint, item_count FROM sync_pages "
                "WHERE state_id = :s AND generation = :g"
            ),
            {"s": state_id, "g": generation},
        )
        pages = 0
        found: dict[str, int] = {}
        for fp, n in result:
            pages += 1
            if fp is not None:
                found[str(fp)] = int(n)
        return found, pages

    async def drop_pages(
        self, conn: AsyncConnection, state_id: str, *, keep: Sequence[int] = ()
    ) -> None:
        """Forget the pages of every generation but ``keep``."""
        if keep:
            await conn.execute(
                text(
                    "DELETE FROM sync_pages WHERE state_id = :s AND generation NOT IN :keep"
                ).bindparams(bindparam("keep", expanding=True)),
                {"s": state_id, "keep": list(keep)},
            )
        else:
            await conn.execute(text("DELETE FROM sync_pages WHERE state_id = :s"), {"s": state_id})

    async def sweep(
        self,
        conn: AsyncConnection,
        key: ConnectionKey,
        state_id: str,
        generation: int,
        now: datetime,
    ) -> int:
        """Mark deleted every live record no page of ``generation`` held; return how many."""
        result = await conn.execute(
            text(
                "UPDATE records SET deleted_at = :now "
                "WHERE connector_config_id = :c AND user_id = :u AND entity_type = :t "
                f"AND deleted_at IS NULL AND external_id NOT IN ({self._SEEN_KEYS})"
            ).bindparams(bindparam("now", type_=UTCDateTime())),
            {
                "s": state_id,
                "g": generation,
                "now": now,
                "c": key.connector_config_id,
                "u": key.user_id,
                "t": key.entity_type,
            },
        )
        return int(result.rowcount)

    async def mark_deleted(
        self, conn: AsyncConnection, key: ConnectionKey, external_ids: Sequence[str], now: datetime
    ) -> int:
        """Mark deleted the live records the vendor reported deleted; return how many."""
        if not external_ids:
            return 0
        result = await conn.execute(
            text(
                "UPDATE records SET deleted_at = :now "
                "WHERE connector_config_id = :c AND user_id = :u AND entity_type = :t "
                "AND deleted_at IS NULL AND external_id IN :ids"
            ).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("ids", expanding=True)),
            {
                "now": now,
                "ids": list(external_ids),
                "c": key.connector_config_id,
                "u": key.user_id,
                "t": key.entity_type,
            },
        )
        return int(result.rowcount)

    @staticmethod
    def _json_param(name: str) -> str:
        return f":{name}"


class PostgresWriter(RecordWriter):
    dialect = "postgresql"

    _STAGE = (
        "CREATE TEMP TABLE IF NOT EXISTS ait_records_stage "
        "(external_id text NOT NULL, checksum text NOT NULL, payload jsonb NOT NULL) "
        "ON COMMIT DELETE ROWS"
    )
    _MERGE = (
        "INSERT INTO records AS r (connector_config_id, user_id, entity_type, external_id, "
        "payload, checksum, scan_generation, first_seen_at, last_seen_at, updated_at, deleted_at) "
        "SELECT %(c)s, %(u)s, %(t)s, s.external_id, s.payload, s.checksum, %(g)s::integer, "
        "%(now)s::timestamptz, %(now)s::timestamptz, %(now)s::timestamptz, NULL "
        "FROM ait_records_stage s "
        "ON CONFLICT (connector_config_id, user_id, entity_type, external_id) DO UPDATE SET "
        "payload = EXCLUDED.payload, checksum = EXCLUDED.checksum, "
        "scan_generation = EXCLUDED.scan_generation, last_seen_at = EXCLUDED.last_seen_at, "
        "updated_at = EXCLUDED.updated_at, deleted_at = NULL "
        "{where}"
        "RETURNING (xmax = 0) AS inserted"
    )
    _WHERE = "WHERE r.checksum IS DISTINCT FROM EXCLUDED.checksum OR r.deleted_at IS NOT NULL "
    _SEEN_KEYS = (
        "  SELECT jsonb_array_elements_text(keys) FROM sync_pages "
        "  WHERE state_id = :s AND generation = :g"
    )

    @staticmethod
    async def _driver(conn: AsyncConnection) -> Any:
        # psycopg's own connection, inside the transaction SQLAlchemy opened: COPY is not
        # reachable through SQLAlchemy.
        raw = await conn.get_raw_connection()
        return raw.driver_connection

    async def existing(
        self, conn: AsyncConnection, key: ConnectionKey, ids: Sequence[str]
    ) -> dict[str, tuple[str, bool]]:
        pg = await self._driver(conn)
        async with pg.cursor() as cur:
            # One index probe per key, whatever the statistics say: before the table has been
            # analysed the planner believes a connection has one record, and both
            # "external_id = ANY(…)" and a plain join then read every record of the
            # connection (a cost that grows with the table). LATERAL … LIMIT 1 cannot.
            await cur.execute(
                "SELECT k.external_id, r.checksum, r.deleted_at IS NOT NULL "
                "FROM unnest(%s::text[]) AS k(external_id) CROSS JOIN LATERAL ("
                "  SELECT checksum, deleted_at FROM records "
                "  WHERE connector_config_id = %s AND user_id = %s AND entity_type = %s "
                "  AND external_id = k.external_id LIMIT 1) AS r",
                (list(ids), key.connector_config_id, key.user_id, key.entity_type),
            )
            return {eid: (checksum, deleted) for eid, checksum, deleted in await cur.fetchall()}

    async def _merge(
        self,
        conn: AsyncConnection,
        key: ConnectionKey,
        rows: Sequence[EntityRow],
        *,
        generation: int,
        now: datetime,
        compare: bool,
        existing: dict[str, tuple[str, bool]],
    ) -> tuple[int, int]:
        from psycopg.errors import UndefinedTable  # loaded with the driver: not on SQLite

        pg = await self._driver(conn)
        parts: list[str] = []
        for row in rows:
            payload = row.payload
            if "\\u0000" in payload:
                # jsonb cannot hold NUL characters; the checksum still covers the original.
                payload = payload.replace("\\u0000", "\\ufffd")
            # COPY text format: backslash is the escape character. JSON text has no raw tabs or
            # newlines (json escapes them), so only backslashes need doubling in the payload.
            parts.append(
                f"{_copy_escape(row.external_id)}\t{row.checksum}\t"
                f"{payload.replace(chr(92), chr(92) * 2)}\n"
            )
        raw = await conn.get_raw_connection()
        _track_stage(conn.sync_engine)
        async with pg.cursor() as cur:
            if not raw.info.get(_STAGE_READY):
                await cur.execute(self._STAGE)
                raw.info[_STAGE_PENDING] = True
            elif raw.info.get(_STAGE_USED):
                # A second chunk in the same transaction: the stage still holds the first.
                await cur.execute("DELETE FROM ait_records_stage")
            raw.info[_STAGE_USED] = True
            try:
                async with cur.copy(
                    "COPY ait_records_stage (external_id, checksum, payload) FROM STDIN"
                ) as copy:
                    await copy.write("".join(parts))
            except UndefinedTable:
                # The transaction that created the stage did not commit after all: make the
                # next transaction create it again, and fail this one.
                raw.info.pop(_STAGE_READY, None)
                raise
            await cur.execute(
                self._MERGE.format(where=self._WHERE if compare else ""),
                {
                    "c": key.connector_config_id,
                    "u": key.user_id,
                    "t": key.entity_type,
                    "g": generation,
                    "now": now,
                },
            )
            flags = await cur.fetchall()
        inserted = sum(1 for (flag,) in flags if flag)
        return inserted, len(flags) - inserted

    @staticmethod
    def _json_param(name: str) -> str:
        return f"CAST(:{name} AS jsonb)"

    async def carry_pages(
        self,
        conn: AsyncConnection,
        state_id: str,
        ref_generation: int,
        generation: int,
        pages: Sequence[tuple[int, str]],
    ) -> int:
        if not pages:
            return 0
        result = await conn.execute(
            text(
                "INSERT INTO sync_pages (state_id, generation, seq, fingerprint, item_count, keys) "
                "SELECT DISTINCT ON (x.seq) p.state_id, :g, x.seq, p.fingerprint, p.item_count, "
                "p.keys FROM unnest(CAST(:seqs AS integer[]), CAST(:fps AS varchar[])) "
                "AS x(seq, fp) JOIN sync_pages p ON p.state_id = :s AND p.generation = :ref "
                "AND p.fingerprint = x.fp ORDER BY x.seq"
            ),
            {
                "s": state_id,
                "g": generation,
                "ref": ref_generation,
                "seqs": [seq for seq, _ in pages],
                "fps": [fp for _, fp in pages],
            },
        )
        return int(result.rowcount)

    async def sweep(
        self,
        conn: AsyncConnection,
        key: ConnectionKey,
        state_id: str,
        generation: int,
        now: datetime,
    ) -> int:
        # NOT IN over the seen keys runs as one hashed subplan (linear). PostgreSQL picks that
        # only while it expects the key set to fit in work_mem, so give this transaction room;
        # an anti-join planned from stale statistics can turn quadratic instead.
        await conn.execute(text("SET LOCAL work_mem = '256MB'"))
        return await super().sweep(conn, key, state_id, generation, now)


class SqliteWriter(RecordWriter):
    dialect = "sqlite"

    _UPSERT = (
        "INSERT INTO records (connector_config_id, user_id, entity_type, external_id, payload, "
        "checksum, scan_generation, first_seen_at, last_seen_at, updated_at, deleted_at) "
        "VALUES (:c, :u, :t, :eid, :payload, :checksum, :g, :now, :now, :now, NULL) "
        "ON CONFLICT (connector_config_id, user_id, entity_type, external_id) DO UPDATE SET "
        "payload = excluded.payload, checksum = excluded.checksum, "
        "scan_generation = excluded.scan_generation, last_seen_at = excluded.last_seen_at, "
        "updated_at = excluded.updated_at, deleted_at = NULL "
        "{where}"
    )
    _WHERE = "WHERE records.checksum IS NOT excluded.checksum OR records.deleted_at IS NOT NULL"
    _SEEN_KEYS = (
        "  SELECT j.value FROM sync_pages p, json_each(p.keys) j "
        "  WHERE p.state_id = :s AND p.generation = :g"
    )

    async def existing(
        self, conn: AsyncConnection, key: ConnectionKey, ids: Sequence[str]
    ) -> dict[str, tuple[str, bool]]:
        result = await conn.execute(
            text(
                "SELECT external_id, checksum, deleted_at IS NOT NULL FROM records "
                "WHERE connector_config_id = :c AND user_id = :u AND entity_type = :t "
                "AND external_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {
                "c": key.connector_config_id,
                "u": key.user_id,
                "t": key.entity_type,
                "ids": list(ids),
            },
        )
        return {str(eid): (str(checksum), bool(deleted)) for eid, checksum, deleted in result}

    async def _merge(
        self,
        conn: AsyncConnection,
        key: ConnectionKey,
        rows: Sequence[EntityRow],
        *,
        generation: int,
        now: datetime,
        compare: bool,
        existing: dict[str, tuple[str, bool]],
    ) -> tuple[int, int]:
        statement = text(self._UPSERT.format(where=self._WHERE if compare else "")).bindparams(
            bindparam("now", type_=UTCDateTime())
        )
        params = [
            {
                "c": key.connector_config_id,
                "u": key.user_id,
                "t": key.entity_type,
                "eid": row.external_id,
                "payload": row.payload,
                "checksum": row.checksum,
                "g": generation,
                "now": now,
            }
            for row in rows
        ]
        await conn.execute(statement, params)
        # The lookup ran in this same transaction, so it says exactly which rows existed (and
        # every row sent differs from its stored version); executemany returns no rows.
        updated = sum(1 for row in rows if row.external_id in existing)
        return len(rows) - updated, updated

    async def carry_pages(
        self,
        conn: AsyncConnection,
        state_id: str,
        ref_generation: int,
        generation: int,
        pages: Sequence[tuple[int, str]],
    ) -> int:
        if not pages:
            return 0
        result = await conn.execute(
            text(
                "INSERT INTO sync_pages (state_id, generation, seq, fingerprint, item_count, keys) "
                "SELECT state_id, :g, :seq, fingerprint, item_count, keys FROM sync_pages "
                "WHERE state_id = :s AND generation = :ref AND fingerprint = :fp LIMIT 1"
            ),
            [
                {"s": state_id, "g": generation, "ref": ref_generation, "seq": seq, "fp": fp}
                for seq, fp in pages
            ],
        )
        return int(result.rowcount)


# The staging table is a temporary table, created once per database session (not per page:
# creating, or truncating, a table costs catalog work and file operations on every page). It is
# emptied by ON COMMIT DELETE ROWS. Creation is transactional, so a connection counts as having
# the table only once the transaction that created it commits; the flags live in the pooled
# connection's ``info`` and follow it across checkouts.
_STAGE_READY = "ait_records_stage_ready"
_STAGE_PENDING = "ait_records_stage_pending"
_STAGE_USED = "ait_records_stage_used"
_TRACKED: weakref.WeakSet[Engine] = weakref.WeakSet()


def _track_stage(engine: Engine) -> None:
    if engine in _TRACKED:
        return

    def on_commit(conn: Connection) -> None:
        info = conn.connection.info
        info.pop(_STAGE_USED, None)
        if info.pop(_STAGE_PENDING, False):
            info[_STAGE_READY] = True

    def on_rollback(conn: Connection) -> None:
        info = conn.connection.info
        info.pop(_STAGE_USED, None)
        info.pop(_STAGE_PENDING, None)

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_rollback)
    _TRACKED.add(engine)


def _copy_escape(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


_WRITERS: dict[str, RecordWriter] = {"postgresql": PostgresWriter(), "sqlite": SqliteWriter()}


def writer_for(dialect: str) -> RecordWriter:
    """The writer for ``Database.dialect``."""
    return _WRITERS[dialect]
