"""An entity type's typed fields, and the filters the query tool accepts on them.

A filter names a declared field, an operator and a value; anything else is refused with a
message that lists what is allowed, before any SQL is built. Values are bound parameters and
field names come from the model, so nothing the caller sends becomes SQL text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy import Boolean, ColumnElement, Date, DateTime, Float, Integer, Text, and_, func
from sqlalchemy import cast as sql_cast
from sqlalchemy import exists as sql_exists
from sqlalchemy import select as sql_select
from sqlalchemy.sql import literal_column
from sqlalchemy.types import TypeEngine

from ..entities import Entity
from ..errors import AItError
from ..sync.reader import RecordFilter
from ..sync.views import field_kind

__all__ = ["FieldFilter", "InvalidQueryError", "TypedField", "build_filter", "typed_fields"]

Operator = Literal["eq", "ne", "lt", "lte", "gt", "gte", "contains", "in"]
_ORDERED = frozenset({"int", "float", "datetime", "date", "text"})
_PYTHON: dict[str, Any] = {
    "int": int,
    "float": float,
    "bool": bool,
    "datetime": datetime,
    "date": date,
    "text": str,
}


class InvalidQueryError(AItError):
    """A filter, ordering or page the entity type cannot answer (the message says why)."""

    def __init__(self, message: str) -> None:
        super().__init__("INVALID_QUERY", message)


class FieldFilter(BaseModel):
    """One condition: ``{"field": "score", "op": "gte", "value": 50}``."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="A field of the entity type (see its resource).")
    op: Operator = Field(
        "eq",
        description="eq, ne, lt, lte, gt, gte; contains (text: substring, case-insensitive; "
        "lists: has the element); in (value is a list).",
    )
    value: Any = Field(None, description="Compared as the field's type; null with eq/ne only.")


@dataclass(frozen=True)
class TypedField:
    """A field as the tools describe it: its name and kind (int, text, datetime, json…)."""

    name: str
    kind: str
    required: bool

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.kind, "required": self.required}


def typed_fields(model: type[Entity]) -> dict[str, TypedField]:
    """The model's fields with the SQL kind the typed views give them."""
    return {
        name: TypedField(name, field_kind(info.annotation), info.is_required())
        for name, info in model.model_fields.items()
    }


def build_filter(
    dialect: str, model: type[Entity], filters: list[FieldFilter]
) -> RecordFilter | None:
    """One :class:`RecordFilter` for all ``filters`` (``None`` for none); raises
    :class:`InvalidQueryError` for an unknown field, an operator the field's type has no
    meaning for, or a value that is not of the field's type."""
    if not filters:
        return None
    fields = typed_fields(model)
    clauses = [_clause(dialect, _field(fields, f.field, model), f) for f in filters]
    spec = orjson.dumps([f.model_dump(mode="json") for f in filters], option=orjson.OPT_SORT_KEYS)
    return RecordFilter(hashlib.sha256(spec).hexdigest()[:16], and_(*clauses))


def _field(fields: dict[str, TypedField], name: str, model: type[Entity]) -> TypedField:
    found = fields.get(name)
    if found is None:
        raise InvalidQueryError(
            f"{model.entity_type or model.__name__} has no field {name!r}; "
            f"its fields are: {', '.join(fields)}."
        )
    return found


def _clause(dialect: str, field: TypedField, spec: FieldFilter) -> ColumnElement[bool]:
    op, value = spec.op, spec.value
    if field.kind == "json":
        if op != "contains":
            raise InvalidQueryError(
                f"{field.name!r} is a list or object: only 'contains' applies to it."
            )
        return _json_contains(dialect, field.name, value)
    if op == "contains":
        if field.kind != "text":
            raise InvalidQueryError(f"'contains' applies to text and list fields, not {field.kind}")
        return _expression(dialect, field).icontains(_coerce(field, value), autoescape=True)
    if op not in ("eq", "ne") and field.kind not in _ORDERED:
        raise InvalidQueryError(f"{field.name!r} is {field.kind}: only eq and ne apply to it.")
    expr = _expression(dialect, field)
    if value is None:
        if op == "eq":
            return expr.is_(None)
        if op == "ne":
            return expr.is_not(None)
        raise InvalidQueryError(f"a null value works with eq and ne only, not {op!r}.")
    if op == "in":
        if not isinstance(value, list) or not value or len(value) > 100:
            raise InvalidQueryError("'in' needs a list of 1 to 100 values.")
        return expr.in_([_bound(dialect, field, v) for v in value])
    bound = _bound(dialect, field, value)
    compare = {
        "eq": expr.__eq__,
        "ne": expr.__ne__,
        "lt": expr.__lt__,
        "lte": expr.__le__,
        "gt": expr.__gt__,
        "gte": expr.__ge__,
    }
    result: ColumnElement[bool] = compare[op](bound)
    return result


def _coerce(field: TypedField, value: Any) -> Any:
    try:
        return TypeAdapter(_PYTHON[field.kind]).validate_python(value)
    except ValidationError:
        raise InvalidQueryError(
            f"{field.name!r} is {field.kind}: {value!r} is not a {field.kind} value."
        ) from None


def _bound(dialect: str, field: TypedField, value: Any) -> Any:
    coerced = _coerce(field, value)
    if dialect != "postgresql" and field.kind in ("datetime", "date"):
        return func.julianday(coerced.isoformat())  # compared as instants, as the column is
    if dialect != "postgresql" and field.kind == "bool":
        return 1 if coerced else 0
    return coerced


def _expression(dialect: str, field: TypedField) -> ColumnElement[Any]:
    # The name is a declared field (checked before), so it may appear inside the JSON path.
    if dialect == "postgresql":
        text = literal_column(f"records.payload ->> '{field.name}'", type_=Text)
        types: dict[str, TypeEngine[Any]] = {
            "int": Integer(),
            "float": Float(),
            "bool": Boolean(),
            "datetime": DateTime(timezone=True),
            "date": Date(),
        }
        sql_type = types.get(field.kind)
        return text if sql_type is None else sql_cast(text, sql_type)
    extracted = func.json_extract(literal_column("records.payload"), f'$."{field.name}"')
    if field.kind in ("datetime", "date"):
        return func.julianday(extracted)
    return extracted


def _json_contains(dialect: str, name: str, value: Any) -> ColumnElement[bool]:
    if isinstance(value, dict | list) or value is None:
        raise InvalidQueryError(f"'contains' on {name!r} needs one element (text or number).")
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        field = literal_column(f"records.payload -> '{name}'", type_=JSONB)
        contained: ColumnElement[bool] = field.contains([value])  # jsonb @> '[value]'
        return contained
    each = func.json_each(literal_column("records.payload"), f'$."{name}"').table_valued("value")
    return sql_exists(
        sql_select(literal_column("1")).select_from(each).where(each.c.value == value)
    )
