"""The data route's reference: the same keyset SQL with psycopg, the same JSON, nothing else.

``python -m bench.data_reference PORT DATABASE_URL CONFIG_ID USER_ID``: a bare Starlette app on
uvicorn (the gateway's own server, with the same defaults) whose ``GET /ref`` answers
``{"provider", "entity_type", "items", "next_cursor"}`` for ``?limit=&cursor=`` (the cursor is
the last external id, in clear). No authentication, no validation, no entity model: the floor
that the gateway's data route is measured against.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import uvicorn
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_SQL = (
    "SELECT external_id, payload FROM records WHERE connector_config_id = %s AND user_id = %s "
    "AND entity_type = %s AND deleted_at IS NULL AND external_id > %s "
    "ORDER BY external_id LIMIT %s"
)


def build(database_url: str, config_id: str, user_id: str) -> Starlette:
    pool = AsyncConnectionPool(database_url, min_size=5, max_size=5, open=False)

    async def page(request: Request) -> Response:
        limit = int(request.query_params.get("limit", "100"))
        after = request.query_params.get("cursor", "")
        async with pool.connection() as conn:
            cur = await conn.execute(_SQL, (config_id, user_id, "contacts", after, limit + 1))
            rows = await cur.fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        body: dict[str, Any] = {
            "provider": "sandbox",
            "entity_type": "contacts",
            "items": [payload for _id, payload in rows],
            "next_cursor": rows[-1][0] if more else None,
        }
        return Response(orjson.dumps(body), media_type="application/json")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await pool.open()
        try:
            yield
        finally:
            await pool.close()

    return Starlette(routes=[Route("/ref", page)], lifespan=lifespan)


def main() -> None:
    port, database_url, config_id, user_id = sys.argv[1:5]
    app = build(database_url, config_id, user_id)
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
