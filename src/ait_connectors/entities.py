"""The ``Entity`` base: a normalised vendor object with a natural key and a canonical checksum.

A vendor declares one pydantic model per entity type::

    class GitHubRepository(Entity):
        entity_type: ClassVar[str] = "repositories"
        natural_key: ClassVar[tuple[str, ...]] = ("id",)
        volatile_fields: ClassVar[frozenset[str]] = frozenset({"pushed_at"})

        id: int
        full_name: str
        pushed_at: datetime | None = None

The checksum is the SHA-256 of the canonical JSON of the entity (keys sorted at every level,
compact separators, volatile fields removed; the exact form, unchanged since the first version,
is in :mod:`ait_connectors.json_codec`), so an entity whose meaningful content did not change has
the same checksum on every run and is not written again.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from .float_free import model_is_float_free
from .json_codec import canonical_bytes, canonical_text

__all__ = ["Entity", "EntityRow", "canonical_json", "checksum_of", "prepare_row"]

KEY_SEPARATOR = ":"


def canonical_json(data: Any) -> str:
    """The canonical JSON text of ``data``: sorted keys, no whitespace, UTF-8, no NaN (the
    exact form: :mod:`ait_connectors.json_codec`)."""
    return canonical_text(data)


def checksum_of(canonical: str) -> str:
    """Hex SHA-256 of a canonical JSON text."""
    return hashlib.sha256(canonical.encode()).hexdigest()


class Entity(BaseModel):
    """Base class of every synced entity.

    Class attributes a subclass sets:

    - ``entity_type``: the name records are stored under (``repositories``); a service may
      register the model under another name.
    - ``natural_key``: the field(s) that identify the entity at the vendor; several fields are
      joined with ``:`` into the record's ``external_id`` (e.g. repository id + commit sha).
    - ``volatile_fields``: fields left out of the checksum (counters, "last seen" times) so that
      a change in them alone does not rewrite the record.
    - ``link_field``: the field holding the vendor's web link to the item (``html_url``), which
      the MCP tools show with each record; ``None`` when the vendor gives none.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    entity_type: ClassVar[str] = ""
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset()
    link_field: ClassVar[str | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # A typo here would silently show no link: refuse it where the model is declared.
        if cls.link_field is not None and cls.link_field not in cls.model_fields:
            raise TypeError(
                f"{cls.__name__}.link_field = {cls.link_field!r} is not one of its fields"
            )

    @property
    def external_id(self) -> str:
        """The natural key as one string (several key fields are joined with ``:``)."""
        return external_id_of(self)

    def canonical_json(self) -> str:
        """Canonical JSON of the entity without its volatile fields (what the checksum covers)."""
        return canonical_json(self.model_dump(mode="json", exclude=set(self.volatile_fields)))

    def checksum(self) -> str:
        """SHA-256 of :meth:`canonical_json`."""
        return checksum_of(self.canonical_json())


def external_id_of(entity: Entity) -> str:
    keys = type(entity).natural_key
    if len(keys) == 1:
        return _key_part(getattr(entity, keys[0]))
    return KEY_SEPARATOR.join(_key_part(getattr(entity, k)) for k in keys)


def _key_part(value: Any) -> str:
    if value is None:
        raise ValueError("an entity's natural key field is None")
    if isinstance(value, bool):  # bool is an int; "True" would be surprising in a key
        return "true" if value else "false"
    return str(value)


class EntityRow:
    """What the writer needs of one entity: key, checksum, payload JSON text."""

    __slots__ = ("checksum", "external_id", "payload")

    def __init__(self, external_id: str, checksum: str, payload: str) -> None:
        self.external_id = external_id
        self.checksum = checksum
        self.payload = payload

    def __repr__(self) -> str:
        return f"EntityRow({self.external_id!r}, {self.checksum[:12]}…)"


def prepare_row(entity: Entity) -> EntityRow:
    """Serialise an entity once: payload = all fields; checksum = payload minus volatile fields.

    Without volatile fields the payload *is* the canonical text, so it is encoded only once.
    """
    model = type(entity)
    data = entity.model_dump(mode="json")
    floats = not model_is_float_free(model)
    payload = canonical_bytes(data, floats=floats)
    volatile = model.volatile_fields
    if volatile:
        for name in volatile:
            data.pop(name, None)
        digest = hashlib.sha256(canonical_bytes(data, floats=floats)).hexdigest()
    else:
        digest = hashlib.sha256(payload).hexdigest()
    return EntityRow(external_id_of(entity), digest, payload.decode())
