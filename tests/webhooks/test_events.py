"""Events come from where the changes happen, in their transaction, and reach a real receiver
(verifying with the standardwebhooks library) even when it was down: none lost."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from ait_connectors.crypto import Cipher
from ait_connectors.entities import Entity
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.outgoing.delivery import Deliverer
from ait_connectors.outgoing.endpoints import WebhookEndpointStore
from ait_connectors.outgoing.models import WebhookMessageRow
from ait_connectors.pagination import Cursor, Page
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.models import TokenStatus
from ait_connectors.storage.tokens import TokenStore
from ait_connectors.sync.config import EntityConfig
from ait_connectors.sync.engine import SyncEngine

from .receiver import Receiver

ALL = [
    "sync.finished",
    "changes.available",
    "connection.created",
    "connection.needs_reauth",
    "connection.deleted",
]


class Note(Entity):
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    id: int
    title: str


async def one_page(_source: object, cursor: Cursor, _watermark: Any) -> Page[Any]:
    raw = json.dumps([{"id": 1, "title": "a"}, {"id": 2, "title": "b"}]).encode()
    return Page(loader=lambda: json.loads(raw), next_cursor=None, raw=raw)


NOTES: EntityConfig[object] = EntityConfig(
    entity_type="notes", model=Note, mapper=Note.model_validate, paginated_fetcher=one_page
)


@contextlib.asynccontextmanager
async def no_source() -> AsyncIterator[object]:
    yield object()


def token(value: str) -> TokenResponse:
    return TokenResponse(access_token=SecretStr(value), refresh_token=SecretStr("rt-" + value))


async def messages(database: Database) -> int:
    async with database.read() as conn:
        query = select(func.count()).select_from(WebhookMessageRow.__table__)
        return int((await conn.execute(query)).scalar() or 0)


async def drain(deliverer: Deliverer) -> None:
    """Attempt every delivery that is due now (the real clock: retries are not due yet)."""
    for delivery_id in await deliverer.due():
        await deliverer.attempt(delivery_id)


async def test_events_from_state_changes_reach_a_receiver_that_was_down(
    database: Database,
    cipher: Cipher,
    store: WebhookEndpointStore,
    deliverer: Deliverer,
    receiver: Receiver,
) -> None:
    configs = ConnectorConfigStore(database, cipher)
    tokens = TokenStore(database, cipher)
    config = await configs.create(
        "github", client_id="cid", client_secret="csecret", redirect_uri="http://127.0.0.1:9/cb"
    )
    # No endpoint yet: nothing is written for nobody.
    await tokens.save_oauth_data(config.id, "early", token("e"))
    assert await messages(database) == 0

    created = await store.create(receiver.url, ALL)
    receiver.secrets = [created.secret.get_secret_value()]
    await tokens.save_oauth_data(config.id, "alice", token("a1"))  # created
    await tokens.save_oauth_data(config.id, "alice", token("a2"))  # a reconnect: no event
    await tokens.set_status(config.id, "alice", TokenStatus.NEEDS_REAUTH, "invalid_grant")
    await tokens.set_status(config.id, "alice", TokenStatus.NEEDS_REAUTH, "invalid_grant")  # once
    engine: SyncEngine[object] = SyncEngine(
        database, connector_config_id=config.id, user_id="alice", provider="github"
    )
    first = await engine.run(NOTES, no_source)
    again = await engine.run(NOTES, no_source)  # unchanged: sync.finished, no changes
    assert await tokens.clear_oauth_data(config.id, "alice")
    await configs.delete(config.id, cascade=True)  # "early" goes with its config
    expected = [
        "connection.created",
        "connection.needs_reauth",
        "sync.finished",
        "changes.available",
        "sync.finished",
        "connection.deleted",
        "connection.deleted",
    ]

    # The receiver is down: every attempt fails, and is logged.
    await drain(deliverer)
    found, _ = await store.deliveries(created.info.id, limit=200)
    assert len(found) == len(expected)
    assert all(d.status == "pending" and d.attempts == 1 for d in found)
    assert {d.log[0].outcome for d in found} == {"failed"}
    assert all(d.log[0].error and "ConnectError" in d.log[0].error for d in found)
    assert (await store.get(created.info.id)).status == "failing"

    # Up again: the retries (made due now) deliver every event, signed, in order, once each.
    receiver.up()
    for item in found:
        await store.replay(item.id)
    await drain(deliverer)
    assert sorted(receiver.types()) == sorted(expected)
    assert len({r.message_id for r in receiver.received}) == len(expected)
    assert receiver.rejected == []
    by_type: dict[str, list[dict[str, Any]]] = {}
    for item in receiver.received:
        by_type.setdefault(item.type, []).append(item.data)
    assert by_type["connection.needs_reauth"] == [
        {
            "provider": "github",
            "connector_config_id": config.id,
            "user_id": "alice",
            "reason": "invalid_grant",
        }
    ]
    runs = {d["run_id"]: d for d in by_type["sync.finished"]}
    assert runs[first.run_id]["counts"] == {"added": 2, "updated": 0, "unchanged": 0, "deleted": 0}
    assert runs[first.run_id]["status"] == "succeeded"
    assert runs[first.run_id]["entity_type"] == "notes"
    assert runs[again.run_id]["counts"]["unchanged"] == 2
    (changes,) = by_type["changes.available"]
    assert changes["run_id"] == first.run_id and changes["counts"]["added"] == 2
    # The feed positions of the run's two upserts (nothing else writes in this test).
    assert changes["positions"]["to"] == changes["positions"]["from"] + 1 >= 2
    assert {d["user_id"] for d in by_type["connection.deleted"]} == {"alice", "early"}

    found, _ = await store.deliveries(created.info.id, limit=200)
    assert {d.status for d in found} == {"delivered"}
    log = found[0].log
    assert [a.outcome for a in log] == ["failed", "delivered"]
    assert log[1].status_code == 200 and log[1].latency_ms is not None
    assert (await store.get(created.info.id)).status == "active"
    secret = created.secret.get_secret_value()
    assert all(secret not in repr(d) for d in found)


async def test_an_event_commits_with_its_change_or_not_at_all(
    database: Database, cipher: Cipher, store: WebhookEndpointStore, receiver: Receiver
) -> None:
    configs = ConnectorConfigStore(database, cipher)
    config = await configs.create(
        "github", client_id="cid", client_secret="cs", redirect_uri="http://127.0.0.1:9/cb"
    )
    await store.create(receiver.url, ["connection.deleted"])
    tokens = TokenStore(database, cipher)
    await tokens.save_oauth_data(config.id, "bob", token("b"))
    from ait_connectors.storage import tokens as token_module

    class Boom(Exception):
        pass

    async def failing_emit(*args: Any, **kwargs: Any) -> None:
        raise Boom

    original = token_module.emit_connection_event
    token_module.emit_connection_event = failing_emit  # type: ignore[assignment]
    try:
        with pytest.raises(Boom):
            await tokens.clear_oauth_data(config.id, "bob")
    finally:
        token_module.emit_connection_event = original
    # The outbox write failed: the deletion rolled back with it, so nothing went unreported.
    assert await tokens.get_oauth_data(config.id, "bob") is not None
    assert await messages(database) == 0
    assert await tokens.clear_oauth_data(config.id, "bob")
    assert await messages(database) == 1
