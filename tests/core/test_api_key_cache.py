"""Verified API keys are remembered briefly (issue 10, the data API's per-request cost), and a
revocation is still honoured: at once through the same store, within ``VERIFIED_TTL`` from
another process."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from ait_connectors.storage.api_keys import VERIFIED_TTL, ApiKeyStore
from ait_connectors.storage.db import Database


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_verified_keys_are_remembered_and_revocation_honoured(database: Database) -> None:
    clock = Clock()
    gateway = ApiKeyStore(database, clock=clock)
    elsewhere = ApiKeyStore(Database(database.url))  # another process: the CLI, a replica
    try:
        created = await gateway.create("backend")
        other = await gateway.create("other")
        assert await gateway.verify(created.key) is not None
        queries: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            queries.append(statement)

        event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
        try:
            for _ in range(20):
                assert await gateway.verify(created.key) is not None
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", seen)
        assert queries == []  # a burst costs no query per request

        # Wrong keys are never remembered: each is looked up (and refused) again.
        assert await gateway.verify(created.key + "x") is None
        assert await gateway.verify(created.key + "x") is None

        # Revoked by another process: trusted at most VERIFIED_TTL longer, then refused.
        await elsewhere.revoke(created.info.prefix)
        assert await gateway.verify(created.key) is not None
        clock.now += VERIFIED_TTL + 0.001
        assert await gateway.verify(created.key) is None

        # Revoked through the same store: refused at once.
        assert await gateway.verify(other.key) is not None
        await gateway.revoke(other.info.id)
        assert await gateway.verify(other.key) is None
    finally:
        await elsewhere.database.dispose()
