"""Full-text search over one user's live records, ranked (migration ``0012_mcp_search``).

PostgreSQL matches the GIN-indexed tsvector of the payload's string values with
``websearch_to_tsquery`` and ranks with ``ts_rank``; SQLite matches the FTS5 table the triggers
keep and ranks with ``bm25``. Either way every word must appear (a prefix matches on SQLite
only when written ``word*``), and only the user's own records of enabled configs are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text

from ..storage.db import Database

__all__ = ["PG_DOCUMENT", "SearchHit", "search_records"]

# The indexed expression of migration 0012 (PostgreSQL uses the index only for this exact text).
PG_DOCUMENT = "jsonb_to_tsvector('simple'::regconfig, r.payload, '[\"string\"]'::jsonb)"
_WORD = re.compile(r"\w+\*?", re.UNICODE)


@dataclass(frozen=True)
class SearchHit:
    provider: str
    entity_type: str
    external_id: str
    payload: dict[str, Any]
    rank: float


def _scope(provider: str | None, entity_type: str | None) -> str:
    where = " AND r.user_id = :u AND r.deleted_at IS NULL AND c.enabled"
    if provider is not None:
        where += " AND c.provider = :p"
    if entity_type is not None:
        where += " AND r.entity_type = :t"
    return where


def _sqlite_match(query: str) -> str:
    """FTS5 syntax from free text: each word quoted (no operator reaches FTS5), all required."""
    terms = []
    for word in _WORD.findall(query):
        prefix = word.endswith("*")
        terms.append('"' + word.rstrip("*") + '"' + ("*" if prefix else ""))
    return " ".join(terms)


async def search_records(
    database: Database,
    user_id: str,
    query: str,
    *,
    provider: str | None = None,
    entity_type: str | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """The user's records matching ``query``, best first (ties by external id)."""
    params: dict[str, Any] = {"u": user_id, "p": provider, "t": entity_type, "n": limit}
    scope = _scope(provider, entity_type)
    if database.dialect == "postgresql":
        params["q"] = query
        sql = (
            f"SELECT c.provider, r.entity_type, r.external_id, r.payload, "
            f"ts_rank({PG_DOCUMENT}, q) AS rank "
            "FROM records r JOIN connector_configs c ON c.id = r.connector_config_id, "
            "websearch_to_tsquery('simple', :q) q "
            f"WHERE {PG_DOCUMENT} @@ q{scope} ORDER BY rank DESC, r.external_id LIMIT :n"
        )
    else:
        params["q"] = _sqlite_match(query)
        if not params["q"]:
            return []
        sql = (
            "SELECT c.provider, r.entity_type, r.external_id, r.payload, "
            "-bm25(records_fts) AS rank FROM records_fts "
            "JOIN records r ON r.rowid = records_fts.rowid "
            "JOIN connector_configs c ON c.id = r.connector_config_id "
            f"WHERE records_fts MATCH :q{scope} ORDER BY rank DESC, r.external_id LIMIT :n"
        )
    async with database.read() as conn:
        rows = (await conn.execute(text(sql), params)).all()
    return [
        SearchHit(
            row.provider,
            row.entity_type,
            row.external_id,
            row.payload if isinstance(row.payload, dict) else orjson.loads(row.payload),
            float(row.rank),
        )
        for row in rows
    ]
