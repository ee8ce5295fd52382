"""Sync benchmark: the framework against the hardware limit, on one machine.

    python -m bench.sync_bench [--records 50000] [--database-url postgresql://…]

See bench/README.md. Every measured phase runs in a process of its own, so that its peak RSS is
its own; times are taken inside the process around the work (not interpreter start-up).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))  # until the package is installed in the venv

DEFAULT_DB = os.environ.get("AIT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _peak_rss_mb() -> float:
    """Peak RSS of this process since it started running this program.

    ``VmHWM``, not ``getrusage().ru_maxrss``: Linux carries ru_maxrss over ``exec``, so a child
    forked from a big parent would report the parent's size.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # not Linux


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------------
# Child processes: one measured phase each; print one JSON line


async def child_fetch(base_url: str, copy_to: str | None) -> dict[str, Any]:
    """Plain httpx download of every page (following Link); with ``copy_to``, also COPY each
    raw body into a table, one transaction per page, the next download overlapping the COPY."""
    import httpx
    import psycopg

    from bench.mock_github import TOKEN

    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}
    pg = None
    if copy_to is not None:
        pg = await psycopg.AsyncConnection.connect(copy_to)
        await pg.execute("CREATE TABLE IF NOT EXISTS bench_limit (page integer, body text)")
        await pg.execute("TRUNCATE bench_limit")
        await pg.commit()
    records = pages = 0
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0) as client:

        async def get(url: str) -> httpx.Response:
            response = await client.get(url)
            response.raise_for_status()
            return response

        started, cpu = time.perf_counter(), _cpu_seconds()
        url: str | None = "/user/repos?per_page=100"
        pending = asyncio.create_task(get(url))
        while pending is not None:
            response = await pending
            link = response.links.get("next")
            url = link["url"] if link else None
            pending = asyncio.create_task(get(url)) if url else None
            body = response.content
            pages += 1
            # Counting records needs no parse: every object has exactly one "node_id" key
            # at the repository level, and one "node_id" in its owner and license.
            records += body.count(b'"full_name"')
            if pg is not None:
                async with (
                    pg.cursor() as cur,
                    cur.copy("COPY bench_limit (page, body) FROM STDIN") as copy,
                ):
                    await copy.write(
                        str(pages).encode() + b"\t" + body.replace(b"\\", b"\\\\") + b"\n"
                    )
                await pg.commit()
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    if pg is not None:
        await pg.close()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "records": records,
        "pages": pages,
        "peak_rss_mb": _peak_rss_mb(),
    }


