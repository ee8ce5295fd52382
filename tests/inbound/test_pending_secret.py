"""Notion's verification token, on SQLite and PostgreSQL, through the real pipeline and the real
Notion receiver: the unsigned handshake only stores it as the config's *pending* secret
(encrypted), which verifies no event until the operator accepts it; accepting makes it the
signing secret; a second handshake replaces the pending one; the token appears in no log line
(at DEBUG), in no answer and in no ``repr``."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import pytest
from sqlalchemy import text

from ait_connectors.crypto import Cipher
from ait_connectors.inbound.debounce import SyncDebouncer, SyncRequest
from ait_connectors.inbound.pipeline import InboundPipeline
from ait_connectors.inbound.receiver import WebhookRejected
from ait_connectors.runtime import Connectors
from ait_connectors.settings import get_settings
from ait_connectors.storage.db import Database

FIRST = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"
SECOND = "secret_Zq0second0token0Notion0sends0on0a0new0subscription"


def _handshake(token: str) -> bytes:
    return json.dumps({"verification_token": token}).encode()


def _event(secret: str, event_id: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"id": event_id, "workspace_id": "ws-1", "type": "page.created"}).encode()
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-notion-signature": f"sha256={mac}"}, body


@pytest.fixture
async def notion(database: Database, cipher: Cipher) -> tuple[InboundPipeline, str, str]:
    connectors = Connectors(get_settings(), database, cipher)

    async def launch(request: SyncRequest) -> bool:
        return True

    async def config(name: str) -> str:
        created = await connectors.configs.create(
            "notion", client_id="id", client_secret="s", redirect_uri="http://x/cb", name=name
        )
        return created.id

    inbound = InboundPipeline(connectors, SyncDebouncer(launch))
    return inbound, await config("one"), await config("two")


async def test_the_token_stays_pending_until_accepted_and_is_never_shown(
    notion: Any, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    inbound, one, two = notion
    store = inbound.store
    with caplog.at_level(logging.DEBUG):
        received = await inbound.receive("notion", {}, _handshake(FIRST), config_id=one)
        # It verifies nothing yet: no secret is set, and the pending one is not tried.
        with pytest.raises(WebhookRejected) as refused:
            await inbound.receive("notion", *_event(FIRST, "e1"), config_id=one)
    assert (received.outcome, received.reply and received.reply.status) == ("handshake", 200)
    assert received.reply is not None and received.reply.body == b"{}"  # what the route sends
    assert received.reply.pending_secret is None
    pending = await store.pending(one)
    assert pending is not None and pending.secret == FIRST
    assert await store.pending(two) is None  # only the config in the URL
    assert await store.secrets(one) == []
    assert "arrived" in caplog.text and one in caplog.text
    for shown in (caplog.text, repr(received), repr(pending), str(refused.value)):
        assert FIRST not in shown and FIRST[:12] not in shown and FIRST[-8:] not in shown
    async with database.read() as conn:
        stored = (await conn.execute(text("SELECT * FROM inbound_pending"))).all()
    assert FIRST[7:] not in repr(stored)  # encrypted

    # Accepted: it verifies; a later handshake only replaces the pending value.
    accepted = await store.accept_pending(one)
    assert accepted is not None and accepted.secret == FIRST
    assert await store.pending(one) is None and await store.secrets(one) == [FIRST]
    assert (await inbound.receive("notion", *_event(FIRST, "e2"), config_id=one)).outcome in {
        "accepted",
        "unrouted",
    }
    await inbound.receive("notion", {}, _handshake(SECOND), config_id=one)
    assert await store.secrets(one) == [FIRST]
    with pytest.raises(WebhookRejected):
        await inbound.receive("notion", *_event(SECOND, "e3"), config_id=one)
    replaced = await store.pending(one)
    assert replaced is not None and replaced.secret == SECOND
    await store.accept_pending(one)  # the rotation overlap: both verify for a while
    assert await store.secrets(one) == [SECOND, FIRST]
    assert await store.accept_pending(one) is None


async def test_without_a_config_in_the_url_every_enabled_config_gets_it_pending(
    notion: Any,
) -> None:
    inbound, one, two = notion
    await inbound.store.set_secret(two, "kept")
    await inbound.receive("notion", {}, _handshake(FIRST))
    for config_id in (one, two):
        found = await inbound.store.pending(config_id)
        assert found is not None and found.secret == FIRST
    assert await inbound.store.secrets(two) == ["kept"]  # what verifies is unchanged
    with pytest.raises(WebhookRejected, match="printable"):  # unusable: refused, nothing kept
        await inbound.receive("notion", {}, _handshake("x" * 600), config_id=one)
    assert (found := await inbound.store.pending(one)) is not None and found.secret == FIRST
    await inbound.store.clear_secret(one)  # forgetting the secrets forgets the pending one too
    assert await inbound.store.pending(one) is None
