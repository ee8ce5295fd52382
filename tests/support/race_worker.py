"""One OS process of the refresh race: N concurrent tasks ask for the same connection's token."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from ait_connectors.crypto import Cipher
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.providers import register_provider
from ait_connectors.providers.spec import ProviderSpec
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database


async def race(args: dict[str, Any], barrier: Any) -> list[str]:
    # A runtime provider must be registered in this process; a built-in one (slack) is replaced
    # by the very same spec.
    register_provider(ProviderSpec.model_validate(args["spec"]), replace=True)
    database = Database(args["db_url"])
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run through tests/e2e/test_refresh_race.py")
