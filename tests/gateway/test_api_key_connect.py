"""API-key connections through the gateway: the JSON API and the Connect page's password form
(CSRF-protected, in a real browser), with the test catalogue's ``keyed`` provider."""

from __future__ import annotations

import os

import httpx
import pytest

from ait_connectors.runtime import Connectors
from support.keyed import GOOD_KEY, KeyedMock, keyed_mock_fixture  # noqa: F401 (fixture)

from .conftest import ThreadGateway
from .test_browser import CHROMIUM, CHROMIUM_ARGS

WRONG_KEY = "kk_live_ffffffffffffffff"


@pytest.fixture
async def keyed(connectors: Connectors, mock: KeyedMock) -> str:
    mock.keys = {GOOD_KEY}
    config = await connectors.configs.create(
        "keyed",
        client_id="own-keys",
        client_secret=None,
        redirect_uri="http://127.0.0.1:8765/api/keyed/auth/callback",
        overrides={"api_base_url": mock.api_url},
    )
    return config.id


async def test_api_connects_with_a_key_and_never_echoes_it(
    gateway: ThreadGateway, api_key: str, keyed: str, connectors: Connectors
) -> None:
    headers = {"X-API-Key": api_key}
    async with httpx.AsyncClient(base_url=gateway.base_url, headers=headers) as client:
        refused = await client.post(
            "/api/keyed/api-key", params={"user_id": "u1"}, json={"api_key": WRONG_KEY}
        )
        assert refused.status_code == 400 and refused.json()["error"] == "INVALID_API_KEY"
        assert WRONG_KEY not in refused.text
        assert await connectors.tokens.get_oauth_data(keyed, "u1") is None

        done = await client.post(
            "/api/keyed/api-key", params={"user_id": "u1"}, json={"api_key": GOOD_KEY}
        )
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["status"] == "active" and body["auth"] == "api_key"
        assert GOOD_KEY not in done.text
        shown = await client.get("/api/keyed/connection", params={"user_id": "u1"})
        assert shown.json()["auth"] == "api_key" and GOOD_KEY not in shown.text

        # No OAuth flow for a key-only provider: a clear answer instead of a broken redirect.
        oauth = await client.get(
            "/api/keyed/auth", params={"user_id": "u1"}, headers={"Accept": "application/json"}
        )
        assert oauth.status_code == 400 and oauth.json()["error"] == "API_KEY_PROVIDER"


async def test_page_form_refuses_a_post_without_csrf(gateway: ThreadGateway, keyed: str) -> None:
    token = gateway.connect_token("u2")
    async with httpx.AsyncClient(base_url=gateway.base_url) as client:
        await client.get("/connect", params={"token": token})  # the session cookie
        forged = await client.post("/connect/keyed/api-key", data={"api_key": GOOD_KEY})
        assert forged.status_code == 403, forged.text
        assert gateway.state  # the gateway kept serving


@pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (apt-get install chromium)",
)
def test_paste_a_key_on_the_connect_page_in_a_browser(gateway: ThreadGateway, keyed: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    link = f"{gateway.base_url}/connect?token={gateway.connect_token('browser-user')}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(link)
            card = page.locator('[data-provider="keyed"]')
            expect(card.get_by_test_id("status")).to_have_text("Not connected")
            expect(card.get_by_test_id("connect")).to_have_count(0)  # no OAuth button
            field = card.get_by_test_id("api-key")
            assert field.get_attribute("type") == "password"

            field.fill(WRONG_KEY)
            card.get_by_test_id("api-key-submit").click()
            expect(page.get_by_text("refused this API key")).to_be_visible()
            assert WRONG_KEY not in page.content()

            page.goto(f"{gateway.base_url}/connect")
            card.get_by_test_id("api-key").fill(GOOD_KEY)
            card.get_by_test_id("api-key-submit").click()
            expect(page.get_by_test_id("notice")).to_have_text("Keyed is connected.")
            expect(card.get_by_test_id("status")).to_have_text("Connected")
            expect(card.get_by_test_id("auth-mode")).to_contain_text("API key")
            assert GOOD_KEY not in page.content()  # the field is empty again, never echoed
        finally:
            browser.close()


async def test_stripe_test_or_live_mode_is_kept_and_shown(
    gateway: ThreadGateway, api_key: str, connectors: Connectors
) -> None:
    from vendors.stripe_mock import StripeMock

    stripe = StripeMock()
    stripe.start()
    try:
        await connectors.configs.create(
            "stripe",
            client_id="own-account",
            client_secret=None,
            redirect_uri="http://127.0.0.1:8765/api/stripe/auth/callback",
            overrides={"api_base_url": stripe.api_url + "/"},
        )
        async with httpx.AsyncClient(base_url=gateway.base_url) as client:
            done = await client.post(
                "/api/stripe/api-key",
                params={"user_id": "u3"},
                json={"api_key": stripe.new_key("rk_test_")},
                headers={"X-API-Key": api_key},
            )
            assert done.status_code == 200 and done.json()["livemode"] is False, done.text
            await client.get("/connect", params={"token": gateway.connect_token("u3")})
            page = (await client.get("/connect")).text
    finally:
        stripe.stop()
    card = page[page.index('data-provider="stripe"') :]
    assert 'data-testid="livemode">Test mode<' in card
    assert "Connected with an API key" in card
