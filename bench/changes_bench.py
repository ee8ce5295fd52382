"""Changes feed benchmark: what the feed costs a full sync, how fast it reads, and its guarantee
under concurrent writers, in one run.

    python -m bench.changes_bench [--records 50000] [--repeat 3] [--writers 8] [--changes 10000]
                                  [--database-url postgresql://…]

1. Write overhead: the full sync of ``sync_bench`` (the shipped GitHub vendor against the mock
   server, each sync in a process of its own, a fresh PostgreSQL database each), side by side
   with the feed off and on (alternating which goes first), and the reference pipeline of
   issue 11 in the same repetition. Goal: the feed adds at most 15 %.
2. Feed throughput: the whole feed the full sync wrote, read page by page
   (``ChangeFeed.page``, 1,000 a page): changes per second.
3. Guarantee: ``--writers`` processes x ``--changes`` changes with random commit delays and a
   polling consumer (``bench/changes_harness.py``), on PostgreSQL and SQLite: missed, duplicated,
   out of order (all must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from typing import Any

from bench.sync_bench import DEFAULT_DB, Repetition, alternating, run_child, start_server

GOAL = 0.15  # most write overhead the feed may add to a full sync


def full_sync(rep: Repetition, feed: str) -> dict[str, Any]:
    phase = "sync" if feed == "on" else "sync-feed-off"
    result = run_child(phase, rep.database_url, rep.key, rep.config_id)
    if result["status"] != "succeeded":
        raise RuntimeError(f"sync failed: {result['error']}")
    return result


async def read_feed(url: str) -> tuple[int, float]:
    from ait_connectors.storage.db import Database
    from bench.changes_harness import read_all

    database = Database(url)
    try:
        return await read_all(database, limit=1000)
    finally:
        await database.dispose()


def overhead(server_url: str, admin_url: str, records: int, repeat: int) -> bool:
    def measure(repetition: int, feed: str, first: bool, rep: Repetition) -> dict[str, float]:
        found = {feed: full_sync(rep, feed)["seconds"]}
        if feed == "on":
            count, spent = asyncio.run(read_feed(rep.database_url))
            if count != records:
                raise RuntimeError(f"the feed holds {count} changes, not {records}")
            found["read"] = count / spent
        if repetition == 0 and first:
            found["reference"] = run_child("reference", server_url, rep.database_url)["seconds"]
        return found

    rows: list[dict[str, float]] = []
    for repetition, seconds in alternating(server_url, admin_url, records, repeat, measure):
        print(
            f"  repetition {repetition + 1}: feed off {seconds['off']:.2f} s, "
            f"on {seconds['on']:.2f} s, read {seconds['read']:,.0f} changes/s",
            flush=True,
        )
        rows.append(seconds)
    off = statistics.median(r["off"] for r in rows)
    on = statistics.median(r["on"] for r in rows)
    read = statistics.median(r["read"] for r in rows)
    reference = rows[0]["reference"]
    added = on / off - 1
    print(f"\nfull sync of {records:,} records (median of {repeat}):")
    print(f"  reference pipeline         {reference:8.2f} s")
    print(f"  framework, feed off        {off:8.2f} s   ({reference / off:.2f}x the reference)")
    print(f"  framework, feed on         {on:8.2f} s   ({reference / on:.2f}x the reference)")
    print(f"  write overhead of the feed {added * 100:7.1f} %   (goal <= {GOAL * 100:.0f} %)")
    print(f"  feed read throughput       {read:8,.0f} changes/s")
    return added <= GOAL


async def guarantee(url: str, writers: int, changes: int) -> bool:
    from ait_connectors import generate_key
    from ait_connectors.storage.db import Database
    from bench.changes_harness import consume
    from bench.public_sync import prepare

    config_id = await prepare(url, generate_key(), "http://127.0.0.1:9")  # migrates too
    database = Database(url)
    try:
        outcome = await consume(
            url=url,
            database=database,
            config_id=config_id,
            writers=writers,
            changes=changes,
            batch=min(500, changes),  # changes // batch transactions a writer: never none
            deadline=1800,
        )
    finally:
        await database.dispose()
    print(
        f"  {database.dialect}: {writers} writers x {changes:,} changes in "
        f"{outcome.write_seconds:.1f} s, {outcome.polls} polls: received {outcome.received:,} "
        f"of {outcome.expected:,}, missed {outcome.missed}, duplicated {outcome.duplicated}, "
        f"out of order {outcome.out_of_order}",
        flush=True,
    )
    return outcome.ok and outcome.received == outcome.expected


def concurrent(admin_url: str, writers: int, changes: int) -> bool:
    import uuid

    import psycopg
    from psycopg import sql

    print(f"\nconcurrent writers ({writers} x {changes:,} changes, random commit delays):")
    name = f"ait_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        pg_url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        ok = asyncio.run(guarantee(f"{pg_url}/{name}", writers, changes))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    with tempfile.TemporaryDirectory() as folder:
        ok = (
            asyncio.run(guarantee(f"sqlite+aiosqlite:///{folder}/feed.db", writers, changes)) and ok
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--changes", type=int, default=10_000, help="per writer (at least 1)")
    parser.add_argument("--database-url", default=DEFAULT_DB, help="server to create DBs on")
    parser.add_argument("--skip-sync", action="store_true", help="only the concurrent writers")
    args = parser.parse_args()
    if args.changes < 1:
        parser.error("--changes must be at least 1")
    admin_url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    ok = True
    if not args.skip_sync:
        print(f"rendering {args.records:,} repositories in the mock server…", flush=True)
        server, server_url = start_server(args.records)
        try:
            ok = overhead(server_url, admin_url, args.records, args.repeat)
        finally:
            server.terminate()
            server.wait(timeout=10)
    ok = concurrent(admin_url, args.writers, args.changes) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
