"""Every state-changing request authenticated by the Connect page's cookie needs its CSRF token
(issue 10 finding 2); credentials in a header are unaffected."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from ait_connectors.runtime import Connectors

from .conftest import ThreadGateway, sandbox_connect

EVIL = {"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"}


async def _connected(connectors: Connectors) -> bool:
    config = await connectors.configs.find_for_provider("sandbox")
    assert config is not None
    return await connectors.tokens.get_oauth_data(config.id, "alice") is not None


@contextmanager
def _session(gateway: ThreadGateway) -> Iterator[httpx.Client]:
    """Alice's browser: signed in to the Connect page (cookie) and connected to the sandbox."""
    with httpx.Client(base_url=gateway.base_url, follow_redirects=False) as client:
        token = gateway.connect_token("alice")
        assert client.get("/connect", params={"token": token}).status_code == 303
        done = sandbox_connect(gateway, client, redirect="/connect")
        assert done.status_code == 302, done.text
        yield client


async def test_cross_site_cookie_writes_to_the_api_are_refused(
    gateway: ThreadGateway, connectors: Connectors
) -> None:
    with _session(gateway) as browser:
        attempts = [
            browser.post("/api/sandbox/disconnect", headers=EVIL, content=b"purge=true"),
            browser.delete("/api/sandbox/connection", headers={"Origin": "https://evil.example"}),
            browser.post("/api/sandbox/sync", headers=EVIL, content=b"csrf=guess"),
            browser.post("/api/sandbox/sync", headers={"X-CSRF-Token": "guess"}),
        ]
        for response in attempts:
            assert response.status_code == 403, response.text
            assert response.json()["error"] == "CSRF"
            assert "X-CSRF-Token" in response.json()["message"]
        # Nothing happened; reads need no token.
        assert await _connected(connectors)
        status = browser.get("/api/sandbox/sync")
        assert status.status_code == 200
        assert status.json()["active_run_id"] is None
        assert status.json()["last_runs"] == []

        # The page's own token (its csrf-token meta tag) lets the page's scripts write.
        page = browser.get("/connect")
        (csrf,) = re.findall(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        sync = browser.post("/api/sandbox/sync", headers={"X-CSRF-Token": csrf})
        assert sync.status_code == 202, sync.text
        gone = browser.post("/api/sandbox/disconnect", headers={"X-CSRF-Token": csrf})
        assert gone.status_code == 200, gone.text
    assert not await _connected(connectors)


async def test_header_credentials_need_no_csrf_token(
    gateway: ThreadGateway, connectors: Connectors, api_key: str
) -> None:
    with _session(gateway) as browser:
        bearer = {"Authorization": f"Bearer {gateway.connect_token('alice')}"}
        sync = browser.post("/api/sandbox/sync", headers=bearer | {"Origin": "https://x.example"})
        assert sync.status_code == 202, sync.text
        by_key = httpx.post(
            f"{gateway.base_url}/api/sandbox/disconnect",
            params={"user_id": "alice"},
            headers={"X-API-Key": api_key, "Origin": "https://evil.example"},
        )
        assert by_key.status_code == 200, by_key.text
    assert not await _connected(connectors)
