"""Load benchmark of the gateway's read routes on PostgreSQL with 100,000 synced records.

``python -m bench.data_api_bench`` (see bench/README.md): a throwaway database, a real gateway
process (``ait-connectors serve``), the bare reference (``bench/data_reference.py``), and ``wrk``
as the load generator. Each scenario runs ``wrk`` with 50 connections against one route while a
second ``wrk`` (one connection) measures ``/health``; the table shows both side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).with_name("ait-connectors")
DEFAULT_DB = os.environ.get("AIT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
USER = "bench"
GOAL_RATIO = 0.7
GOAL_HEALTH_P99_MS = 50.0

# Follows the cursor of the last answer this wrk thread read (``next_cursor`` of the gateway and
# of the reference; ``next_offset`` of gateways from before keyset paging); at the end of the
# records it starts again from the first page.
_PAGING_LUA = """
local path, follow
function init(args) path = args[1] end
function request()
  if follow then return wrk.format("GET", path .. follow) end
  return wrk.format("GET", path)
end
function response(status, headers, body)
  if status ~= 200 then follow = nil return end
  local c = string.match(body, '"next_cursor":"([^"]+)"')
  if c then follow = "&cursor=" .. c return end
  local o = string.match(body, '"next_offset":(%d+)')
  if o then follow = "&offset=" .. o else follow = nil end
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Load:
    """What one ``wrk`` run measured."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(output: str) -> Load:
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s*50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", output, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    errors = re.search(r"Socket errors:.*?timeout (\d+)", output)
    return Load(
        requests_per_s=rps,
        p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        errors=(int(bad.group(1)) if bad else 0) + (int(errors.group(1)) if errors else 0),
    )


def wrk(url: str, connections: int, seconds: int, headers: dict[str, str], lua: str | None):
    """Start ``wrk`` (returns the process; read it with :func:`finish`)."""
    args = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    args += ["--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    if lua is not None:
        args += ["-s", lua, url, "--", "/" + url.split("/", 3)[3]]
    else:
        args.append(url)
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen[str]) -> Load:
    output, _ = process.communicate(timeout=120)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed:\n{output}")
    return parse_wrk(output)


def scenario(
    url: str, health_url: str, headers: dict[str, str], lua: str | None, seconds: int
) -> tuple[Load, Load]:
    """``url`` at 50 connections, and ``/health`` (one connection) meanwhile."""
    load = wrk(url, 50, seconds, headers, lua)
    health = wrk(health_url, 1, seconds, {}, None)
    return finish(load), finish(health)


def scratch_database(stack: ExitStack, admin_url: str, purpose: str) -> str:
    """A new, migrated PostgreSQL database beside ``admin_url``'s (dropped with ``stack``)."""
    import psycopg
    from psycopg import sql

    from ait_connectors.storage.db import Database

    name = f"ait_bench_{purpose}_{uuid.uuid4().hex[:8]}"
    admin = stack.enter_context(psycopg.connect(admin_url, autocommit=True))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    stack.callback(
        admin.execute,
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
    )
    database_url = admin_url.rsplit("/", 1)[0] + "/" + name
    database = Database(database_url)
    asyncio.run(database.migrate())
    asyncio.run(database.dispose())
    return database_url


