"""The Connect page's Disconnect (issue 12, point 6): it asks first, keeps the synced data unless
asked to delete it, offers to delete it later, refuses to delete it under a running sync, and
its forms need the page's CSRF token."""

from __future__ import annotations

import html
import re

import httpx

from ait_connectors.runtime import Connectors
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.vendors.sandbox.data import CONTACT_COUNT, EVENT_COUNT

from .conftest import ThreadGateway, sandbox_connect, wait_for

USER = "local"
TOTAL = CONTACT_COUNT + EVENT_COUNT


def browser(gateway: ThreadGateway) -> httpx.Client:
    """A client signed in like a browser: the connect link's session cookie."""
    client = httpx.Client(base_url=gateway.base_url, follow_redirects=False)
    signed_in = client.get("/connect", params={"token": gateway.connect_token(USER)})
    assert signed_in.status_code == 303
    return client


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None, page.text
    return html.unescape(match.group(1))


def notice(client: httpx.Client, location: str) -> str:
    page = client.get(location)
    match = re.search(r'data-testid="notice">([^<]*)<', page.text)
    assert match is not None, page.text
    return html.unescape(match.group(1))


async def connected_and_synced(gateway: ThreadGateway, connectors: Connectors) -> httpx.Client:
    key = (await ApiKeyStore(connectors.database).create("tests")).key
    api = httpx.Client(
        base_url=gateway.base_url, headers={"X-API-Key": key, "Accept": "application/json"}
    )
    assert sandbox_connect(gateway, api, user_id=USER).status_code == 200
    run_id = api.post("/api/sandbox/sync", params={"user_id": USER}).json()["run_id"]
    wait_for(
        lambda: api.get(f"/api/sandbox/sync/{run_id}", params={"user_id": USER}).json()["done"]
    )
    return api


def stored(api: httpx.Client) -> int:
    return sum(
        api.get(
            f"/api/sandbox/data/{entity}", params={"user_id": USER, "include_total": True}
        ).json()["total"]
        for entity in ("contacts", "events")
    )


async def test_disconnect_asks_keeps_the_data_and_deletes_it_on_request(
    gateway: ThreadGateway, connectors: Connectors
) -> None:
    api = await connected_and_synced(gateway, connectors)
    client = browser(gateway)

    ask = client.get("/connect/sandbox/disconnect")
    assert ask.status_code == 200
    assert "Disconnect Sandbox?" in ask.text
    assert f"Also delete synced data ({TOTAL} records)" in ask.text
    assert stored(api) == TOTAL  # asking changed nothing

    # Without the page's CSRF token, nothing happens.
    for form in ({}, {"csrf": "forged"}):
        refused = client.post("/connect/sandbox/disconnect", data=form)
        assert refused.status_code == 403
    assert api.get("/api/sandbox/connection", params={"user_id": USER}).json()["status"] == "active"

    # Disconnect, keeping the data: said so, and the page offers to delete it.
    done = client.post("/connect/sandbox/disconnect", data={"csrf": csrf_of(ask)})
    assert done.status_code == 303
    assert notice(client, done.headers["location"]) == (
        "Sandbox is disconnected. Its synced data is kept."
    )
    assert api.get("/api/sandbox/connection", params={"user_id": USER}).json()["status"] == (
        "not_connected"
    )
    assert stored(api) == TOTAL
    page = client.get("/connect")
    assert 'data-testid="delete-data"' in page.text

    # Delete it later: asked again, then gone.
    ask = client.get("/connect/sandbox/disconnect")
    assert "Delete the data synced from Sandbox?" in ask.text
    assert f"{TOTAL} records" in ask.text
    gone = client.post("/connect/sandbox/disconnect", data={"csrf": csrf_of(ask), "purge": "yes"})
    assert notice(client, gone.headers["location"]) == (
        f"Sandbox is disconnected and its {TOTAL:,} synced records are deleted."
    )
    assert stored(api) == 0
    assert 'data-testid="delete-data"' not in client.get("/connect").text


async def test_synced_data_is_not_deleted_under_a_running_sync(
    gateway: ThreadGateway, connectors: Connectors
) -> None:
    api = await connected_and_synced(gateway, connectors)
    sandbox_api = gateway.state.vendor_state["sandbox"]
    sandbox_api.rate_limit_every, sandbox_api.rate_limit_retry_after = 2, 30  # holds the sync
    client = browser(gateway)
    csrf = csrf_of(client.get("/connect"))
    assert client.post("/connect/sandbox/sync", data={"csrf": csrf}).status_code == 303
    assert 'data-state="syncing"' in client.get("/connect").text

    refused = client.post(
        "/connect/sandbox/disconnect",
        data={"csrf": csrf, "purge": "yes"},
        headers={"Accept": "application/json"},
    )

    assert refused.status_code == 409
    assert refused.json()["error"] == "SYNC_RUNNING"
    assert "Wait until it finishes" in refused.json()["message"]
    assert stored(api) == TOTAL
    assert api.get("/api/sandbox/connection", params={"user_id": USER}).json()["status"] == "active"
