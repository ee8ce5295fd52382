"""``find_for_provider`` (asked on every gateway request) is remembered briefly; changes through
the same store are seen at once, other processes' within ``PROVIDER_CONFIG_TTL``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from ait_connectors.crypto import Cipher
from ait_connectors.storage.configs import PROVIDER_CONFIG_TTL, ConnectorConfigStore
from ait_connectors.storage.db import Database


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


async def test_provider_config_is_remembered_within_its_bound(
    database: Database, cipher: Cipher
) -> None:
    clock = Clock()
    gateway = ConnectorConfigStore(database, cipher, clock=clock)
    elsewhere_db = Database(database.url)
    elsewhere = ConnectorConfigStore(elsewhere_db, cipher)
    try:
        assert await gateway.find_for_provider("github") is None
        # Not remembered when there is none: a config created elsewhere is found at once.
        first = await elsewhere.create(
            "github", client_id="c", client_secret="s", redirect_uri="http://127.0.0.1/cb"
        )
        found = await gateway.find_for_provider("github")
        assert found is not None and found.id == first.id
        queries: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            queries.append(statement)

        event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
        try:
            for _ in range(10):
                assert (await gateway.find_for_provider("github")).id == first.id  # type: ignore[union-attr]
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", seen)
        assert queries == []

        await elsewhere.disable(first.id)  # another process
        assert (await gateway.find_for_provider("github")).id == first.id  # type: ignore[union-attr]
        clock.now += PROVIDER_CONFIG_TTL + 0.001
        assert await gateway.find_for_provider("github") is None

        second = await gateway.create(
            "github", name="b", client_id="c", client_secret="s", redirect_uri="http://x/cb"
        )
        assert (await gateway.find_for_provider("github")).id == second.id  # type: ignore[union-attr]
        await gateway.disable(second.id)  # this store: seen at once
        assert await gateway.find_for_provider("github") is None
    finally:
        await elsewhere_db.dispose()
