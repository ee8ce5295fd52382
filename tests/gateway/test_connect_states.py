"""Every state of the Connect page in a real browser (issue 12, point 6): not connected,
connected, syncing with progress, last sync failed with a reason and what to do, needs
reconnect, and a confirmed Disconnect that also deletes the synced data. Headless Debian
Chromium driven by Playwright against a gateway in a thread (so the test can turn the sandbox's
rate limit on and off); one screenshot per state lands in ``artifacts/connect-<state>.png``."""

from __future__ import annotations

import asyncio
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ait_connectors.runtime import Connectors
from ait_connectors.vendors.sandbox.data import CONTACT_COUNT, EVENT_COUNT

from .conftest import ThreadGateway
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

USER = "local"
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",  # in CI a missing browser fails
    reason="Debian's chromium is not installed (apt-get install chromium)",
)


def needs_reauth(gateway: ThreadGateway, reason: str) -> None:
    """What a refused refresh leaves behind (``invalid_grant``): the connection needs the user."""

    async def mark() -> None:
        connectors = await Connectors.open(gateway.settings)
        try:
            config = await connectors.configs.find_for_provider("sandbox")
            assert config is not None
            await connectors.tokens.set_status(config.id, USER, "needs_reauth", reason)
        finally:
            await connectors.close()

    # Playwright's sync API runs an event loop in this thread: the database call gets its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, mark()).result(timeout=60)


