"""A webhook naming a parent ends, through the gateway pipeline's debouncer and the run service,
in a run limited to that parent; an event without a parent (or too many parents in a window)
widens it to the whole entity type."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from ait_connectors.crypto import Cipher
from ait_connectors.inbound import pipeline
from ait_connectors.inbound.debounce import SyncDebouncer, SyncRequest
from ait_connectors.inbound.store import InboundStore
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.runtime import Connectors
from ait_connectors.settings import get_settings
from ait_connectors.storage.db import Database
from ait_connectors.sync import SyncOptions, SyncRunResult
from ait_connectors.sync.limited import MAX_PARENTS
from ait_connectors.sync.runs import SyncRuns
from ait_connectors.vendors.sandbox import sign_delivery


class RecordingRuns(SyncRuns):
    """The real run service and in-process launcher; only the vendor calls are replaced."""

    ran: list[Mapping[str, frozenset[str]] | None]

    async def run(
        self,
        connector_config_id: str,
        user_id: str,
        entity_types: Sequence[str] | None = None,
        *,
        options: SyncOptions | None = None,
        parents: Mapping[str, frozenset[str]] | None = None,
    ) -> list[SyncRunResult]:
        self.ran.append(parents)
        return []


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def _delivery(secret: str, delivery: str, parent: str | None) -> tuple[dict[str, str], bytes]:
    event = {"account": "acme", "entity_types": ["contacts"], "parent": parent}
    body = json.dumps(event).encode()
    return sign_delivery(secret, delivery, body, time.time()), body


async def test_a_delivery_with_a_parent_launches_a_run_limited_to_it(
    database: Database, cipher: Cipher
) -> None:
    connectors = Connectors(get_settings(), database, cipher)
    config = await connectors.configs.create(
        "sandbox", client_id="id", client_secret="s", redirect_uri="http://x/cb"
    )
    expires = datetime.now(UTC) + timedelta(hours=1)
    token = TokenResponse(access_token=SecretStr("at"), expires_at=expires)
    await connectors.tokens.save_oauth_data(config.id, "alice", token)
    await InboundStore(database, cipher).record_routes(
        "sandbox", config.id, "alice", ["account:acme"]
    )
    runs = RecordingRuns(connectors)
    runs.ran = []
    clock = Clock()
    inbound = pipeline.InboundPipeline(
        connectors, SyncDebouncer(pipeline.launch_with(runs), clock=clock)
    )
    secret = pipeline.framework_secret(connectors)

    async def window(*parents: str | None) -> Mapping[str, frozenset[str]] | None:
        for i, parent in enumerate(parents):
            await inbound.receive("sandbox", *_delivery(secret, f"{time.time()}-{i}", parent))
        clock.now += 10
        assert await inbound.debouncer.flush() == 1
        deadline = time.monotonic() + 5
        while not runs.ran and time.monotonic() < deadline:  # the run is an asyncio task
            await asyncio.sleep(0.01)
        return runs.ran.pop()

    assert await window("p1", "p2", "p1") == {"contacts": frozenset({"p1", "p2"})}
    assert await window("p1", None) == {}  # an event about the whole type: the whole type
    many = [f"p{i}" for i in range(MAX_PARENTS + 1)]
    assert await window(*many) == {}


def test_a_window_limits_only_types_whose_events_all_named_parents() -> None:
    request = SyncRequest("cfg", "alice")
    request.add(["issues", "commits"], "1")
    request.add(["commits"], None)
    request.add(["issues"], "2")
    assert request.limits() == {"issues": frozenset({"1", "2"})}
    assert request.limits(most=1) == {}
