"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, DateTime, Dialect, TypeDecorator
from sqlalchemy.types import TypeEngine

__all__ = [
    "JSONType",
    "NullableJSON",
    "PortableJSON",
    "UTCDateTime",
    "dialect_insert",
    "new_id",
    "utcnow",
]


class PortableJSON(TypeDecorator[Any]):
    """JSON, stored as JSONB on PostgreSQL: ``JSON().with_variant(JSONB(), "postgresql")``
    without importing the PostgreSQL dialect where it is not used (a SQLite process: the CLI
    on the embedded default); it is loaded when a PostgreSQL statement is first compiled."""

    impl = JSON
    cache_ok = True

    @property
    def should_evaluate_none(self) -> bool:  # type: ignore[override]
        # As JSON's: None is the JSON literal null unless none_as_null (the ORM and Core ask).
        return bool(self.impl_instance.should_evaluate_none)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            json = cast(JSON, self.impl_instance)
            return dialect.type_descriptor(JSONB(none_as_null=json.none_as_null))
        return dialect.type_descriptor(self.impl_instance)


JSONType = PortableJSON()
# A cursor or watermark that is absent must be SQL NULL, not the JSON literal ``null``, so that
# "no scan in progress" is a plain ``IS NULL`` test.
NullableJSON = PortableJSON(none_as_null=True)


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes; SQLite stores no zone, so we put it back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def dialect_insert(dialect: str) -> Any:
    """The dialect's ``insert`` (with ``on_conflict_do_update``), imported for that dialect
    only: a SQLite process does not load the PostgreSQL dialect, nor the other way round."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert
