"""Provider webhooks end to end, on a real gateway over loopback with the sandbox vendor.

One gateway for the module (SQLite, the embedded default without workers): Alice connects the
sandbox through the real OAuth flow, which records her routing key (the sandbox receiver asks
the sandbox API who she is). Then: a signed delivery is acknowledged, becomes a debounced sync,
and its records are stored; a replay is a duplicate; tampered, unsigned, stale, browser,
oversized and unknown requests are refused with nothing enqueued; an event for nobody is
acknowledged and counted; and with 20 % of events dropped, the periodic sync still makes the
stored data equal the source. Notion's unsigned set-up request is answered without its token,
which is kept pending.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from ait_connectors.inbound.pipeline import framework_secret
from ait_connectors.inbound.store import InboundStore
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.vendors.sandbox import sign_delivery
from ait_connectors.vendors.sandbox.data import contact
from gateway.conftest import ThreadGateway, sandbox_connect, wait_for

ACCOUNT = "sandbox-user"  # what the sandbox API's /me answers


@dataclass
class Setup:
    gateway: ThreadGateway
    api: httpx.Client
    secret: str
    config_id: str
    sent: int = 0

    def post(self, event: dict[str, Any], **kwargs: Any) -> httpx.Response:
        self.sent += 1
        body = json.dumps(event).encode()
        delivery = kwargs.pop("delivery", f"dlv-{self.sent}-{time.monotonic_ns()}")
        headers = sign_delivery(self.secret, delivery, body, kwargs.pop("at", time.time()))
        headers.update(kwargs.pop("headers", {}))
        return httpx.post(
            f"{self.gateway.base_url}/api/webhooks/sandbox", content=body, headers=headers
        )

    def run(self, coro: Any) -> Any:
        async def go() -> Any:
            async with await Connectors.open(self.gateway.settings) as connectors:
                return await coro(connectors)

        return asyncio.run(go())

    def counters(self) -> dict[str, int]:
        async def read(connectors: Connectors) -> dict[str, int]:
            store = InboundStore(connectors.database, connectors.cipher)
            return (await store.counters("sandbox")).get("sandbox", {})

        return dict(self.run(read))

    def idle(self) -> bool:
        debouncer = self.gateway.state.inbound.debouncer
        runs = self.gateway.state.runs
        return debouncer.pending == 0 and runs.active_run_id(self.config_id, "alice") is None


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    data_dir: Path = tmp_path_factory.mktemp("inbound") / "data"
    gateway = ThreadGateway(Settings(data_dir=data_dir)).start()
    try:
        gateway.state.inbound.debouncer.window = 0.05
        key = asyncio.run(_api_key(gateway.settings))
        with httpx.Client(base_url=gateway.base_url, headers={"X-API-Key": key}) as api:
            assert sandbox_connect(gateway, api, user_id="alice").status_code == 200
            config_id = api.get("/api/sandbox/connection", params={"user_id": "alice"}).json()[
                "connector_config_id"
            ]
            secret = framework_secret(gateway.state.connectors)
            yield Setup(gateway, api, secret, config_id)
    finally:
        gateway.stop()


async def _api_key(settings: Settings) -> str:
    async with await Connectors.open(settings) as connectors:
        return (await ApiKeyStore(connectors.database).create("inbound")).key


def _stored_names(setup: Setup, ids: list[str]) -> dict[str, str]:
    async def read(connectors: Connectors) -> dict[str, str]:
        async with connectors.database.read() as conn:
            rows = await conn.execute(
                text(
                    "SELECT external_id, payload FROM records WHERE entity_type = 'contacts' "
                    "AND user_id = 'alice' AND deleted_at IS NULL"
                )
            )
            found = {}
            for external_id, payload in rows:
                data = json.loads(payload) if isinstance(payload, str) else payload
                if external_id in ids:
                    found[external_id] = data["name"]
            return found

    return dict(setup.run(read))


def test_connecting_records_the_routing_key(setup: Setup) -> None:
    async def keys(connectors: Connectors) -> list[str]:
        store = InboundStore(connectors.database, connectors.cipher)
        return await store.routing_keys(setup.config_id, "alice")

    assert setup.run(keys) == [f"account:{ACCOUNT}"]


def test_a_signed_delivery_is_acknowledged_then_synced_and_a_replay_is_a_duplicate(
    setup: Setup,
) -> None:
    event = {"account": ACCOUNT, "kind": "events.created", "entity_types": ["events", "nope"]}
    answer = setup.post(event, delivery="dlv-e2e")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True, "outcome": "accepted"}

    def events_stored() -> bool:
        connection = setup.api.get("/api/sandbox/connection", params={"user_id": "alice"})
        return bool(connection.json()["records"].get("events"))

    wait_for(events_stored, timeout=60)
    # Only the entity type the event named (and the vendor declares) was synced.
    counts = setup.api.get("/api/sandbox/connection", params={"user_id": "alice"}).json()
    assert "contacts" not in counts["records"]
    replay = setup.post(event, delivery="dlv-e2e")
    assert replay.json()["outcome"] == "duplicate"
    assert setup.counters()["duplicate"] >= 1


def test_an_event_for_no_known_connection_is_acknowledged_and_counted(setup: Setup) -> None:
    before = setup.counters().get("unrouted", 0)
    answer = setup.post({"account": "someone-else", "entity_types": ["contacts"]})
    assert answer.status_code == 200 and answer.json()["outcome"] == "unrouted"
    assert setup.counters()["unrouted"] == before + 1
    ignored = setup.post({"account": ACCOUNT, "entity_types": ["unknown_type"]})
    assert ignored.json()["outcome"] == "ignored"


def test_refused_requests_enqueue_nothing_and_never_show_the_secret(setup: Setup) -> None:
    wait_for(setup.idle)
    debouncer = setup.gateway.state.inbound.debouncer
    launched, rejected = debouncer.launched, setup.counters().get("rejected", 0)
    url = f"{setup.gateway.base_url}/api/webhooks/sandbox"
    body = json.dumps({"account": ACCOUNT, "entity_types": ["contacts"]}).encode()
    signed = sign_delivery(setup.secret, "dlv-x", body, time.time())
    tampered = httpx.post(url, content=body.replace(b"contacts", b"events__"), headers=signed)
    unsigned = httpx.post(url, content=body, headers={"X-Sandbox-Delivery": "dlv-y"})
    stale = setup.post({"account": ACCOUNT, "entity_types": ["contacts"]}, at=time.time() - 3600)
    other_key = sign_delivery("0" * 64, "dlv-z", body, time.time())
    wrong = httpx.post(url, content=body, headers=other_key)
    for answer in (tampered, unsigned, stale, wrong):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "WEBHOOK_REJECTED"
        assert setup.secret not in answer.text
    malformed = httpx.post(
        url, content=b"[1]", headers=sign_delivery(setup.secret, "dlv-m", b"[1]", time.time())
    )
    assert malformed.status_code == 400 and malformed.json()["error"] == "BAD_DELIVERY"
    browser = setup.post(
        {"account": ACCOUNT, "entity_types": ["contacts"]},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert browser.status_code == 403 and browser.json()["error"] == "BROWSER_REQUEST"
    huge = httpx.post(url, content=b"x" * (5 * 2**20 + 1), headers=signed)
    assert huge.status_code == 413
    unknown = httpx.post(f"{setup.gateway.base_url}/api/webhooks/nope", content=body)
    assert unknown.status_code == 404
    no_config = httpx.post(f"{url}/00000000-0000-0000-0000-000000000000", content=body)
    assert no_config.status_code == 404
    assert debouncer.pending == 0 and debouncer.launched == launched
    assert setup.counters()["rejected"] == rejected + 5


def test_with_a_fifth_of_the_events_dropped_the_periodic_sync_converges(setup: Setup) -> None:
    """The source changes six times; each change's event is dropped with probability 0.2
    (seeded: the 4th and the last are). Webhook syncs bring in what was announced; the last
    change stays missing until the periodic sync, after which the stored data is the source."""
    wait_for(setup.idle)
    server = setup.gateway.state.vendor_state["sandbox"]
    drops = random.Random(44)
    dropped = []
    changed: dict[str, str] = {}
    for round_ in range(6):
        contact_id = contact(round_ * 7 + 1)["id"]
        changed[contact_id] = f"Renamed {round_}"
        server.edited[contact_id] = {"name": changed[contact_id]}
        if drops.random() < 0.2:
            dropped.append(round_)
            continue
        answer = setup.post({"account": ACCOUNT, "entity_types": ["contacts"], "kind": "edit"})
        assert answer.json()["outcome"] == "accepted"
        wait_for(lambda: _stored_names(setup, list(changed)) == changed and setup.idle())
    assert dropped == [3, 5]
    # The last change was never announced: nothing synced it.
    assert setup.idle()
    assert _stored_names(setup, list(changed)) != changed
    started = setup.api.post("/api/sandbox/sync", params={"user_id": "alice"})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    wait_for(lambda: setup.api.get(f"/api/sandbox/sync/{run_id}").json()["done"])
    assert _stored_names(setup, list(changed)) == changed
    assert len(_stored_names(setup, [contact(i)["id"] for i in range(1, 2501)])) == 2500


def test_the_api_sets_and_clears_a_configs_webhook_secret(setup: Setup) -> None:
    async def secrets(connectors: Connectors) -> list[str]:
        return await InboundStore(connectors.database, connectors.cipher).secrets(setup.config_id)

    url = f"/api/configs/{setup.config_id}"
    answer = setup.api.patch(url, json={"webhook_secret": "api-secret-1"})
    assert answer.status_code == 200, answer.text
    assert "api-secret-1" not in answer.text
    assert setup.run(secrets) == ["api-secret-1"]
    assert setup.api.patch(url, json={"webhook_secret": "a\nb"}).status_code == 422
    assert setup.run(secrets) == ["api-secret-1"]
    assert setup.api.patch(url, json={"webhook_secret": None}).status_code == 200
    assert setup.run(secrets) == []


def test_notions_verification_token_is_kept_pending_and_never_answered(setup: Setup) -> None:
    token = "secret_gatewayHandshakeToken0123456789abcdefghijklmnop"

    async def create(connectors: Connectors) -> str:
        config = await connectors.configs.create(
            "notion", client_id="id", client_secret="s", redirect_uri="http://x/cb"
        )
        return config.id

    async def pending(connectors: Connectors) -> str | None:
        found = await InboundStore(connectors.database, connectors.cipher).pending(config_id)
        return found.secret if found else None

    config_id = setup.run(create)
    url = f"{setup.gateway.base_url}/api/webhooks/notion/{config_id}"
    answer = httpx.post(url, json={"verification_token": token})
    assert (answer.status_code, answer.content) == (200, b"{}")
    assert token[7:] not in answer.text + str(answer.headers)
    assert setup.run(pending) == token
