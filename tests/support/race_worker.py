"""The refresh race: OS processes of N concurrent tasks, each asking for one connection's token.

:func:`expire` makes the stored token look expired to every process; :func:`run_race` starts the
processes at one barrier and returns every task's token (or ``"ERROR …"``).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from ait_connectors.connector import BaseConnector
from ait_connectors.crypto import Cipher
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.providers import register_provider
from ait_connectors.providers.spec import ProviderSpec
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database
from ait_connectors.storage.models import OAuthTokenRow


async def race(args: dict[str, Any], barrier: Any) -> list[str]:
    # A runtime provider must be registered in this process; a built-in one (slack) is replaced
    # by the very same spec.
    register_provider(ProviderSpec.model_validate(args["spec"]), replace=True)
    # At most 4 connections a process: 25 tasks reading the token at the start line would
    # otherwise open 15 each (pool and overflow), and the suite's other workers share the
    # server's 100. The race is between the processes' row locks, one connection each.
    database = Database(args["db_url"], pool_size=4, max_overflow=0)
    factory = ConnectorServiceFactory(
        database, Cipher(bytes.fromhex(args["key"])), Settings(token_expiry_skew=0)
    )
    try:
        connector = await factory.get_connector(args["config_id"], args["user_id"])
        async with database.connect():  # open a pooled connection before the start line
            pass
        await asyncio.to_thread(barrier.wait)
        results = await asyncio.gather(
            *(connector.get_access_token() for _ in range(args["tasks"])), return_exceptions=True
        )
    finally:
        await database.dispose()
    return [r if isinstance(r, str) else f"ERROR {type(r).__name__}: {r}" for r in results]


def run(args_json: str, barrier: Any, queue: Any) -> None:
    """Entry point of a spawned process; puts its tokens (or errors) on ``queue``."""
    try:
        queue.put(asyncio.run(race(json.loads(args_json), barrier)))
    except BaseException as exc:  # report, don't hang the parent
        queue.put([f"ERROR {type(exc).__name__}: {exc}"])
        raise


async def expire(database: Database, user_id: str) -> None:
    """Past its expiry, as far as every process can tell."""
    table = OAuthTokenRow.__table__
    async with database.transaction() as conn:
        await conn.execute(
            update(table)
            .where(table.c.user_id == user_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def run_race(
    connector: BaseConnector, db_url: str, key: str, *, processes: int, tasks: int
) -> list[str]:
    """Every task's token from ``processes`` spawned processes of ``tasks`` tasks each; each
    process must exit cleanly."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    queue = ctx.Queue()
    args = json.dumps(
        {
            "spec": connector.provider.model_dump(mode="json"),
            "db_url": db_url,
            "key": key,
            "config_id": connector.connector_config_id,
            "user_id": connector.user_id,
            "tasks": tasks,
        }
    )
    started = [ctx.Process(target=run, args=(args, barrier, queue)) for _ in range(processes)]
    for process in started:
        process.start()
    results: list[str] = []
    for _ in started:
        results.extend(queue.get(timeout=120))
    for process in started:
        process.join(timeout=30)
        assert process.exitcode == 0
    return results


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run through tests/e2e/test_refresh_race.py")
