"""The Connect page's preview of what was synced: the latest records of one entity type, a few
at a time, with the columns of its typed view (the entity's fields)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..entities import Entity
from ..sync.reader import RecordReader

__all__ = ["PREVIEW_ROWS", "Preview", "read_preview"]

PREVIEW_ROWS = 5
_COLUMNS = 4
_CELL = 48


@dataclass(frozen=True)
class Preview:
    """``PREVIEW_ROWS`` records; ``older`` and ``newer`` are the cursors of the pages around."""

    entity_type: str
    columns: list[str]
    rows: list[list[str]]
    total: int
    older: str | None
    newer: str | None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        text = str(value)
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


async def read_preview(
    reader: RecordReader,
    connector_config_id: str,
    user_id: str,
    entity_type: str,
    model: type[Entity],
    total: int,
    cursor: str | None = None,
) -> Preview:
    """``PREVIEW_ROWS`` records from ``cursor`` on, the most recently written first;
    ``total`` is the count the page shows already (not counted again here)."""
    page = await reader.page(
        connector_config_id,
        user_id,
        entity_type,
        model,
        limit=PREVIEW_ROWS,
        cursor=cursor,
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
    return Preview(entity_type, columns, rows, total, page.next_cursor, page.prev_cursor)
