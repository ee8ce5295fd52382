"""Connection parameters through the gateway, with Salesforce on its local mock: ``/auth``
checks the login host and carries it through the state to the callback; the Connect page asks
for it before the redirect (in a real browser). The config's authorize URL override puts
``{login_host}`` in a path on the mock, so the chosen host is what the mock sees."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ait_connectors.runtime import Connectors
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.storage.configs import ConnectorConfig

from .conftest import ThreadGateway, follow_start_link

sys.path.insert(0, str(Path(__file__).parents[1] / "vendors"))
from salesforce_mock import CLIENT_ID, CLIENT_SECRET, VERSION_PATH, SalesforceMock

CHROMIUM = Path("/usr/bin/chromium")
USER = "alice"


@pytest.fixture(scope="module")
def org() -> Iterator[SalesforceMock]:
    server = SalesforceMock().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def salesforce(
    gateway: ThreadGateway, connectors: Connectors, org: SalesforceMock
) -> ConnectorConfig:
    org.authorize_hosts.clear()
    return await connectors.configs.create(
        "salesforce",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=f"{gateway.base_url}/api/salesforce/auth/callback",
        name="salesforce",
        overrides={
            "authorize_url": org.url + "/{login_host}/services/oauth2/authorize",
            "token_url": org.url + "/services/oauth2/token",
            "revoke_url": org.url + "/services/oauth2/revoke",
            "api_base_url": org.url + VERSION_PATH,
        },
    )


async def test_auth_checks_the_login_host_and_the_callback_uses_it(
    gateway: ThreadGateway, connectors: Connectors, salesforce: ConnectorConfig, org: SalesforceMock
) -> None:
    key = (await ApiKeyStore(connectors.database).create("app")).key
    api = httpx.Client(
        base_url=gateway.base_url, headers={"X-API-Key": key, "Accept": "application/json"}
    )
    auth = "/api/salesforce/auth"

    bad = api.get(auth, params={"user_id": USER, "login_host": "attacker.example"})
    assert bad.status_code == 400
    error = bad.json()
    assert error["error"] == "INVALID_CONNECTION_PARAMS"
    assert "test.salesforce.com (Sandbox)" in error["message"]
    unknown = api.get(auth, params={"user_id": USER, "instance": "x"})
    assert unknown.status_code == 400 and "unknown connection parameter" in unknown.text

    started = api.get(auth, params={"user_id": USER, "login_host": "test.salesforce.com"})
    assert started.status_code == 200
    browser = httpx.Client()
    authorize = follow_start_link(browser, started.json()["authorization_url"])
    assert authorize.startswith(f"{org.url}/test.salesforce.com/services/oauth2/authorize?")
    back = browser.get(authorize)  # the org approves at once
    done = browser.get(back.headers["location"], headers={"Accept": "application/json"})
    assert done.status_code == 200 and done.json()["connected"] is True, done.text
    data = await connectors.tokens.get_oauth_data(salesforce.id, USER)
    assert data is not None
    assert data.connection_params == {"login_host": "test.salesforce.com"}
    assert data.api_base_url == org.url + VERSION_PATH


@pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (apt-get install chromium)",
)
def test_the_connect_page_asks_for_the_login_host_first(
    gateway: ThreadGateway, salesforce: ConnectorConfig, org: SalesforceMock
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from .test_browser import CHROMIUM_ARGS

    expect.set_options(timeout=30_000)
    link = f"{gateway.base_url}/connect?token={gateway.connect_token(USER)}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(link)
            card = page.locator('[data-provider="salesforce"]')
            field = card.get_by_test_id("param-login_host")
            expect(field).to_have_value("login.salesforce.com")  # the catalogue's default

            # A host that is no Salesforce login host: a clear page, no redirect.
            field.fill("attacker.example")
            card.get_by_test_id("connect").click()
            expect(page.locator("body")).to_contain_text("is not a valid Salesforce login host")
            assert org.authorize_hosts == []

            # A My Domain host: to the org's authorization, back, connected.
            page.goto(f"{gateway.base_url}/connect")
            field = page.locator('[data-provider="salesforce"]').get_by_test_id("param-login_host")
            field.fill("acme.my.salesforce.com")
            page.locator('[data-provider="salesforce"]').get_by_test_id("connect").click()
            expect(page.get_by_test_id("notice")).to_have_text("Salesforce is connected.")
            assert org.authorize_hosts == ["acme.my.salesforce.com"]
            expect(card.get_by_test_id("reconnect-form")).to_be_visible()
        finally:
            browser.close()
