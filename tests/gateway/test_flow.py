"""The whole product through the API: connect the sandbox, sync, read, reauth, disconnect."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from ait_connectors.crypto import generate_key
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.vendors.sandbox.data import CONTACT_COUNT, EVENT_COUNT

from .conftest import ThreadGateway, sandbox_connect, wait_for

USER = "alice"


@pytest.fixture(params=["sqlite", "postgresql"])
def flow_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data")
    server = request.getfixturevalue("postgres")
    server.truncate_all()
    # The sandbox is off by default on PostgreSQL; AIT_SANDBOX=true turns it on.
    return Settings(database_url=server.url, encryption_key=generate_key(), sandbox=True)


async def test_connect_sync_read_disconnect(
    flow_settings: Settings, gateway_factory: Callable[..., ThreadGateway]
) -> None:
    gateway = gateway_factory(flow_settings)
    connectors = await Connectors.open(gateway.settings)
    try:
        key = (await ApiKeyStore(connectors.database).create("flow")).key
        api = httpx.Client(
            base_url=gateway.base_url,
            headers={"X-API-Key": key, "Accept": "application/json"},
            follow_redirects=False,
        )
        seen: list[str] = []

        def call(method: str, path: str, **kwargs: object) -> httpx.Response:
            params = {"user_id": USER, **kwargs.pop("params", {})}  # type: ignore[dict-item]
            response = api.request(method, path, params=params, **kwargs)  # type: ignore[arg-type]
            seen.append(response.text)
            return response

        # Nothing connected yet.
        connections = call("GET", "/api/connections").json()
        assert [(c["provider"], c["status"]) for c in connections] == [("sandbox", "not_connected")]
        assert call("POST", "/api/sandbox/sync").status_code == 409

        # Connect through the sandbox's authorization page.
        done = sandbox_connect(gateway, api, user_id=USER)
        assert done.status_code == 200
        assert done.json()["connected"] is True
        connection = call("GET", "/api/sandbox/connection").json()
        assert connection["status"] == "active"
        assert connection["reason"] is None

        # Sync; follow the run until it is done.
        started = call("POST", "/api/sandbox/sync", json={"entity_types": ["contacts", "events"]})
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]

        def finished() -> dict[str, object] | None:
            body = call("GET", f"/api/sandbox/sync/{run_id}").json()
            return body if body["done"] else None

        run = wait_for(finished, timeout=60, interval=0.1)
        assert run["status"] == "succeeded", run
        by_entity = {e["entity_type"]: e for e in run["entities"]}
        assert by_entity["contacts"]["records"] == CONTACT_COUNT
        assert by_entity["contacts"]["pages"] == CONTACT_COUNT // 100
        assert by_entity["events"]["added"] == EVENT_COUNT

        # Status with last sync and counts; records paged from the store.
        connection = call("GET", "/api/sandbox/connection").json()
        assert connection["records"] == {"contacts": CONTACT_COUNT, "events": EVENT_COUNT}
        assert {e["status"] for e in connection["last_sync"]} == {"succeeded"}
        first = call("GET", "/api/sandbox/data/contacts", params={"limit": 1000}).json()
        assert first["total"] is None  # counted only on request
        assert first["prev_cursor"] is None
        seen_ids = [item["id"] for item in first["items"]]
        cursor = first["next_cursor"]
        while cursor is not None:
            body = call(
                "GET",
                "/api/sandbox/data/contacts",
                params={"limit": 1000, "cursor": cursor, "include_total": True},
            ).json()
            assert body["total"] == CONTACT_COUNT
            seen_ids += [item["id"] for item in body["items"]]
            cursor = body["next_cursor"]
        assert seen_ids == [f"c-{i:05d}" for i in range(1, CONTACT_COUNT + 1)]
        assert len(body["items"]) == 500
        for bad in ("garbage", first["next_cursor"][:-2] + "xx"):
            refused = call("GET", "/api/sandbox/data/contacts", params={"cursor": bad})
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"] == "INVALID_CURSOR"
            assert "not one this API issued" in refused.json()["message"]
        other_order = call(
            "GET",
            "/api/sandbox/data/contacts",
            params={"cursor": first["next_cursor"], "order_by": "name"},
        )
        assert other_order.status_code == 400
        assert "order_by=_external_id" in other_order.json()["message"]
        ordered = call(
            "GET",
            "/api/sandbox/data/events",
            params={"order_by": "occurred_at", "descending": True},
        ).json()
        assert ordered["items"][0]["id"] == f"e-{EVENT_COUNT:05d}"
        assert call("GET", "/api/sandbox/data/nope").status_code == 404
        bad_order = call("GET", "/api/sandbox/data/contacts", params={"order_by": "x"})
        assert bad_order.status_code == 400

        config = await connectors.configs.get(connection["connector_config_id"])
        assert config.client_secret is not None
        secrets = {config.client_secret.get_secret_value()}

        # needs_reauth shows with its reason, on the API and the page, and blocks syncs.
        await connectors.tokens.set_status(
            config.id, USER, "needs_reauth", "refresh refused by Sandbox: invalid_grant"
        )
        connection = call("GET", "/api/sandbox/connection").json()
        assert connection["status"] == "needs_reauth"
        assert connection["reason"] == "refresh refused by Sandbox: invalid_grant"
        refused = call("POST", "/api/sandbox/sync")
        assert refused.status_code == 409
        assert "invalid_grant" in refused.json()["reason"]
        page_html = httpx.get(
            f"{gateway.base_url}/connect",
            headers={"Authorization": f"Bearer {gateway.connect_token(USER)}"},
        )
        seen.append(page_html.text)
        assert "stopped accepting this connection" in page_html.text
        assert "Reconnect" in page_html.text

        # Reconnect, then disconnect with purge: revoked at the sandbox, tokens and records gone.
        assert sandbox_connect(gateway, api, user_id=USER).status_code == 200
        assert call("GET", "/api/sandbox/connection").json()["status"] == "active"
        data = await connectors.tokens.get_oauth_data(config.id, USER)
        assert data is not None
        assert data.refresh_token is not None
        access = data.access_token.get_secret_value()
        secrets |= {access, data.refresh_token.get_secret_value()}
        me = httpx.get(
            f"{gateway.base_url}/sandbox/api/me", headers={"Authorization": f"Bearer {access}"}
        )
        assert me.status_code == 200
        gone = call("DELETE", "/api/sandbox/connection", params={"purge": True}).json()
        assert gone == {
            "provider": "sandbox",
            "user_id": USER,
            "disconnected": True,
            "records_purged": CONTACT_COUNT + EVENT_COUNT,
        }
        assert call("GET", "/api/sandbox/connection").json()["status"] == "not_connected"
        assert call("GET", "/api/sandbox/data/contacts").json()["items"] == []
        assert call("POST", "/api/sandbox/disconnect").json()["disconnected"] is False
        me = httpx.get(
            f"{gateway.base_url}/sandbox/api/me", headers={"Authorization": f"Bearer {access}"}
        )
        assert me.status_code == 401  # revoked at the provider
        api.close()

        # No response ever carried a token, the client secret, or a PKCE verifier.
        everything = "\n".join(seen)
        for secret in secrets:
            assert secret not in everything
        assert "code_verifier" not in everything
    finally:
        await connectors.close()


async def test_control_characters_never_reach_the_database(
    flow_settings: Settings, gateway_factory: Callable[..., ThreadGateway]
) -> None:
    """PostgreSQL refuses NUL bytes in text: the gateway answers 400, not 500."""
    gateway = gateway_factory(flow_settings)
    connectors = await Connectors.open(gateway.settings)
    try:
        key = (await ApiKeyStore(connectors.database).create("nul")).key
    finally:
        await connectors.close()
    with httpx.Client(base_url=gateway.base_url, headers={"X-API-Key": key}) as client:
        responses = [
            client.get("/api/sandbox/connection", params={"user_id": "a\x00b"}),
            client.get("/api/configs/a%00b"),
            client.get("/api/sandbox/auth/callback", params={"state": "\x00", "code": "c"}),
            client.post(
                "/api/configs",
                json={"provider": "sandbox", "client_id": "x\x00", "name": "n\x00"},
            ),
            client.post("/api/connect-tokens", json={"user_id": "a\x00"}),
        ]
    assert [r.status_code for r in responses] == [400, 400, 400, 422, 422]
