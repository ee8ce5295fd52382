"""Reading synced records back as entity models, with paging and ordering by a field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy import cast as cast_
from sqlalchemy.sql import literal_column

from ..entities import Entity
from ..storage.db import Database
from ..storage.sync_models import RecordRow, SyncStateRow
from . import changes
from .cursors import Cursor, CursorCodec, InvalidCursorError

__all__ = [
    "InvalidCursorError",
    "JsonPage",
    "RawPage",
    "RecordFilter",
    "RecordPage",
    "RecordReader",
    "StoredRecord",
]

E = TypeVar("E", bound=Entity)
R = cast(Table, RecordRow.__table__)
S = cast(Table, SyncStateRow.__table__)
_META_ORDER = {"external_id", "first_seen_at", "updated_at", "last_seen_at", "deleted_at"}
_NOT_NULL = {"external_id", "first_seen_at", "updated_at", "last_seen_at"}
# What a page selects besides the external id and the sort key (module constants: they are part
# of the key of the reader's statement cache).
_RECORD_COLUMNS = (R.c.payload, R.c.first_seen_at, R.c.updated_at, R.c.deleted_at)
_JSON_COLUMNS = (cast_(R.c.payload, Text).label("payload"),)
_RAW_COLUMNS = (R.c.payload,)


@dataclass(frozen=True)
class StoredRecord(Generic[E]):
    """An entity plus what the store knows about it."""

    entity: E
    external_id: str
    first_seen_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class RecordPage(Generic[E]):
    """One page of records. ``next_cursor`` reads the page after it (``None`` on the last page),
    ``prev_cursor`` the page before it (``None`` on the first); ``total`` is counted only when
    asked for (``count=True``)."""

    records: list[StoredRecord[E]]
    limit: int
    next_cursor: str | None
    prev_cursor: str | None = None
    total: int | None = None

    @property
    def items(self) -> list[E]:
        return [record.entity for record in self.records]


@dataclass(frozen=True)
class JsonPage:
    """One page as JSON: ``items`` is the records' stored payloads as one JSON array (UTF-8),
    ready to be sent."""

    items: bytes
    limit: int
    next_cursor: str | None
    prev_cursor: str | None = None
    total: int | None = None


@dataclass(frozen=True)
class RawPage:
    """One page as ``(external_id, payload dict)`` pairs: neither entity models nor JSON text."""

    rows: list[tuple[str, dict[str, Any]]]
    limit: int
    next_cursor: str | None
    prev_cursor: str | None = None
    total: int | None = None


@dataclass(frozen=True)
class RecordFilter:
    """An extra condition on a listing's records. ``key`` names it in the page cursors (a
    cursor read under one filter is refused under another); ``clause`` is built from declared
    field names and bound values only."""

    key: str
    clause: ColumnElement[bool]


@dataclass(frozen=True)
class _Read:
    rows: list[Any]
    limit: int
    next_cursor: str | None
    prev_cursor: str | None
    total: int | None


class RecordReader:
    """Query API over ``records`` for one database.

    Pages are read by keyset (the sort key and external id of the last row read, in an opaque
    cursor), never by ``OFFSET``: every page costs what the first does, and rows written between
    two pages are neither skipped nor repeated. ``key`` signs the cursors (see
    :mod:`~ait_connectors.sync.cursors`).
    """

    def __init__(self, database: Database, *, key: bytes | None = None) -> None:
        self.database = database
        self._cursors = CursorCodec(key)
        self._statements: dict[tuple[Any, ...], Select[Any]] = {}

    def _order_expression(self, model: type[Entity], order_by: str) -> ColumnElement[Any]:
        # An entity field wins over a record column of the same name (``updated_at``); the
        # record's own columns are also reachable as ``_updated_at``, ``_first_seen_at``…
        if order_by not in model.model_fields:
            if order_by.lstrip("_") in _META_ORDER:
                return R.c[order_by.lstrip("_")]
            raise ValueError(
                f"cannot order {model.__name__} by {order_by!r}: not one of its fields "
                f"nor {sorted('_' + m for m in _META_ORDER)}"
            )
        # The name is a declared field (checked above), so it is safe inside the JSON path.
        if self.database.dialect == "postgresql":
            # Imported here: a SQLite process never loads the PostgreSQL dialect.
            from sqlalchemy.dialects.postgresql import JSONB

            # A missing field reads as JSON null (the smallest jsonb): never SQL NULL.
            field = literal_column(f"records.payload -> '{order_by}'", type_=JSONB)
            return func.coalesce(field, literal_column("'null'::jsonb", type_=JSONB))
        return func.json_extract(R.c.payload, f'$."{order_by}"')

    def _where(
        self,
        connector_config_id: Any,
        user_id: Any,
        entity_type: Any,
        include_deleted: bool,
    ) -> ColumnElement[bool]:
        clause = and_(
            R.c.connector_config_id == connector_config_id,
            R.c.user_id == user_id,
            R.c.entity_type == entity_type,
        )
        if not include_deleted:
            clause = and_(clause, R.c.deleted_at.is_(None))
        return clause

    async def page(
        self,
        connector_config_id: str,
        user_id: str,
        entity_type: str,
        model: type[E],
        *,
        limit: int = 100,
        cursor: str | None = None,
        order_by: str = "_external_id",
        descending: bool = False,
        include_deleted: bool = False,
        count: bool = False,
    ) -> RecordPage[E]:
        """Records of one connection and entity type, ordered by ``order_by`` (an entity field,
        or a record column: ``_external_id``, ``_first_seen_at``, ``_updated_at``), ties broken
        by external id; from ``cursor`` (a page's ``next_cursor`` or ``prev_cursor``) on.

        Raises :class:`InvalidCursorError` for a cursor this reader did not issue for this
        listing, and ``ValueError`` for an unknown ``order_by`` or a limit below 1.
        """
        read = await self._read(
            (connector_config_id, user_id, entity_type),
            model,
            _RECORD_COLUMNS,
            limit=limit,
            cursor=cursor,
            order_by=order_by,
            descending=descending,
            include_deleted=include_deleted,
            count=count,
        )
        return RecordPage(
            records=[_stored(model, row) for row in read.rows],
            limit=limit,
            next_cursor=read.next_cursor,
            prev_cursor=read.prev_cursor,
            total=read.total,
        )

    async def page_json(
        self,
        connector_config_id: str,
        user_id: str,
        entity_type: str,
        model: type[Entity],
        **kwargs: Any,
    ) -> JsonPage:
        """The same page as :meth:`page`, each record as its stored JSON text (UTF-8): what an
        HTTP answer sends, without building an entity per record. ``model`` names the fields
        that ``order_by`` may use."""
        read = await self._read(
            (connector_config_id, user_id, entity_type),
            model,
            _JSON_COLUMNS,
            **kwargs,
        )
        return JsonPage(
            items=f"[{','.join([row.payload for row in read.rows])}]".encode(),
            limit=read.limit,
            next_cursor=read.next_cursor,
            prev_cursor=read.prev_cursor,
            total=read.total,
        )

    async def page_raw(
        self,
        connector_config_id: str,
        user_id: str,
        entity_type: str,
        model: type[Entity],
        **kwargs: Any,
    ) -> RawPage:
        """The same page as :meth:`page`, each record as its external id and payload dict (the
        MCP tools shape them); ``where`` (a :class:`RecordFilter`) narrows the listing."""
        read = await self._read(
            (connector_config_id, user_id, entity_type), model, _RAW_COLUMNS, **kwargs
        )
        return RawPage(
            rows=[(row.external_id, row.payload) for row in read.rows],
            limit=read.limit,
            next_cursor=read.next_cursor,
            prev_cursor=read.prev_cursor,
            total=read.total,
        )

    async def _read(
        self,
        listing: tuple[str, str, str],
        model: type[Entity],
        columns: tuple[ColumnElement[Any], ...],
        *,
        limit: int = 100,
        cursor: str | None = None,
        order_by: str = "_external_id",
        descending: bool = False,
        include_deleted: bool = False,
        count: bool = False,
        where: RecordFilter | None = None,
    ) -> _Read:
        if limit < 1:
            raise ValueError("limit must be positive")
        order = f"{order_by}:{'desc' if descending else 'asc'}:"
        order += "all" if include_deleted else "live"
        scope = "\0".join(listing if where is None else (*listing, where.key))
        position = None if cursor is None else self._cursors.decode(scope, order, cursor)
        backwards = position is not None and position.before
        params: dict[str, Any] = {"c": listing[0], "u": listing[1], "t": listing[2]}
        params["n"] = limit + 1
        if position is not None:
            params["v"], params["x"] = position.value, position.external_id
        # One statement object per shape: built (and cache-keyed by SQLAlchemy) once, not per
        # request; the values are parameters.
        spot = None if position is None else (position.before, position.value is None)
        shape = (model, order, columns, spot)
        query = self._statements.get(shape) if where is None else None
        if query is None:
            query = self._statement(model, order_by, descending, include_deleted, columns, spot)
            if where is None:  # a filter's values are inside it: not one shape among few
                self._statements[shape] = query
            else:
                query = query.where(where.clause)
        async with self.database.read() as conn:
            rows = list((await conn.execute(query, params)).all())
            if count:
                counted = self._where(*listing, include_deleted)
                if where is not None:
                    counted = and_(counted, where.clause)
                total: int | None = await self._count(conn, counted)
            else:
                total = None
        more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()

        def at(index: int, before: bool) -> str:
            row = rows[index]
            spot = Cursor(order, row.sort_key, row.external_id, before)
            return self._cursors.encode(scope, spot)

        # Reading forwards, rows exist before this page when it was reached by a cursor;
        # reading backwards, rows exist after it.
        after_more = position is not None if backwards else more
        before_more = more if backwards else position is not None
        return _Read(
            rows=rows,
            limit=limit,
            next_cursor=at(-1, False) if rows and after_more else None,
            prev_cursor=at(0, True) if rows and before_more else None,
            total=total,
        )

    def _statement(
        self,
        model: type[Entity],
        order_by: str,
        descending: bool,
        include_deleted: bool,
        columns: tuple[ColumnElement[Any], ...],
        spot: tuple[bool, bool] | None,
    ) -> Select[Any]:
        """The page query of one shape; ``spot`` is (before, at a NULL key) for a cursor."""
        where = self._where(bindparam("c"), bindparam("u"), bindparam("t"), include_deleted)
        key = self._order_expression(model, order_by)
        plan = _Keyset(
            key,
            by_id=order_by.lstrip("_") == "external_id",
            nullable=not (self.database.dialect == "postgresql" and order_by in model.model_fields)
            and order_by.lstrip("_") not in _NOT_NULL,
            descending=descending,
        )
        if spot is not None:
            where = and_(where, plan.beyond(*spot))
        return (
            select(*columns, R.c.external_id, key.label("sort_key"))
            .where(where)
            .order_by(*plan.ordering(reverse=spot is not None and spot[0]))
            .limit(bindparam("n", type_=Integer))
        )

    async def _count(self, conn: Any, where: ColumnElement[bool]) -> int:
        total = (await conn.execute(select(func.count()).select_from(R).where(where))).scalar()
        return int(total or 0)

    async def list(
        self,
        connector_config_id: str,
        user_id: str,
        entity_type: str,
        model: type[E],
        **kwargs: Any,
    ) -> list[E]:
        """Just the entities of one :meth:`page`."""
        return (await self.page(connector_config_id, user_id, entity_type, model, **kwargs)).items

    async def get(
        self,
        connector_config_id: str,
        user_id: str,
        entity_type: str,
        model: type[E],
        external_id: str,
        *,
        include_deleted: bool = False,
    ) -> E | None:
        """One entity by its external id."""
        where = and_(
            self._where(connector_config_id, user_id, entity_type, include_deleted),
            R.c.external_id == external_id,
        )
        async with self.database.read() as conn:
            payload = (await conn.execute(select(R.c.payload).where(where))).scalar()
        return None if payload is None else model.model_validate(payload)

    async def count(
        self,
        connector_config_id: str,
        user_id: str,
        entity_type: str,
        *,
        include_deleted: bool = False,
    ) -> int:
        where = self._where(connector_config_id, user_id, entity_type, include_deleted)
        async with self.database.read() as conn:
            return await self._count(conn, where)

    async def purge(
        self,
        connector_config_id: str,
        user_id: str,
        entity_types: Sequence[str] | None = None,
    ) -> int:
        """Delete a connection's records and sync state (on disconnect with purge)."""
        state = S
        record_where = and_(R.c.connector_config_id == connector_config_id, R.c.user_id == user_id)
        state_where = and_(
            state.c.connector_config_id == connector_config_id, state.c.user_id == user_id
        )
        if entity_types is not None:
            record_where = and_(record_where, R.c.entity_type.in_(list(entity_types)))
            state_where = and_(state_where, state.c.entity_type.in_(list(entity_types)))
        now = datetime.now(UTC)
        async with self.database.transaction() as conn:
            changes.take_range(conn)
            base = await changes.reserve(conn, 0)  # the counter before any record row
            gone = (
                await conn.execute(
                    delete(R)
                    .where(record_where)
                    .returning(R.c.entity_type, R.c.external_id, R.c.deleted_at)
                )
            ).all()
            # Records already marked deleted had their tombstone when they were swept.
            tombstones = [
                {
                    "pos": base + 1 + i,
                    "c": connector_config_id,
                    "u": user_id,
                    "t": entity_type,
                    "eid": external_id,
                    "op": changes.DELETE,
                    "payload": None,
                }
                for i, (entity_type, external_id) in enumerate(
                    (t, x) for t, x, deleted in gone if deleted is None
                )
            ]
            await changes.advance(conn, base, len(tombstones))
            await changes.append_changes(conn, self.database.dialect, tombstones, now)
            # Cascades to sync_pages: the next sync starts from scratch.
            await conn.execute(delete(state).where(state_where))
            committed = changes.take_range(conn)  # announced once the block has committed
        if committed is not None:
            event = changes.ChangesCommitted(*committed, connector_config_id, user_id, None)
            await changes.listeners_for(self.database).notify(event)
        return len(gone)


def _stored(model: type[E], row: Any) -> StoredRecord[E]:
    return StoredRecord(
        entity=model.model_validate(row.payload),
        external_id=row.external_id,
        first_seen_at=row.first_seen_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
    )


@dataclass(frozen=True)
class _Keyset:
    """The ordering of one listing and the condition for "beyond this row" in it.

    A ``nullable`` sort key (a JSON field on SQLite, ``deleted_at``) may be NULL: NULLs sort as
    the smallest value on both databases (``NULLS FIRST`` ascending, ``NULLS LAST``
    descending), and the condition spells out the NULL cases, which a row comparison would get
    wrong. On PostgreSQL a JSON field is never NULL (a missing one reads as JSON null).
    """

    key: ColumnElement[Any]
    by_id: bool
    nullable: bool
    descending: bool

    def ordering(self, *, reverse: bool) -> list[ColumnElement[Any]]:
        down = self.descending != reverse
        ids = R.c.external_id.desc() if down else R.c.external_id.asc()
        if self.by_id:
            return [ids]
        key = self.key.desc().nulls_last() if down else self.key.asc().nulls_first()
        return [key, ids]

    def beyond(self, before: bool, at_null: bool) -> ColumnElement[bool]:
        """Rows after the cursor's row (parameters ``v``: its key, ``x``: its external id) in
        reading order, or before it for a ``before`` cursor."""
        down = self.descending != before
        ids, at_id = R.c.external_id, bindparam("x", type_=String)
        past_id = ids < at_id if down else ids > at_id
        if self.by_id:
            return past_id
        key = self.key
        if self.nullable and at_null:
            tie = and_(key.is_(None), past_id)
            return tie if down else or_(tie, key.is_not(None))
        value = bindparam("v", type_=key.type)  # compared as the key's own type (JSONB…)
        later = key < value if down else key > value
        clause = or_(later, and_(key == value, past_id))
        return or_(clause, key.is_(None)) if down and self.nullable else clause
