"""An OAuth flow is finished only by the browser that started it (issue 10 finding 1)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from ait_connectors.runtime import Connectors

from .conftest import ThreadGateway, approve

JSON = {"Accept": "application/json"}


async def _alice_token(connectors: Connectors) -> str | None:
    config = await connectors.configs.find_for_provider("sandbox")
    assert config is not None
    data = await connectors.tokens.get_oauth_data(config.id, "alice")
    return None if data is None else data.access_token.get_secret_value()


async def test_a_forwarded_authorize_link_cannot_be_finished_elsewhere(
    gateway: ThreadGateway, connectors: Connectors
) -> None:
    token = gateway.connect_token("alice")
    with httpx.Client() as alice, httpx.Client() as victim:
        start = alice.get(f"{gateway.base_url}/api/sandbox/auth", params={"token": token})
        assert start.status_code == 302, start.text
        cookie = start.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "max-age=600" in cookie
        # Alice sends the authorize link to someone else, who approves with their account.
        back = approve(victim, start.headers["location"])
        refused = victim.get(back.headers["location"], headers=JSON)
        page = victim.get(back.headers["location"])
        assert refused.status_code == 400, refused.text
        assert refused.json()["reason"] == "other_browser"
        assert "This sign-in was started in another browser" in page.text
        assert "Start the connection again from this browser" in page.text
        assert await _alice_token(connectors) is None

        # The state was not used up by the refusal: the browser that started it still can.
        again = approve(alice, start.headers["location"])
        mine = alice.get(again.headers["location"], headers=JSON)
    assert mine.status_code == 200, mine.text
    assert await _alice_token(connectors) is not None


async def test_a_server_started_flow_is_bound_by_its_start_link(
    gateway: ThreadGateway, connectors: Connectors, api_key: str
) -> None:
    started = httpx.get(
        f"{gateway.base_url}/api/sandbox/auth",
        params={"user_id": "alice"},
        headers={"X-API-Key": api_key} | JSON,
    )
    assert started.status_code == 200, started.text
    assert "set-cookie" not in started.headers  # the server is not the browser
    link = started.json()["authorization_url"]
    assert link.startswith(f"{gateway.base_url}/api/sandbox/auth/start?")
    with httpx.Client() as browser, httpx.Client() as other:
        provider_url = browser.get(link).headers["location"]
        assert provider_url.startswith(f"{gateway.base_url}/sandbox/oauth/authorize?")
        assert parse_qs(urlsplit(provider_url).query)["code_challenge_method"] == ["S256"]
        # The provider URL the browser was sent to does not work in another browser.
        back = approve(other, provider_url)
        assert other.get(back.headers["location"], headers=JSON).json()["reason"] == "other_browser"
        done = browser.get(approve(browser, provider_url).headers["location"], headers=JSON)
        assert done.status_code == 200, done.text
        # Used up: the start link now leads nowhere.
        again = browser.get(link, headers=JSON)
    assert again.status_code == 400
    assert again.json()["reason"] == "used"


async def test_a_start_link_needs_its_nonce(gateway: ThreadGateway, api_key: str) -> None:
    started = httpx.get(
        f"{gateway.base_url}/api/sandbox/auth",
        params={"user_id": "alice"},
        headers={"X-API-Key": api_key} | JSON,
    )
    query = parse_qs(urlsplit(started.json()["authorization_url"]).query)
    url = f"{gateway.base_url}/api/sandbox/auth/start"
    for flow in ("guessed", ""):
        response = httpx.get(url, params={"state": query["state"][0], "flow": flow}, headers=JSON)
        assert response.status_code == 400, response.text
        assert response.json()["reason"] == "other_browser"
        assert "set-cookie" not in response.headers
    forged = httpx.get(url, params={"state": "forged", "flow": query["flow"][0]}, headers=JSON)
    assert forged.json()["reason"] == "unknown"
