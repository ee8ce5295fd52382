"""PostgreSQL pool sizes: small by default, larger in the gateway, the setting over both."""

from __future__ import annotations

import pytest

from ait_connectors.settings import Settings
from ait_connectors.storage.db import DEFAULT_POOL_SIZE, GATEWAY_POOL_SIZE, Database

URL = "postgresql://postgres@127.0.0.1:5432/test"


def pool_size(database: Database) -> int:
    return database.engine.sync_engine.pool.size()  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize(
    ("setting", "asked", "expected"),
    [
        # CLI, workers, library: the refresh race's 4 processes x 25 tasks must fit PostgreSQL's
        # default max_connections (100) beside the rest of the suite.
        (None, None, DEFAULT_POOL_SIZE),
        (None, GATEWAY_POOL_SIZE, GATEWAY_POOL_SIZE),  # the gateway asks for more
        (3, GATEWAY_POOL_SIZE, 3),  # AIT_DATABASE_POOL_SIZE wins
    ],
)
async def test_pool_size(setting: int | None, asked: int | None, expected: int) -> None:
    settings = Settings(database_url=URL, database_pool_size=setting)
    database = Database.from_settings(settings, pool_size=asked)
    try:
        assert pool_size(database) == expected
    finally:
        await database.dispose()


async def test_gateway_opens_the_larger_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    from ait_connectors import runtime
    from ait_connectors.gateway import app as gateway_app

    seen: list[int | None] = []

    async def fake_open(settings: Settings, **kwargs: object) -> runtime.Connectors:
        seen.append(kwargs.get("pool_size"))  # type: ignore[arg-type]
        raise RuntimeError("stop here")

    monkeypatch.setattr(gateway_app.Connectors, "open", fake_open)
    application = gateway_app.create_app(Settings(database_url=URL, encryption_key="ab" * 32))
    with pytest.raises(RuntimeError, match="stop here"):
        async with application.router.lifespan_context(application):
            pass
    assert seen == [GATEWAY_POOL_SIZE]
