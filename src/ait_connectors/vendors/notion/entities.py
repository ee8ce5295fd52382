"""Notion entity models, validated straight from the API's JSON (``Notion-Version`` 2026-03-11).

Search may return *partial* objects (``{"object": "page", "id": …}`` only), so every field but
the id is optional and a ``null`` counts as absent. Rich text is kept as its joined
``plain_text``; page properties become ``{name: {"type", "value"}}`` with each value reduced to
what it says (a select's name, a relation's ids, a formula's result). Notion-hosted file URLs
are signed and expire after an hour: they are volatile, so a new signature alone rewrites
nothing. ``in_trash`` is read from ``archived`` too (its name before 2026-03-11).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, AliasPath, BeforeValidator, Field, model_validator

from ait_connectors.vendor import Entity

__all__ = [
    "DEPTH_KEY",
    "PAGE_KEY",
    "POSITION_KEY",
    "NotionBlock",
    "NotionDataSource",
    "NotionPage",
    "plain_text",
    "simplify_property",
]

#: Keys the data source adds to each block: what the block alone does not say.
PAGE_KEY = "_page_id"
DEPTH_KEY = "_depth"
POSITION_KEY = "_position"


def at(*paths: str, default: Any = None) -> Any:
    """A field read at the first present dotted path (the stored form: by the field's name)."""
    return Field(default, validation_alias=AliasChoices(*(AliasPath(*p.split(".")) for p in paths)))


def plain_text(value: Any) -> str | None:
    """A rich-text array -> its joined ``plain_text``; a string (the stored form) is kept."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, list):
        return None
    return "".join(str(part.get("plain_text") or "") for part in value if isinstance(part, dict))


def _user_id(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


def _file_url(value: Any) -> Any:
    """A file object (icon, cover, file blocks) -> its URL; an emoji icon -> the emoji."""
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    inner = value.get(kind) if isinstance(kind, str) else None
    if kind == "emoji":
        return inner
    if isinstance(inner, dict):
        return inner.get("url") or inner.get("id")  # file_upload objects carry an id
    return None


def _parent_id(value: Any) -> Any:
    """A parent object -> the id it names (``None`` for the workspace)."""
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    found = value.get(kind) if isinstance(kind, str) else None
    return found if isinstance(found, str) else None


Text = Annotated[str | None, BeforeValidator(plain_text)]
UserId = Annotated[str | None, BeforeValidator(_user_id)]
FileUrl = Annotated[str | None, BeforeValidator(_file_url)]
ParentId = Annotated[str | None, BeforeValidator(_parent_id)]
# ``in_trash`` (2026-03-11) or ``archived`` (before); ``null`` -> False.
InTrash = Annotated[bool, BeforeValidator(bool)]
_TRASH = at("in_trash", "archived", default=False)


def _names(items: Any) -> list[str]:
    return [str(i.get("name")) for i in items or () if isinstance(i, dict) and i.get("name")]


def _ids(items: Any) -> list[str]:
    return [str(i.get("id")) for i in items or () if isinstance(i, dict) and i.get("id")]


def _typed_value(value: Any) -> Any:
    """A formula's or rollup's result: ``{"type": "number", "number": 3}`` -> 3."""
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return value.get(value["type"])
    return value


_SIMPLE: dict[str, Any] = {
    "title": plain_text,
    "rich_text": plain_text,
    "select": lambda v: v.get("name") if isinstance(v, dict) else None,
    "status": lambda v: v.get("name") if isinstance(v, dict) else None,
    "multi_select": _names,
    "people": _ids,
    "relation": _ids,
    "created_by": _user_id,
    "last_edited_by": _user_id,
    "files": lambda v: [_file_url(f) or f.get("name") for f in v or () if isinstance(f, dict)],
    "formula": _typed_value,
    "rollup": _typed_value,
    "unique_id": lambda v: (
        f"{v.get('prefix') or ''}{'-' if v.get('prefix') else ''}{v.get('number')}"
        if isinstance(v, dict) and v.get("number") is not None
        else None
    ),
    "verification": lambda v: v.get("state") if isinstance(v, dict) else None,
}


def simplify_property(prop: Any) -> Any:
    """One page property value -> ``{"type", "value"}``; the stored form is kept as it is."""
    if not isinstance(prop, dict) or "value" in prop:
        return prop
    kind = str(prop.get("type") or "")
    raw = prop.get(kind)
    simplify = _SIMPLE.get(kind)
    return {"type": kind or None, "value": simplify(raw) if simplify else raw}


def _properties(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    return {str(name): simplify_property(prop) for name, prop in value.items()}


def _schema(value: Any) -> dict[str, str]:
    """A data source's property schema -> ``{name: type}``."""
    if not isinstance(value, dict):
        return {}
    return {
        str(name): str(p.get("type") if isinstance(p, dict) else p)
        for name, p in value.items()
        if p is not None
    }


class NotionEntity(Entity):
    """Base of the Notion models: ``null`` means absent."""

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class NotionPage(NotionEntity):
    """A page shared with the integration (a standalone page or a row of a data source)."""

    entity_type: ClassVar[str] = "pages"
    link_field: ClassVar[str | None] = "url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"icon", "cover"})

    id: str
    title: str | None = None
    url: str | None = None
    public_url: str | None = None
    created_time: datetime | None = None
    last_edited_time: datetime | None = None
    created_by_id: UserId = at("created_by")
    last_edited_by_id: UserId = at("last_edited_by")
    in_trash: InTrash = _TRASH
    is_locked: bool | None = None
    parent_type: str | None = at("parent.type")
    parent_id: ParentId = at("parent")
    database_id: str | None = at("parent.database_id")
    icon: FileUrl = None
    cover: FileUrl = None
    properties: Annotated[dict[str, Any], BeforeValidator(_properties)] = {}

    @model_validator(mode="after")
    def _title(self) -> NotionPage:
        # The title is the one property of type ``title`` (its name varies by data source).
        if self.title is None:
            for prop in self.properties.values():
                if isinstance(prop, dict) and prop.get("type") == "title":
                    self.title = prop.get("value")
                    break
        return self


class NotionDataSource(NotionEntity):
    """A data source (a table of a database, 2025-09-03+) shared with the integration."""

    entity_type: ClassVar[str] = "data_sources"
    link_field: ClassVar[str | None] = "url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"icon", "cover"})

    id: str
    title: Text = None
    description: Text = None
    database_id: str | None = at("parent.database_id")
    database_parent_type: str | None = at("database_parent.type")
    database_parent_id: ParentId = at("database_parent")
    is_inline: bool | None = None
    in_trash: InTrash = _TRASH
    url: str | None = None
    public_url: str | None = None
    created_time: datetime | None = None
    last_edited_time: datetime | None = None
    created_by_id: UserId = at("created_by")
    last_edited_by_id: UserId = at("last_edited_by")
    icon: FileUrl = None
    cover: FileUrl = None
    properties: Annotated[dict[str, str], BeforeValidator(_schema)] = {}


class NotionBlock(NotionEntity):
    """One block of a page's content: ``depth`` 1 is the page's own first level, ``position``
    the block's place among its parent's children (from 0). ``text`` is the block's own rich
    text (a child page's or database's title); ``url`` its file, image, embed or bookmark URL
    (volatile: Notion-hosted file URLs are re-signed on every read)."""

    entity_type: ClassVar[str] = "blocks"
    link_field: ClassVar[str | None] = "url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"url"})

    id: str
    page_id: str = at(PAGE_KEY, "page_id", default=...)
    depth: int = at(DEPTH_KEY, "depth", default=1)
    position: int = at(POSITION_KEY, "position", default=0)
    type: str | None = None
    parent_type: str | None = at("parent.type")
    parent_id: ParentId = at("parent")
    has_children: bool = False
    in_trash: InTrash = _TRASH
    created_time: datetime | None = None
    last_edited_time: datetime | None = None
    created_by_id: UserId = at("created_by")
    last_edited_by_id: UserId = at("last_edited_by")
    text: str | None = None
    checked: bool | None = None
    language: str | None = None
    url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _content(cls, data: Any) -> Any:
        """Lift what the block's type-named object holds (``paragraph.rich_text``, ``to_do.
        checked``, ``code.language``, ``image.file.url``) to flat fields (API items only)."""
        if not isinstance(data, dict) or PAGE_KEY not in data:
            return data
        kind = data.get("type")
        inner = data.get(kind) if isinstance(kind, str) else None
        if not isinstance(inner, dict):
            return data
        text = plain_text(inner.get("rich_text"))
        if text is None and isinstance(inner.get("title"), str):
            text = inner["title"]  # child_page, child_database
        if text is None and isinstance(inner.get("expression"), str):
            text = inner["expression"]  # equation
        url = inner.get("url") if isinstance(inner.get("url"), str) else _file_url(inner)
        return {
            **data,
            "text": text,
            "checked": inner.get("checked"),
            "language": inner.get("language"),
            "url": url,
        }