def serve_gateway(
    stack: ExitStack, database_url: str, key: str, **extra: str
) -> tuple[subprocess.Popen[Any], str]:
    """``ait-connectors serve`` on a free port (stopped with ``stack``), ready: (process, URL)."""
    port = free_port()
    gateway = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port)],
        env=deployment_env(database_url, key, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(_stop, gateway)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/health", gateway)
    return gateway, base


def deployment_env(database_url: str, key: str, **extra: str) -> dict[str, str]:
    """The environment of a gateway or worker of the bench's deployment (syncs run in the
    gateway unless ``extra`` says ``AIT_JOBS=queue``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
    return env | {
        "AIT_DATABASE_URL": database_url,
        "AIT_ENCRYPTION_KEY": key,
        "AIT_SANDBOX": "true",
        "AIT_JOBS": "inline",
        **extra,
    }


def wait_http(url: str, process: subprocess.Popen[Any], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({process.returncode})")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


async def seed(database_url: str, key: str, records: int) -> dict[str, str]:
    """The user's token, an API key, ``records`` contacts (through the sync engine's writer) and
    one finished run, on the sandbox config the gateway created at start-up."""
    from pydantic import SecretStr
    from sqlalchemy import insert

    from ait_connectors.entities import prepare_row
    from ait_connectors.oauth.tokens import TokenResponse
    from ait_connectors.runtime import Connectors
    from ait_connectors.settings import Settings
    from ait_connectors.storage.api_keys import ApiKeyStore
    from ait_connectors.storage.sync_models import SyncRunRow
    from ait_connectors.storage.sync_state import ConnectionKey
    from ait_connectors.sync.runs import RunHandle
    from ait_connectors.sync.writer import writer_for
    from ait_connectors.vendors.sandbox.data import contact
    from ait_connectors.vendors.sandbox.entities import SandboxContact

    settings = Settings(database_url=database_url, encryption_key=key, sandbox=True)
    async with await Connectors.open(settings) as connectors:
        config = await connectors.configs.find_for_provider("sandbox")
        assert config is not None, "the gateway did not create the sandbox config"
        await connectors.tokens.save_oauth_data(
            config.id, USER, TokenResponse(access_token=SecretStr("bench-access-token"))
        )
        api_key = (await ApiKeyStore(connectors.database).create("bench")).key
        writer = writer_for(connectors.database.dialect)
        connection = ConnectionKey(config.id, USER, "contacts")
        now = datetime.now(UTC)
        for start in range(1, records + 1, 1000):
            rows = [
                prepare_row(SandboxContact.model_validate(contact(i)))
                for i in range(start, min(start + 1000, records + 1))
            ]
            async with connectors.database.transaction() as conn:
                await writer.upsert(conn, connection, rows, generation=1, now=now)
        started = datetime.now(UTC)
        async with connectors.database.transaction() as conn:
            await conn.execute(
                insert(SyncRunRow.__table__).values(
                    id=str(uuid.uuid4()),
                    connector_config_id=config.id,
                    user_id=USER,
                    entity_type="contacts",
                    generation=1,
                    started_at=started,
                    finished_at=datetime.now(UTC),
                    status="succeeded",
                    scan_completed=True,
                    pages=records // 100,
                    added=records,
                    warnings=[],
                )
            )
    run_id = RunHandle(config.id, USER, ("contacts",), started).run_id
    return {"config_id": config.id, "api_key": api_key, "run_id": run_id}


def row(name: str, load: Load, health: Load) -> list[str]:
    return [
        name,
        f"{load.requests_per_s:,.0f}",
        f"{load.p50_ms:.1f}",
        f"{load.p99_ms:.1f}",
        str(load.errors),
        f"{health.p50_ms:.1f}",
        f"{health.p99_ms:.1f}",
    ]


def print_table(rows: list[list[str]]) -> None:
    head = ["route (50 clients)", "req/s", "p50 ms", "p99 ms", "errors", "/health p50", "p99"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for cells in [head, *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(cells, widths, strict=True))))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10, help="per scenario")
    parser.add_argument("--database", default=DEFAULT_DB, help="an admin URL (a database is made)")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the gateway during the data load")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    from ait_connectors import generate_key

    key = generate_key()
    with ExitStack() as stack:
        database_url = scratch_database(stack, args.database, "api")

        ref_port = free_port()
        gateway, base = serve_gateway(stack, database_url, key)
        started = time.perf_counter()
        seeded = asyncio.run(seed(database_url, key, args.records))
        print(f"seeded {args.records:,} records in {time.perf_counter() - started:.0f} s")
        reference = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.data_reference",
                str(ref_port),
                database_url,
                seeded["config_id"],
                USER,
            ],
            cwd=ROOT,
        )
        stack.callback(_stop, reference)
        ref_base = f"http://127.0.0.1:{ref_port}"
        wait_http(f"{ref_base}/ref", reference)

        headers = {"X-API-Key": seeded["api_key"]}
        lua = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".lua"))
        lua.write(_PAGING_LUA)
        lua.flush()
        health = f"{base}/health"
        q = f"user_id={USER}"
        table: list[list[str]] = []
        ref_load, ref_health = scenario(
            f"{ref_base}/ref?limit=100", health, {}, lua.name, args.seconds
        )
        table.append(row("reference (psycopg + Starlette)", ref_load, ref_health))
        spy = _profile(gateway.pid, args.profile, args.seconds) if args.profile else None
        data, data_health = scenario(
            f"{base}/api/sandbox/data/contacts?limit=100&{q}", health, headers, lua.name,
            args.seconds,
        )  # fmt: skip
        if spy is not None:
            spy.wait(timeout=60)
        table.append(row("GET /api/sandbox/data/contacts", data, data_health))
        conns, conns_health = scenario(
            f"{base}/api/connections?{q}", health, headers, None, args.seconds
        )
        table.append(row("GET /api/connections", conns, conns_health))
        runs, runs_health = scenario(
            f"{base}/api/sandbox/sync/{seeded['run_id']}", health, headers, None, args.seconds
        )
        table.append(row("GET /api/sandbox/sync/{run_id}", runs, runs_health))

    print()
    print_table(table)
    ratio = data.requests_per_s / ref_load.requests_per_s
    worst_health = max(h.p99_ms for h in (data_health, conns_health, runs_health))
    print()
    print(f"data route / reference: {ratio:.2f}x (goal >= {GOAL_RATIO}x)")
    print(f"/health p99 under load: {worst_health:.1f} ms (goal < {GOAL_HEALTH_P99_MS:.0f} ms)")
    errors = sum(x.errors for x in (ref_load, data, conns, runs))
    met = ratio >= GOAL_RATIO and worst_health < GOAL_HEALTH_P99_MS and errors == 0
    sys.exit(0 if met else 1)


def _profile(pid: int, out: str, seconds: int) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy not found (pip install py-spy): no profile", file=sys.stderr)
        return None
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "--output",
            out,
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
