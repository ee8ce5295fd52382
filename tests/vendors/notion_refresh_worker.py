"""One OS process of the Notion refresh race: N tasks that all saw the same token rejected (401)
ask for a fresh one at once (run through ``test_notion_refresh_race``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ait_connectors.crypto import Cipher
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.storage.db import Database


async def race(args: dict[str, Any], barrier: Any) -> list[str]:
    database = Database(args["db_url"])
    factory = ConnectorServiceFactory(database, Cipher(bytes.fromhex(args["key"])))
    try:
        connector = await factory.get_connector(args["config_id"], args["user_id"])
        async with database.connect():  # open a pooled connection before the start line
            pass
        await asyncio.to_thread(barrier.wait)
        results = await asyncio.gather(
            *(connector.refresh(rejected_token=args["rejected"]) for _ in range(args["tasks"])),
            return_exceptions=True,
        )
    finally:
        await database.dispose()
    return [
        f"ERROR {type(r).__name__}: {r}"
        if isinstance(r, BaseException)
        else r.access_token.get_secret_value()
        for r in results
    ]


def run(args_json: str, barrier: Any, queue: Any) -> None:
    """Entry point of a spawned process; puts its tokens (or errors) on ``queue``."""
    try:
        queue.put(asyncio.run(race(json.loads(args_json), barrier)))
    except BaseException as exc:  # report, don't hang the parent
        queue.put([f"ERROR {type(exc).__name__}: {exc}"])
        raise
