"""The pipeline with ``app_secret`` signing, on SQLite and PostgreSQL: the config's secret (and,
during a rotation, the previous one) verifies; no secret is a rejection naming what to do; the
config in the URL limits routing to its connections; a failing connect hook never breaks
connecting and is counted; disconnecting removes the routing keys; every outcome counted also
moves ``ait_webhook_deliveries_total``."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from ait_connectors.crypto import Cipher
from ait_connectors.inbound import hooks, pipeline
from ait_connectors.inbound.debounce import SyncDebouncer, SyncRequest
from ait_connectors.inbound.receiver import Reply, WebhookRejected
from ait_connectors.inbound.store import InboundStore, Outcome
from ait_connectors.metrics import WEBHOOK_OUTCOMES
from ait_connectors.metrics.definitions import REGISTRY
from ait_connectors.registry import VendorRegistration, get_vendor
from ait_connectors.runtime import Connectors
from ait_connectors.settings import get_settings
from ait_connectors.storage.db import Database
from ait_connectors.vendors.sandbox import SandboxWebhooks, sign_delivery


class AppSecretWebhooks(SandboxWebhooks):
    """The sandbox's scheme, verified with the connector config's secret instead."""

    signing = "app_secret"  # type: ignore[assignment]

    async def routing_keys(self, connection: Any) -> tuple[str, ...]:
        raise RuntimeError("the vendor API is down")


@pytest.fixture
def vendor(monkeypatch: pytest.MonkeyPatch) -> VendorRegistration:
    registration = dataclasses.replace(get_vendor("sandbox"), webhooks=AppSecretWebhooks())
    found = {"sandbox": registration}
    monkeypatch.setattr(pipeline, "registered_vendors", lambda: found)
    monkeypatch.setattr(hooks, "registered_vendors", lambda: found)
    return registration


@pytest.fixture
async def setup(
    database: Database, cipher: Cipher, vendor: VendorRegistration
) -> tuple[Connectors, pipeline.InboundPipeline, list[SyncRequest]]:
    connectors = Connectors(get_settings(), database, cipher)
    launched: list[SyncRequest] = []

    async def launch(request: SyncRequest) -> bool:
        launched.append(request)
        return True

    return connectors, pipeline.InboundPipeline(connectors, SyncDebouncer(launch)), launched


def _signed(secret: str, delivery: str, account: str = "acme") -> tuple[dict[str, str], bytes]:
    body = json.dumps({"account": account, "entity_types": ["contacts"]}).encode()
    headers = sign_delivery(secret, delivery, body, time.time())
    return {k.lower(): v for k, v in headers.items()}, body


async def _config(connectors: Connectors, name: str) -> str:
    config = await connectors.configs.create(
        "sandbox", client_id="id", client_secret="s", redirect_uri="http://x/cb", name=name
    )
    return config.id


async def test_the_configs_secrets_verify_and_route_to_its_connections(setup: Any) -> None:
    connectors, inbound, _ = setup
    store = InboundStore(connectors.database, connectors.cipher)
    one, two = await _config(connectors, "one"), await _config(connectors, "two")
    await store.record_routes("sandbox", one, "alice", ["account:acme"])
    await store.record_routes("sandbox", two, "bob", ["account:acme"])

    headers, body = _signed("s3cret-one", "d1")
    with pytest.raises(WebhookRejected, match="configs update ID --webhook-secret-stdin") as no:
        await inbound.receive("sandbox", headers, body, config_id=one)
    assert "s3cret" not in str(no.value)
    await store.set_secret(one, "s3cret-one")
    await store.set_secret(two, "s3cret-two")
    received = await inbound.receive("sandbox", headers, body, config_id=one)
    assert (received.outcome, received.connections) == ("accepted", 1)
    # Without a config in the URL: the config whose secret verifies; its connections only.
    headers, body = _signed("s3cret-two", "d2")
    assert (await inbound.receive("sandbox", headers, body)).connections == 1
    assert {(r.connector_config_id, r.user_id) for _, r in inbound.debouncer._pending.values()} == {
        (one, "alice"),
        (two, "bob"),
    }
    # Another config's secret does not verify for this one.
    with pytest.raises(WebhookRejected, match="does not match"):
        await inbound.receive("sandbox", *_signed("s3cret-two", "d3"), config_id=one)
    # A rotation: both verify during the overlap, then only the new one.
    await store.set_secret(one, "rotated-one", overlap=timedelta(hours=24))
    for secret in ("s3cret-one", "rotated-one"):
        answer = await inbound.receive("sandbox", *_signed(secret, f"r-{secret}"), config_id=one)
        assert answer.outcome == "accepted"
    counters = await store.counters("sandbox")
    assert counters["sandbox"]["rejected"] == 2


async def test_unknown_vendor_or_config_is_not_found(setup: Any) -> None:
    _, inbound, _ = setup
    with pytest.raises(pipeline.UnknownWebhookError):
        await inbound.receive("github-nope", {}, b"")
    with pytest.raises(pipeline.UnknownWebhookError):
        await inbound.receive("sandbox", {}, b"", config_id="00000000-0000-0000-0000-0000000000")


async def test_a_failing_connect_hook_is_counted_and_disconnect_removes_the_keys(
    setup: Any,
) -> None:
    connectors, _, _ = setup
    store = InboundStore(connectors.database, connectors.cipher)
    config = await connectors.configs.get(await _config(connectors, "hooks"))
    assert await hooks.connection_made(connectors, config, "alice") is False
    assert (await store.counters("sandbox"))["sandbox"]["hook_failed"] == 1
    await store.record_routes("sandbox", config.id, "alice", ["account:acme"])
    await hooks.connection_removed(connectors, config, "alice")
    assert await store.routing_keys(config.id, "alice") == []


class Handshaking(SandboxWebhooks):
    """A vendor that sends an unsigned verification request (like Slack's, Notion's)."""

    def handshake(self, headers: Mapping[str, str], body: bytes) -> Reply | None:
        if headers.get("x-challenge"):
            return Reply(200, headers["x-challenge"].encode(), "text/plain")
        return None


def _receive_with(
    receiver: Any,
    inbound: pipeline.InboundPipeline,
    monkeypatch: pytest.MonkeyPatch,
    vendor: VendorRegistration,
) -> None:
    found = {"sandbox": dataclasses.replace(vendor, webhooks=receiver)}
    monkeypatch.setattr(pipeline, "registered_vendors", lambda: found)
    inbound._receivers.clear()


async def test_a_handshake_is_answered_without_any_work(
    setup: Any, monkeypatch: pytest.MonkeyPatch, vendor: VendorRegistration
) -> None:
    _, inbound, _ = setup
    _receive_with(Handshaking(), inbound, monkeypatch, vendor)
    received = await inbound.receive("sandbox", {"X-Challenge": "abc"}, b"")
    assert received.reply == Reply(200, b"abc", "text/plain")
    assert inbound.debouncer.pending == 0


async def test_every_counted_outcome_moves_the_webhook_series(
    setup: Any, monkeypatch: pytest.MonkeyPatch, vendor: VendorRegistration
) -> None:
    connectors, inbound, _ = setup
    _receive_with(HandshakingAppSecret(), inbound, monkeypatch, vendor)
    config = await connectors.configs.get(await _config(connectors, "metrics"))
    await inbound.store.set_secret(config.id, "s3cret")
    await inbound.store.record_routes("sandbox", config.id, "alice", ["account:acme"])
    before = {o: _series(o) for o in WEBHOOK_OUTCOMES}

    await inbound.receive("sandbox", *_signed("s3cret", "m1"))  # accepted
    await inbound.receive("sandbox", *_signed("s3cret", "m1"))  # duplicate
    await inbound.receive("sandbox", *_signed("s3cret", "m2", account="nobody"))  # unrouted
    ignored = json.dumps({"account": "acme", "entity_types": ["not-synced"]}).encode()
    headers = sign_delivery("s3cret", "m3", ignored, time.time())
    await inbound.receive("sandbox", headers, ignored)  # ignored
    with pytest.raises(WebhookRejected):
        await inbound.receive("sandbox", *_signed("wrong", "m4"))  # rejected
    await inbound.receive("sandbox", {"X-Challenge": "abc"}, b"")  # handshake
    await hooks.connection_made(connectors, config, "bob")  # hook_failed (routing_keys raises)

    moved = {o: _series(o) - before[o] for o in WEBHOOK_OUTCOMES}
    assert moved == dict.fromkeys(WEBHOOK_OUTCOMES, 1.0)
    # One closed set: the store's outcomes are the metric's labels.
    assert {v for k, v in vars(Outcome).items() if k.isupper()} == WEBHOOK_OUTCOMES


class HandshakingAppSecret(Handshaking):
    signing = "app_secret"  # type: ignore[assignment]

    async def routing_keys(self, connection: Any) -> tuple[str, ...]:
        raise RuntimeError("the vendor API is down")


def _series(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "ait_webhook_deliveries_total", {"vendor": "sandbox", "outcome": outcome}
    )
    return value or 0.0
