"""Whether an entity model's JSON form can hold a float, decided once per model from its fields.

The canonical encoder (:mod:`ait_connectors.json_codec`) must look for floats in a value before
orjson may write it; a model whose every field is an int, a string, a date… cannot hold one, so
its records are spared that walk. Anything not known to be float-free counts as holding floats:
``float``, ``Any``, unknown classes, custom serializers.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import types
import typing
import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

__all__ = ["model_is_float_free"]

# Types whose JSON form (pydantic's mode="json") is a string, an integer, a boolean or null.
_PLAIN = (str, int, bool, type(None), dt.datetime, dt.date, dt.time, dt.timedelta, uuid.UUID)
_CONTAINERS = (list, tuple, set, frozenset, dict)


@functools.cache
def model_is_float_free(model: type[BaseModel]) -> bool:
    """True when no value of ``model`` dumps (``mode="json"``) to JSON holding a float."""
    decorators = model.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers:
        return False
    if model.model_config.get("extra") == "allow":  # undeclared fields of any type
        return False
    return all(_float_free(field.annotation) for field in model.model_fields.values())


def _float_free(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _float_free(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return all(not isinstance(v, float) for v in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType) or origin in _CONTAINERS:
        return all(_float_free(arg) for arg in typing.get_args(annotation) if arg is not ...)
    if origin is not None:
        return False
    if not isinstance(annotation, type) or issubclass(annotation, float):
        return False
    if issubclass(annotation, enum.Enum):
        return all(not isinstance(m.value, float) for m in annotation)
    if issubclass(annotation, Decimal):  # dumped as a string
        return True
    if issubclass(annotation, BaseModel):
        return model_is_float_free(annotation)
    return issubclass(annotation, _PLAIN)
