"""Ack latency of the provider webhooks: ``POST /api/webhooks/sandbox`` at 100 events/s.

``python -m bench.webhook_ack`` (see bench/README.md): a real gateway process
(``ait-connectors serve``, SQLite by default, ``--database`` for a throwaway PostgreSQL
database), a user connected to the sandbox through its OAuth flow (so the events are routed and
their debounced syncs really run meanwhile: in a worker process on PostgreSQL, as deployed, or
in the gateway with ``--inline`` and always on SQLite), then two phases at the same rate,
open loop (each request is sent at its scheduled time, whatever the previous answers did):
``GET /health`` (the reference: the cheapest route) and signed webhook deliveries, each with a
new delivery id. The table shows p50/p99 of both and their ratio; the goal is a p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx

from .data_api_bench import CLI, _stop, deployment_env, serve_gateway

DEFAULT_DB = os.environ.get("AIT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
GOAL_P99_MS = 50.0
USER = "bench"


def connect_sandbox(base: str, api_key: str) -> None:
    """The sandbox's OAuth flow, answered like a user (routing keys are recorded then)."""
    with httpx.Client(base_url=base, headers={"X-API-Key": api_key}) as browser:
        start = browser.get("/api/sandbox/auth", params={"user_id": USER})
        location = start.headers["location"]
        if "/auth/start?" in location:
            location = browser.get(location).headers["location"]
        page = browser.get(location)
        fields = {
            name: html.unescape(value)
            for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)
        }
        fields["decision"] = "approve"
        back = browser.post(location.split("?", 1)[0], data=fields)
        done = browser.get(back.headers["location"])
        if done.status_code != 200:
            raise RuntimeError(f"connecting the sandbox failed: {done.text}")


async def api_key(database_url: str, key: str) -> str:
    from ait_connectors.runtime import Connectors
    from ait_connectors.settings import Settings
    from ait_connectors.storage.api_keys import ApiKeyStore

    settings = Settings(database_url=database_url, encryption_key=key)
    async with await Connectors.open(settings) as connectors:
        return (await ApiKeyStore(connectors.database).create("bench")).key


async def paced(
    rate: float, seconds: float, send: Callable[[httpx.AsyncClient, int], object]
) -> list[float]:
    """Send ``rate`` requests a second for ``seconds``, open loop; latencies in ms."""
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def one(i: int) -> None:
            nonlocal failures
            started = time.perf_counter()
            response = await send(client, i)  # type: ignore[misc]
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failures += 1

        begin = time.perf_counter()
        tasks = []
        for i in range(int(rate * seconds)):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    if failures:
        raise RuntimeError(f"{failures} requests failed")
    return latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    parser.add_argument(
        "--database", help="a PostgreSQL admin URL (a throwaway database is made); default SQLite"
    )
    parser.add_argument(
        "--inline",
        action="store_true",
        help="PostgreSQL: syncs in the gateway process (AIT_JOBS=inline) instead of the "
        "deployment's default, a queue and a worker process (SQLite is always inline)",
    )
    parser.add_argument(
        "--unrouted",
        action="store_true",
        help="events for no connection: the ack path alone, no syncs running meanwhile",
    )
    args = parser.parse_args()

    from ait_connectors import generate_key
    from ait_connectors.crypto import Cipher
    from ait_connectors.inbound.pipeline import FRAMEWORK_KEY_PURPOSE
    from ait_connectors.storage.db import Database
    from ait_connectors.vendors.sandbox import sign_delivery

    key = generate_key()
    secret = Cipher(bytes.fromhex(key)).derive_key(FRAMEWORK_KEY_PURPOSE).hex()
    with ExitStack() as stack:
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        database_url = f"sqlite+aiosqlite:///{data_dir / 'ait-connectors.db'}"
        if args.database:
            database_url = _throwaway(stack, args.database)
        asyncio.run(_migrate(Database, database_url))
        queued = bool(args.database) and not args.inline
        jobs = {"AIT_DATA_DIR": str(data_dir), "AIT_JOBS": "queue" if queued else "inline"}
        _, base = serve_gateway(stack, database_url, key, **jobs)
        if queued:
            _worker(stack, deployment_env(database_url, key, **jobs))
        connect_sandbox(base, asyncio.run(api_key(database_url, key)))

        def health(client: httpx.AsyncClient, i: int) -> object:
            return client.get(f"{base}/health")

        run = uuid.uuid4().hex[:8]
        account = "nobody" if args.unrouted else "sandbox-user"
        event = {"account": account, "kind": "contacts.updated", "entity_types": ["contacts"]}
        body = json.dumps(event).encode()

        def webhook(client: httpx.AsyncClient, i: int) -> object:
            headers = sign_delivery(secret, f"bench-{run}-{i}", body, time.time())
            return client.post(f"{base}/api/webhooks/sandbox", content=body, headers=headers)

        reference = asyncio.run(paced(args.rate, args.seconds, health))
        acks = asyncio.run(paced(args.rate, args.seconds, webhook))
        syncs = asyncio.run(_sync_runs(Database, database_url))

    rows = [("GET /health (reference)", reference), ("POST /api/webhooks/sandbox", acks)]
    where = _where(args.database) + (", syncs in a worker" if queued else ", syncs in the gateway")
    print(f"{args.rate:.0f} requests/s for {args.seconds:.0f} s each, {where}")
    print(f"{'route':<30}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, values in rows:
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(f"{name:<30}{len(values):>10}{p50:>10.1f}{p99:>10.1f}")
    ack_p99, ref_p99 = percentile(acks, 99), percentile(reference, 99)
    ratio50 = percentile(acks, 50) / percentile(reference, 50)
    print(f"webhook / reference: p50 {ratio50:.2f}x, p99 {ack_p99 / ref_p99:.2f}x")
    print(f"sync runs meanwhile (debounced): {syncs}")
    print(f"webhook ack p99: {ack_p99:.1f} ms (goal < {GOAL_P99_MS:.0f} ms)")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    sys.exit(0 if ack_p99 < GOAL_P99_MS else 1)


def _worker(stack: ExitStack, env: dict[str, str]) -> None:
    """``ait-connectors worker`` of the same deployment (stopped with ``stack``)."""
    worker = subprocess.Popen(
        [str(CLI), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    stack.callback(_stop, worker)


def _where(database: str | None) -> str:
    return "PostgreSQL" if database else "SQLite (embedded)"


async def _migrate(database_class: type, url: str) -> None:
    database = database_class(url)
    try:
        await database.migrate()
    finally:
        await database.dispose()


async def _sync_runs(database_class: type, url: str) -> int:
    from sqlalchemy import text

    database = database_class(url)
    try:
        async with database.read() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM sync_runs"))).scalar_one())
    finally:
        await database.dispose()


def _throwaway(stack: ExitStack, admin_url: str) -> str:
    import psycopg
    from psycopg import sql

    name = f"ait_bench_hooks_{uuid.uuid4().hex[:8]}"
    admin = stack.enter_context(psycopg.connect(admin_url, autocommit=True))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    stack.callback(
        admin.execute,
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
    )
    return admin_url.rsplit("/", 1)[0] + "/" + name


if __name__ == "__main__":
    main()