async def child_sync(base_url: str, database_url: str, config_id: str) -> dict[str, Any]:
    """One run of the real framework: ConnectorService.sync() of GitHub repositories."""
    from ait_connectors.storage.db import Database
    from bench.bench_vendor import BenchConnection, GitHubBenchService

    database = Database(database_url)
    service = GitHubBenchService(BenchConnection(base_url, config_id), database)
    started, cpu = time.perf_counter(), _cpu_seconds()
    (result,) = await service.sync(["repositories"])
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    await database.dispose()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "records": result.added + result.updated + result.unchanged,
        "status": result.status,
        "error": result.error,
        "added": result.added,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "deleted": result.deleted,
        "pages": result.pages,
        "pages_skipped": result.pages_skipped,
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_child(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.sync_bench", "--child", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"phase {args[0]} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# Orchestration


def start_server(records: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.mock_github", "--records", str(records)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the pages are rendered
    if not line.startswith("ready"):
        proc.kill()
        raise RuntimeError(f"mock server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{line.split()[1]}"


def mutate(base_url: str, fraction: float) -> list[int]:
    import httpx

    response = httpx.post(f"{base_url}/_admin/mutate", params={"fraction": fraction, "seed": 7})
    response.raise_for_status()
    return list(response.json())


class Bench:
    def __init__(self, server_url: str, records: int) -> None:
        self.server_url = server_url
        self.records = records
        self.name = f"ait_bench_{uuid.uuid4().hex[:8]}"
        self.database_url = ""
        self.config_id = str(uuid.uuid4())

    def create_database(self, admin_url: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self.database_url = admin_url.rsplit("/", 1)[0] + "/" + self.name
        asyncio.run(self._prepare())

    async def _prepare(self) -> None:
        from sqlalchemy import text

        from ait_connectors.storage.db import Database

        database = Database(self.database_url)
        await database.migrate()
        async with database.transaction() as conn:
            await conn.execute(
                text(
                    "INSERT INTO connector_configs (id, provider, owner, name, client_id_enc, "
                    "redirect_uri_enc, overrides, enabled, status, version, created_at, "
                    "updated_at) VALUES (:id, 'github', 'bench', 'bench', 'x', 'x', '{}', true, "
                    "'active', 1, now(), now())"
                ),
                {"id": self.config_id},
            )
        await database.dispose()

    def drop_database(self, admin_url: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )

    def row_versions(self) -> dict[str, str]:
        """external_id -> xmin: a row rewritten in any way gets a new xmin."""
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute("SELECT external_id, xmin::text FROM records").fetchall()
        return dict(rows)

    def sync_phase(self) -> dict[str, Any]:
        before = self.row_versions()
        result = run_child("sync", self.server_url, self.database_url, self.config_id)
        after = self.row_versions()
        written = {k for k, v in after.items() if before.get(k) != v}
        result["db_rows_written"] = len(written)
        result["written_ids"] = written
        if result["status"] != "succeeded":
            raise RuntimeError(f"sync failed: {result['error']}")
        return result


def fmt_row(cells: list[str], widths: list[int]) -> str:
    return (
        "| "
        + " | ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        + " |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--database-url", default=DEFAULT_DB, help="server to create a DB on")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        phase, *rest = args.child
        if phase == "fetch":
            out = asyncio.run(child_fetch(rest[0], None))
        elif phase == "limit":
            out = asyncio.run(child_fetch(rest[0], rest[1]))
        else:
            out = asyncio.run(child_sync(rest[0], rest[1], rest[2]))
        print(json.dumps(out), flush=True)
        return

    admin_url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    print(f"rendering {args.records:,} repositories in the mock server…", flush=True)
    server, server_url = start_server(args.records)
    bench = Bench(server_url, args.records)
    try:
        bench.create_database(admin_url)
        print(f"database {bench.name}; running phases…", flush=True)
        fetch = min((run_child("fetch", server_url) for _ in range(2)), key=lambda r: r["seconds"])
        limit = run_child("limit", server_url, bench.database_url)
        full = bench.sync_phase()
        unchanged = bench.sync_phase()
        changed_ids = mutate(server_url, 0.01)
        changed = bench.sync_phase()
    finally:
        server.terminate()
        server.wait(timeout=10)
        if not args.keep_db and bench.database_url:
            bench.drop_database(admin_url)

    n = args.records
    rows = [
        ("plain fetch (httpx)", fetch, "-", "-"),
        ("limit: fetch + COPY raw JSON", limit, f"{limit['pages']} pages", "-"),
        (
            "full sync",
            full,
            f"{full['added'] + full['updated']} / {full['db_rows_written']}",
            f"{n / full['seconds'] / (n / limit['seconds']):.2f} x limit",
        ),
        (
            "re-sync, unchanged",
            unchanged,
            f"{unchanged['added'] + unchanged['updated']} / {unchanged['db_rows_written']}",
            f"{(n / unchanged['seconds']) / (n / fetch['seconds']):.2f} x fetch",
        ),
        (
            "re-sync, 1 % changed",
            changed,
            f"{changed['added'] + changed['updated']} / {changed['db_rows_written']}",
            f"{(n / changed['seconds']) / (n / limit['seconds']):.2f} x limit",
        ),
    ]
    header = ["phase", "seconds", "records/s", "rows written (engine / db)", "peak RSS MB", "ratio"]
    table = [header] + [
        [
            name,
            f"{r['seconds']:.2f}",
            f"{n / r['seconds']:,.0f}",
            written,
            f"{r['peak_rss_mb']:.0f}",
            ratio,
        ]
        for name, r, written, ratio in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print()
    print(f"{n:,} GitHub-shaped repositories (~5 KB each, 100 per page), PostgreSQL, 1 machine")
    print(fmt_row(table[0], widths))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in table[1:]:
        print(fmt_row(row, widths))
    exact = changed["written_ids"] == {str(i) for i in changed_ids}
    print()
    print(
        f"1 % changed: {len(changed_ids)} repositories changed at the vendor; the rows rewritten "
        f"are exactly those: {exact}"
    )
    checks = {
        "full sync >= 0.7 x limit": n / full["seconds"] >= 0.7 * n / limit["seconds"],
        "unchanged re-sync writes 0 rows": unchanged["db_rows_written"] == 0
        and unchanged["added"] + unchanged["updated"] == 0,
        "unchanged re-sync >= 0.7 x plain fetch": n / unchanged["seconds"]
        >= 0.7 * n / fetch["seconds"],
        "1 % changed writes exactly those rows": exact and changed["updated"] == len(changed_ids),
        "peak RSS < 150 MB (every sync phase)": max(
            r["peak_rss_mb"] for r in (full, unchanged, changed)
        )
        < 150,
    }
    for name, ok in checks.items():
        print(f"  [{'x' if ok else ' '}] {name}")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
