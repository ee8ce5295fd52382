"""Fixtures of the outgoing webhook tests: a receiver, the endpoint store and a deliverer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ait_connectors.crypto import Cipher
from ait_connectors.outgoing.delivery import Deliverer
from ait_connectors.outgoing.endpoints import WebhookEndpointStore, retry_policy
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database

from .receiver import Receiver


class Clock:
    """A settable clock (every scheduling decision reads it)."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.now = datetime.now(UTC)

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.now += timedelta(seconds=seconds)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.down()


@pytest.fixture
def settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(data_dir=tmp_path / "data", webhooks_allow_private=True)


@pytest.fixture
def store(database: Database, cipher: Cipher, settings: Settings) -> WebhookEndpointStore:
    return WebhookEndpointStore(database, cipher, settings)


@pytest.fixture
async def deliverer(store: WebhookEndpointStore) -> AsyncIterator[Deliverer]:
    found = Deliverer(store, retry_policy(store.settings))
    yield found
    await found.aclose()
