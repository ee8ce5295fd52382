"""Reading synced records back as entity models, with paging and ordering by a field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, Select, Table, and_, delete, func, select
from sqlalchemy.sql import literal_column

from ..entities import Entity
from ..storage.db import Database
from ..storage.sync_models import RecordRow, SyncStateRow

__all__ = ["RecordPage", "RecordReader", "StoredRecord"]

E = TypeVar("E", bound=Entity)
R = cast(Table, RecordRow.__table__)
S = cast(Table, SyncStateRow.__table__)
_META_ORDER = {"external_id", "first_seen_at", "updated_at", "last_seen_at", "deleted_at"}


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
    """One page of records; ``next_offset`` is ``None`` on the last page."""

    records: list[StoredRecord[E]]
    total: int
    offset: int
    limit: int

    @property
    def items(self) -> list[E]:
        return [record.entity for record in self.records]

    @property
    def next_offset(self) -> int | None:
        nxt = self.offset + len(self.records)
        return nxt if nxt < self.total else None


class RecordReader:
    """Query API over ``records`` for one database."""

    def __init__(self, database: Database) -> None:
        self.database = database

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
            return literal_column(f"records.payload -> '{order_by}'")
        return func.json_extract(R.c.payload, f'$."{order_by}"')

    def _where(
        self,
        connector_config_id: str,
        user_id: str,
        entity_type: str,
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
        offset: int = 0,
        order_by: str = "_external_id",
        descending: bool = False,
        include_deleted: bool = False,
    ) -> RecordPage[E]:
        """Records of one connection and entity type, ordered by ``order_by`` (an entity field,
        or a record column: ``_external_id``, ``_first_seen_at``, ``_updated_at``), ties broken
        by external id."""
        if limit < 1 or offset < 0:
            raise ValueError("limit must be positive and offset not negative")
        where = self._where(connector_config_id, user_id, entity_type, include_deleted)
        order = self._order_expression(model, order_by)
        ordering = [order.desc() if descending else order.asc()]
        if order_by.lstrip("_") != "external_id":
            ordering.append(R.c.external_id.desc() if descending else R.c.external_id.asc())
        query: Select[Any] = (
            select(R.c.payload, R.c.external_id, R.c.first_seen_at, R.c.updated_at, R.c.deleted_at)
            .where(where)
            .order_by(*ordering)
            .limit(limit)
            .offset(offset)
        )
        async with self.database.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(R).where(where))).scalar()
            rows = (await conn.execute(query)).all()
        records = [
            StoredRecord(
                entity=model.model_validate(row.payload),
                external_id=row.external_id,
                first_seen_at=row.first_seen_at,
                updated_at=row.updated_at,
                deleted_at=row.deleted_at,
            )
            for row in rows
        ]
        return RecordPage(records=records, total=int(total or 0), offset=offset, limit=limit)

    async def list(
        self,
        connector_config_id: str,
        user_id: str,
        entity_type: str,
        model: type[E],
        **kwargs: Any,
    ) -> list[E]:
        """Just the entities of :meth:`page`."""
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
        async with self.database.connect() as conn:
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
        async with self.database.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(R).where(where))).scalar()
        return int(total or 0)

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
        async with self.database.transaction() as conn:
            result = await conn.execute(delete(R).where(record_where))
            # Cascades to sync_pages: the next sync starts from scratch.
            await conn.execute(delete(state).where(state_where))
        return int(result.rowcount)
