"""The reference pipeline: what a sync written for the hardware limit does, and nothing else.

httpx downloads every page (following ``Link``, the next download overlapping the work on this
one); each record is parsed (orjson), its canonical JSON (sorted keys, compact) is hashed
(SHA-256), and the page is sent with ``COPY`` into a staging table and merged with
``INSERT … ON CONFLICT … DO UPDATE … WHERE checksum IS DISTINCT FROM`` — one transaction per page.
It stores every record in full (more bytes than the framework, which keeps the fields an entity
declares), holds a static bearer token, and does no pacing, no resume bookkeeping, no fingerprints.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import httpx
import orjson
import psycopg

from .measure import cpu_seconds, peak_rss_mb
from .mock_github import TOKEN

_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_reference (external_id text PRIMARY KEY, "
    "checksum text NOT NULL, payload jsonb NOT NULL, updated_at timestamptz NOT NULL)"
)
_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS reference_stage (external_id text, checksum text, "
    "payload jsonb) ON COMMIT DELETE ROWS"
)
_MERGE = (
    "INSERT INTO bench_reference AS r (external_id, checksum, payload, updated_at) "
    "SELECT external_id, checksum, payload, now() FROM reference_stage "
    "ON CONFLICT (external_id) DO UPDATE SET checksum = EXCLUDED.checksum, "
    "payload = EXCLUDED.payload, updated_at = EXCLUDED.updated_at "
    "WHERE r.checksum IS DISTINCT FROM EXCLUDED.checksum"
)


def copy_rows(body: bytes) -> tuple[bytes, int]:
    """The page's COPY text (external id, checksum, canonical payload) and its record count."""
    lines = []
    items = orjson.loads(body)
    for item in items:
        canonical = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha256(canonical).hexdigest().encode()
        lines.append(b"%d\t%s\t%s\n" % (item["id"], digest, canonical.replace(b"\\", b"\\\\")))
    return b"".join(lines), len(items)


async def run(base_url: str, database_url: str, spawned_at: float) -> dict[str, Any]:
    """One run of the reference pipeline; start-up is measured from the spawn."""
    pg = await psycopg.AsyncConnection.connect(database_url)
    await pg.execute(_TABLE)
    await pg.execute(_STAGE)
    await pg.commit()
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}
    records = written = pages = 0
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60.0) as client:

        async def get(url: str) -> httpx.Response:
            response = await client.get(url)
            response.raise_for_status()
            return response

        startup = time.time() - spawned_at
        started, cpu = time.perf_counter(), cpu_seconds()
        pending: asyncio.Task[httpx.Response] | None = asyncio.create_task(
            get("/user/repos?per_page=100")
        )
        while pending is not None:
            response = await pending
            link = response.links.get("next")
            pending = asyncio.create_task(get(link["url"])) if link else None
            text, count = copy_rows(response.content)
            pages += 1
            records += count
            async with pg.cursor() as cur:
                async with cur.copy(
                    "COPY reference_stage (external_id, checksum, payload) FROM STDIN"
                ) as copy:
                    await copy.write(text)
                await cur.execute(_MERGE)
                written += cur.rowcount
            await pg.commit()
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    await pg.close()
    return {
        "seconds": seconds,
        "startup": startup,
        "cpu_seconds": cpu,
        "records": records,
        "written": written,
        "pages": pages,
        "peak_rss_mb": peak_rss_mb(),
    }
