"""Typed SQL views over ``records``: one per registered entity type, e.g. ``github_repositories``.

A view's columns are the entity's fields, extracted from the JSON payload and cast to a matching
SQL type (``bigint``, ``double precision``, ``boolean``, ``timestamptz``, ``text``; lists, dicts
and nested models stay JSON), plus ``_connector_config_id``, ``_user_id``, ``_external_id``,
``_first_seen_at`` and ``_updated_at``. Only live records (not deleted) are shown. Records are
matched to the provider through ``connector_configs.provider``.

Views are (re)created idempotently: a hash of the definition is kept with the view (a comment on
PostgreSQL, inside the SQL on SQLite), and a view is replaced only when its definition changed.
"""

from __future__ import annotations

import hashlib
import re
import types
import typing
import weakref
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from sqlalchemy import text

from ..entities import Entity
from ..storage.db import Database

__all__ = ["ensure_view", "field_kind", "view_name_for", "view_sql"]

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_META = (
    ("_connector_config_id", "connector_config_id"),
    ("_user_id", "user_id"),
    ("_external_id", "external_id"),
    ("_first_seen_at", "first_seen_at"),
    ("_updated_at", "updated_at"),
)
# Per Database: the view definitions already ensured by this process.
_ENSURED: weakref.WeakKeyDictionary[Database, dict[str, str]] = weakref.WeakKeyDictionary()


def view_name_for(provider_slug: str, entity_type: str) -> str:
    """``github`` + ``repositories`` -> ``github_repositories``."""
    name = f"{provider_slug}_{entity_type}".replace("-", "_").lower()
    if not _IDENT.match(name):
        raise ValueError(f"{name!r} is not a valid view name")
    return name


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _base_type(annotation: Any) -> Any:
    """Strip ``Optional``/``Annotated``; a union of several types is JSON."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _base_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _base_type(args[0])
        if all(isinstance(a, type) and issubclass(a, int | float) for a in args):
            return float
        return object
    if origin is Literal:
        values = typing.get_args(annotation)
        if all(isinstance(v, str) for v in values):
            return str
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return int
        return object
    return annotation


def field_kind(annotation: Any) -> str:
    """The SQL kind of a field: bool, int, float, datetime, date, text or json."""
    base = _base_type(annotation)
    if not isinstance(base, type):
        return "json"
    if issubclass(base, bool):
        return "bool"
    if issubclass(base, Enum):
        return "text"
    if issubclass(base, int):
        return "int"
    if issubclass(base, float | Decimal):
        return "float"
    if issubclass(base, datetime):
        return "datetime"
    if issubclass(base, date):
        return "date"
    if issubclass(base, str):
        return "text"
    return "json"


def _column(dialect: str, field: str, kind: str) -> str:
    if dialect == "postgresql":
        key = _literal(field)
        cast = {
            "bool": "boolean",
            "int": "bigint",
            "float": "double precision",
            "datetime": "timestamptz",
            "date": "date",
        }.get(kind)
        if kind == "json":
            return f"r.payload -> {key}"
        if cast is None:
            return f"r.payload ->> {key}"
        return f"(r.payload ->> {key})::{cast}"
    path = _literal('$."' + field.replace('"', '\\"') + '"')
    expr = f"json_extract(r.payload, {path})"
    # SQLite has no boolean/timestamp types: json_extract already gives 0/1, numbers, ISO text.
    return expr


def view_sql(
    dialect: str, name: str, provider_slug: str, entity_type: str, model: type[Entity]
) -> str:
    """The ``SELECT`` of the view (without ``CREATE VIEW``)."""
    columns = [f"r.{source} AS {_quote(alias)}" for alias, source in _META]
    for field, info in model.model_fields.items():
        columns.append(f"{_column(dialect, field, field_kind(info.annotation))} AS {_quote(field)}")
    return (
        "SELECT "
        + ", ".join(columns)
        + " FROM records r JOIN connector_configs c ON c.id = r.connector_config_id"
        + f" WHERE c.provider = {_literal(provider_slug)}"
        + f" AND r.entity_type = {_literal(entity_type)} AND r.deleted_at IS NULL"
    )


async def ensure_view(
    database: Database,
    provider_slug: str,
    entity_type: str,
    model: type[Entity],
    name: str | None = None,
) -> str:
    """Create or replace the typed view of one entity type if its definition changed."""
    name = name or view_name_for(provider_slug, entity_type)
    if not _IDENT.match(name):
        raise ValueError(f"{name!r} is not a valid view name")
    select = view_sql(database.dialect, name, provider_slug, entity_type, model)
    digest = hashlib.sha256(select.encode()).hexdigest()[:32]
    ensured = _ENSURED.setdefault(database, {})
    if ensured.get(name) == digest:
        return name
    quoted = _quote(name)
    async with database.transaction(lock=True) as conn:
        if database.dialect == "postgresql":
            # Serialise concurrent workers creating the same view.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(815403232, hashtext(:n))"), {"n": name}
            )
            current = (
                await conn.execute(
                    text(
                        "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relname = :n AND n.nspname = current_schema() AND c.relkind = 'v'"
                    ),
                    {"n": name},
                )
            ).scalar()
            marker = f"ait-connectors view {digest}"
            if current != marker:
                await conn.execute(text(f"DROP VIEW IF EXISTS {quoted}"))
                await conn.execute(text(f"CREATE VIEW {quoted} AS {select}"))
                await conn.execute(text(f"COMMENT ON VIEW {quoted} IS {_literal(marker)}"))
        else:
            create = f"CREATE VIEW {quoted} AS /* ait:{digest} */ {select}"
            current = (
                await conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = :n"),
                    {"n": name},
                )
            ).scalar()
            if current != create:
                await conn.execute(text(f"DROP VIEW IF EXISTS {quoted}"))
                await conn.execute(text(create))
    ensured[name] = digest
    return name