def test_each_state_of_the_connect_page(gateway: ThreadGateway) -> None:
    from playwright.sync_api import Page, expect, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    expect.set_options(timeout=30_000)
    sandbox_api = gateway.state.vendor_state["sandbox"]  # the SandboxServer
    ARTIFACTS.mkdir(exist_ok=True)

    def shot(page: Page, state: str) -> None:
        # While a sync runs the page reloads itself every second (a meta refresh): a capture
        # that a reload interrupts never finishes, so each try is short and the next one
        # catches the page between two reloads (within a deadline).
        deadline = time.monotonic() + 60
        while True:
            try:
                page.screenshot(
                    path=str(ARTIFACTS / f"connect-{state}.png"),
                    full_page=True,
                    animations="disabled",
                    timeout=5_000,
                )
                return
            except PlaywrightTimeoutError:
                if time.monotonic() > deadline:
                    raise

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(f"{gateway.base_url}/connect?token={gateway.connect_token(USER)}")
            card = page.locator('[data-provider="sandbox"]')
            status = card.get_by_test_id("status")

            # Not connected.
            expect(card).to_have_attribute("data-state", "not_connected")
            expect(status).to_have_text("Not connected")
            shot(page, "not-connected")

            # Connected, nothing synced yet.
            card.get_by_test_id("connect").click()
            page.get_by_role("button", name="Approve").click()
            expect(page.get_by_test_id("notice")).to_have_text("Sandbox is connected.")
            expect(card).to_have_attribute("data-state", "connected")
            expect(card).to_contain_text("Nothing synced yet")

            # Syncing: a rate limit every third request holds the sync (8 s waits, 5 at most).
            sandbox_api.rate_limit_every, sandbox_api.rate_limit_retry_after = 3, 8
            card.get_by_test_id("sync").click()
            expect(card).to_have_attribute("data-state", "syncing")
            expect(status).to_have_text("Syncing")
            expect(card.get_by_test_id("sync")).to_be_disabled()
            expect(card.get_by_test_id("sync-contacts")).to_have_text(
                re.compile(r"^syncing · [1-9]\d* pages · [1-9][\d,]* records")
            )
            expect(card.get_by_test_id("sync-events")).to_have_text("waiting to start")
            expect(card.get_by_test_id("entities")).to_have_count(1)  # one table, no repeat
            expect(card).not_to_contain_text("running")
            shot(page, "syncing")
            sandbox_api.rate_limit_every = 0

            # Connected, with the counts and a paged preview of the latest records.
            expect(card).to_have_attribute("data-state", "connected")
            expect(status).to_have_text("Connected")
            expect(card.get_by_test_id("count-contacts")).to_have_text(str(CONTACT_COUNT))
            expect(card.get_by_test_id("count-events")).to_have_text(str(EVENT_COUNT))
            expect(card.get_by_test_id("sync-contacts")).to_contain_text("+2,500 new")
            expect(card.get_by_test_id("sync")).to_be_enabled()
            contacts = card.get_by_test_id("preview-contacts")
            expect(contacts.locator("summary")).to_have_text(
                f"Latest contacts ({CONTACT_COUNT:,} stored)"
            )
            expect(contacts.locator("tbody tr")).to_have_count(5)
            expect(contacts.locator("tbody tr").first).to_contain_text("c-02500")
            expect(contacts.get_by_test_id("newer")).to_have_count(0)
            # Older and Newer follow keyset cursors, not offsets.
            older = contacts.get_by_test_id("older")
            assert "cursor=" in (older.get_attribute("href") or "")
            older.click()
            expect(contacts.locator("tbody tr").first).to_contain_text("c-02495")
            contacts.get_by_test_id("older").click()
            expect(contacts.locator("tbody tr").first).to_contain_text("c-02490")
            contacts.get_by_test_id("newer").click()
            expect(contacts.locator("tbody tr").first).to_contain_text("c-02495")
            expect(contacts.locator("tbody tr").last).to_contain_text("c-02491")
            expect(card.get_by_test_id("preview-events").locator("tbody tr")).to_have_count(5)
            shot(page, "connected")

            # Last sync failed: a rate limit that resets in an hour stops it.
            sandbox_api.rate_limit_every, sandbox_api.rate_limit_retry_after = 1, 3600
            card.get_by_test_id("sync").click()
            expect(card).to_have_attribute("data-state", "failed")
            expect(status).to_have_text("Last sync failed")
            expect(card.get_by_test_id("reason")).to_have_text(
                "Sandbox's rate limit stopped the contacts sync (and 1 more)."
            )
            expect(card.get_by_test_id("todo")).to_have_text(
                re.compile(r"^Click Sync now after \d\d:\d\d UTC: it continues where it stopped\.$")
            )
            expect(card.get_by_test_id("count-contacts")).to_have_text(str(CONTACT_COUNT))
            shot(page, "failed")
            sandbox_api.rate_limit_every = 0

            # Needs reconnect: the provider refused the refresh; no Sync now, Reconnect first.
            needs_reauth(gateway, "refresh refused by Sandbox: invalid_grant")
            page.reload()
            expect(card).to_have_attribute("data-state", "needs_reconnect")
            expect(status).to_have_text("Needs reconnect")
            expect(card.get_by_test_id("reason")).to_have_text(
                "Sandbox stopped accepting this connection: "
                "refresh refused by Sandbox: invalid_grant."
            )
            expect(card.get_by_test_id("todo")).to_contain_text("Click Reconnect")
            expect(card.get_by_test_id("sync")).to_have_count(0)
            shot(page, "needs-reconnect")
            card.get_by_test_id("reconnect").click()
            page.get_by_role("button", name="Approve").click()
            expect(page.get_by_test_id("notice")).to_have_text("Sandbox is connected.")
            card.get_by_test_id("sync").click()
            expect(card).to_have_attribute("data-state", "connected")
            expect(card.get_by_test_id("problem")).to_have_count(0)

            # Disconnect asks first; Cancel changes nothing.
            card.get_by_test_id("disconnect").click()
            confirm = page.get_by_test_id("confirm")
            expect(confirm).to_contain_text("Disconnect Sandbox?")
            expect(confirm).to_contain_text(f"{CONTACT_COUNT + EVENT_COUNT} records")
            confirm.get_by_test_id("cancel").click()
            expect(card).to_have_attribute("data-state", "connected")

            # Disconnect and also delete the synced data.
            card.get_by_test_id("disconnect").click()
            shot(page, "disconnect-confirm")
            confirm.get_by_test_id("purge").check()
            confirm.get_by_test_id("confirm-disconnect").click()
            expect(page.get_by_test_id("notice")).to_have_text(
                f"Sandbox is disconnected and its {CONTACT_COUNT + EVENT_COUNT:,} synced records "
                "are deleted."
            )
            expect(card).to_have_attribute("data-state", "not_connected")
            expect(card.get_by_test_id("entities")).to_have_count(0)
            expect(card.get_by_test_id("preview-contacts")).to_have_count(0)
            expect(card.get_by_test_id("delete-data")).to_have_count(0)
            shot(page, "disconnected")
        finally:
            browser.close()
    for state in ("not-connected", "syncing", "connected", "failed", "needs-reconnect"):
        assert (ARTIFACTS / f"connect-{state}.png").stat().st_size > 10_000
