"""The Connect page's preview of what was synced: the latest records of one entity type, a few
at a time, with the columns of its typed view (the entity's fields)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..entities import Entity
from ..storage.db import Database
from ..sync.reader import RecordReader

__all__ = ["PREVIEW_ROWS", "Preview", "read_preview"]

PREVIEW_ROWS = 5
_COLUMNS = 4
_CELL = 48


@dataclass(frozen=True)
class Preview:
    entity_type: str
    columns: list[str]
    rows: list[list[str]]
    total: int
    offset: int

    @property
    def older(self) -> int | None:
        """The offset of the next (older) records, if any."""
        nxt = self.offset + len(self.rows)
        return nxt if nxt < self.total else None

    @property
    def newer(self) -> int | None:
        """The offset of the previous (newer) records, if any."""
        return max(0, self.offset - PREVIEW_ROWS) if self.offset > 0 else None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        text = str(value)
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


async def read_preview(
    database: Database,
    connector_config_id: str,
    user_id: str,
    entity_type: str,
    model: type[Entity],
    offset: int = 0,
) -> Preview:
    """``PREVIEW_ROWS`` records from ``offset``, the most recently written first."""
    page = await RecordReader(database).page(
        connector_config_id,
        user_id,
        entity_type,
        model,
        limit=PREVIEW_ROWS,
        offset=offset,
        order_by="_updated_at",
        descending=True,
    )
    columns = list(model.model_fields)[:_COLUMNS]
    rows = [
        [
            _cell(value)
            for value in record.entity.model_dump(mode="json", include=set(columns)).values()
        ]
        for record in page.records
    ]
    return Preview(entity_type, columns, rows, page.total, page.offset)
