"""Latency of the MCP query tool on PostgreSQL with 100,000 records (issue 18).

``python -m bench.mcp_query`` (from the repository root): a throwaway database, a real gateway
process (``ait-connectors serve``), the user's contacts written through the sync engine's writer
(as in ``bench/data_api_bench.py``), then sequential calls (one client, like one assistant)
through the SDK's own Streamable HTTP client with an API-key session. Side by side, in the same
run: the REST records route (``GET /api/sandbox/data/contacts``, no filters: it has none) and
the same filtered query as raw SQL with psycopg (no HTTP, no JSON-RPC: the floor). Prints p50
and p95 per scenario and the ratios; exits 1 when a query tool p95 is 100 ms or more.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import Any

import httpx

from bench.data_api_bench import DEFAULT_DB, USER, scratch_database, seed, serve_gateway

GOAL_P95_MS = 100.0
RAW_SQL = (
    "SELECT external_id, payload FROM records WHERE connector_config_id = %s AND user_id = %s "
    "AND entity_type = 'contacts' AND deleted_at IS NULL AND (payload ->> 'score')::bigint >= 50 "
    "ORDER BY external_id LIMIT 21"
)
RAW_SQL_ORDERED = (
    "SELECT external_id, payload FROM records WHERE connector_config_id = %s AND user_id = %s "
    "AND entity_type = 'contacts' AND deleted_at IS NULL AND payload ->> 'city' = %s "
    "ORDER BY COALESCE(payload -> 'score', 'null'::jsonb) DESC, external_id DESC LIMIT 21"
)


async def timed(calls: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    for _ in range(5):  # warm-up: connections, statement caches
        await call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1]


async def measure(
    base: str, seeded: dict[str, str], database_url: str, calls: int
) -> dict[str, list[float]]:
    import psycopg
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    results: dict[str, list[float]] = {}
    bearer = {"Authorization": f"Bearer {seeded['api_key']}:{USER}"}
    score = [{"field": "score", "op": "gte", "value": 50}]
    city = [{"field": "city", "op": "eq", "value": "Lisbon"}]
    async with (
        httpx.AsyncClient(headers=bearer, timeout=30) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()

        async def tool(**arguments: Any) -> None:
            result = await session.call_tool("query_records", arguments)
            assert not result.isError, result.content

        contacts = {"provider": "sandbox", "entity_type": "contacts", "limit": 20}
        results["mcp query_records score>=50, first page"] = await timed(
            calls, lambda: tool(**contacts, filters=score)
        )
        results["mcp query_records city=, by score desc"] = await timed(
            calls, lambda: tool(**contacts, filters=city, order_by="score", descending=True)
        )
    rest = {"X-API-Key": seeded["api_key"]}
    async with httpx.AsyncClient(base_url=base, headers=rest, timeout=30) as client:

        async def data() -> None:
            answer = await client.get(f"/api/sandbox/data/contacts?limit=20&user_id={USER}")
            answer.raise_for_status()

        results["REST /api/sandbox/data/contacts (no filter)"] = await timed(calls, data)
    plain = database_url.replace("postgresql+psycopg://", "postgresql://")
    async with await psycopg.AsyncConnection.connect(plain) as conn:
        args = (seeded["config_id"], USER)

        async def raw(sql: str, params: tuple[str, ...]) -> None:
            await (await conn.execute(sql, params)).fetchall()

        results["raw SQL score>=50 (psycopg)"] = await timed(calls, lambda: raw(RAW_SQL, args))
        results["raw SQL city=, by score desc"] = await timed(
            calls, lambda: raw(RAW_SQL_ORDERED, (*args, "Lisbon"))
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=300, help="per scenario")
    parser.add_argument("--database", default=DEFAULT_DB, help="an admin URL (a database is made)")
    args = parser.parse_args()

    import psycopg

    from ait_connectors import generate_key

    key = generate_key()
    with ExitStack() as stack:
        database_url = scratch_database(stack, args.database, "mcp")
        _, base = serve_gateway(stack, database_url, key)
        started = time.perf_counter()
        seeded = asyncio.run(seed(database_url, key, args.records))
        print(f"seeded {args.records:,} records in {time.perf_counter() - started:.0f} s")
        with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("ANALYZE records")
        results = asyncio.run(measure(base, seeded, database_url, args.calls))

    floor = {name: p(samples, 95) for name, samples in results.items()}
    print(f"\n{'scenario':50} {'p50 ms':>8} {'p95 ms':>8}")
    for name, samples in results.items():
        print(f"{name:50} {p(samples, 50):8.1f} {floor[name]:8.1f}")
    names = list(results)
    first, ordered, rest, raw, raw_ordered = names
    print()
    print(f"query tool p95 / REST route p95:  {floor[first] / floor[rest]:.2f}x")
    print(f"query tool p95 / raw SQL p95:     {floor[first] / floor[raw]:.2f}x")
    print(f"ordered query p95 / raw SQL p95:  {floor[ordered] / floor[raw_ordered]:.2f}x")
    worst = max(floor[first], floor[ordered])
    print(f"worst query tool p95: {worst:.1f} ms (goal < {GOAL_P95_MS:.0f} ms)")
    raise SystemExit(0 if worst < GOAL_P95_MS else 1)


if __name__ == "__main__":
    main()
