"""A sync in a process of its own, for the crash-resume and bounded-memory tests.

    python sync_worker.py DB_URL VENDOR_URL CONFIG_ID [--per-page N]
                          [--memory WARM_VENDOR WARM_CONFIG]

Prints one JSON line: the run's counts, and with ``--memory`` the peak Python allocation
(tracemalloc) and peak RSS during the measured sync, after a warm-up sync of another connection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tracemalloc

import stamina
from sync_testkit import FakeConnection, MockService

from ait_connectors.storage.db import Database


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db_url")
    parser.add_argument("vendor_url")
    parser.add_argument("config_id")
    parser.add_argument("--per-page", type=int, default=10)
    parser.add_argument("--memory", nargs=2, metavar=("WARM_VENDOR", "WARM_CONFIG"))
    args = parser.parse_args()
    stamina.set_testing(True, attempts=3)
    database = Database(args.db_url)
    try:
        out: dict[str, object] = {}
        if args.memory:
            warm_vendor, warm_config = args.memory
            warm = MockService(FakeConnection(warm_vendor, warm_config), database, per_page=100)
            await warm.sync(["items"])
            tracemalloc.start()
            tracemalloc.reset_peak()
        svc = MockService(
            FakeConnection(args.vendor_url, args.config_id), database, per_page=args.per_page
        )
        (result,) = await svc.sync(["items"])
        if args.memory:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out["peak_traced"] = peak
            # VmHWM: ru_maxrss would include the pytest process this one was forked from.
            with open("/proc/self/status") as status:
                hwm = [line.split()[1] for line in status if line.startswith("VmHWM:")]
            out["max_rss_kb"] = int(hwm[0]) if hwm else 0
        out.update(
            status=result.status,
            added=result.added,
            updated=result.updated,
            unchanged=result.unchanged,
            pages=result.pages,
            error=result.error,
        )
        print(json.dumps(out), flush=True)
    finally:
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
