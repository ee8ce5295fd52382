"""The gateway's OpenAPI document, completed with the answers no single route declares.

FastAPI documents what each route's decorator says. Some answers come from the application as a
whole, and are added here to every operation, once, when the document is first built:

- 400 for a URL with control characters (:class:`.errors.RejectControlCharacters` answers it
  before any route runs), and so a pattern on every string in the path or the query that
  says so;
- 422 as the gateway answers it (:class:`.schemas.ValidationErrorOut`, as JSON or as a page),
  instead of FastAPI's own ``HTTPValidationError``, which the gateway never sends;
- the error bodies' models in ``components``.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from .schemas import HTML_PAGE, ErrorOut, ValidationErrorOut

__all__ = ["complete_schema", "install_openapi"]

_REF = "#/components/schemas/{model}"
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_FASTAPI_ONLY = ("HTTPValidationError", "ValidationError")
_NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"

CONTROL_CHARACTERS: dict[str, Any] = {
    "description": "The URL contains control characters (any route)",
    "content": {"application/json": {"schema": {"$ref": _REF.format(model="ErrorOut")}}},
}
VALIDATION: dict[str, Any] = {
    "description": "The request does not match this schema: `detail` says where",
    "content": {
        "application/json": {"schema": {"$ref": _REF.format(model="ValidationErrorOut")}},
        **HTML_PAGE,
    },
}


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json`` and ``/docs``) the completed document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete_schema(FastAPI.openapi(app))  # builds and caches it; completed in place
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def complete_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the application-wide answers to every operation of ``schema`` (in place)."""
    models = schema.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema(
        [(ErrorOut, "serialization"), (ValidationErrorOut, "serialization")], ref_template=_REF
    )
    models.update(defs["$defs"])
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            for parameter in operation.get("parameters", ()):
                if parameter.get("in") in ("path", "query"):
                    _no_control_characters(parameter.get("schema", {}))
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", deepcopy(CONTROL_CHARACTERS))
            if "422" in responses:
                responses["422"] = deepcopy(VALIDATION)
    for name in _FASTAPI_ONLY:
        models.pop(name, None)
    return schema


def _no_control_characters(schema: dict[str, Any]) -> None:
    """Give a string schema (or each string branch of an ``anyOf``) without a pattern of its
    own the pattern the middleware enforces; patterns of routes exclude them already."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string" and "pattern" not in branch:
            branch["pattern"] = _NO_CONTROL_CHARACTERS
