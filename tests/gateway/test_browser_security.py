"""Issue 10 in Debian Chromium: the Connect page and the sandbox's page work under their content
security policy and refuse to be framed (finding 4); an authorization link forwarded from one
browser to another connects nobody (finding 1)."""

from __future__ import annotations

import os

import pytest

from ait_connectors.testing.polling import wait_until

from .test_browser import CHROMIUM, CHROMIUM_ARGS, served

__all__ = ["served"]  # the fixture, shared with the newcomer's browser test


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (apt-get install chromium)",
)


@needs_chromium
def test_pages_work_under_the_policy_and_refuse_framing(served: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))

            page.goto(served)
            # The linked stylesheets apply (inline ones would be refused).
            expect(page.locator("body")).to_have_css("background-color", "rgb(245, 246, 248)")
            page.locator('[data-provider="sandbox"]').get_by_test_id("connect").click()
            approve = page.get_by_role("button", name="Approve")
            expect(approve).to_be_visible()
            expect(approve).to_have_css("background-color", "rgb(31, 122, 63)")
            approve.click()
            expect(page.get_by_test_id("notice")).to_have_text("Sandbox is connected.")
            assert not [m for m in console if "Content Security Policy" in m], console

            # Another site framing the Connect page gets nothing.
            connect = served.split("/connect", 1)[0] + "/connect"
            framing = browser.new_page()
            blocked: list[str] = []
            framing.on("console", lambda message: blocked.append(message.text))
            framing.set_content(f'<iframe src="{connect}" width="600" height="400"></iframe>')

            def refused() -> bool:
                framing.evaluate("0")  # lets Playwright deliver the console events
                return any("frame-ancestors" in m for m in blocked)

            wait_until(refused, 30)
            (frame,) = [f for f in framing.frames if f != framing.main_frame]
            assert "data-provider" not in frame.content()
        finally:
            browser.close()


@needs_chromium
def test_a_forwarded_authorization_link_fails_in_another_browser(served: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            starter = browser.new_context().new_page()
            starter.set_default_timeout(30_000)
            starter.goto(served)
            starter.locator('[data-provider="sandbox"]').get_by_test_id("connect").click()
            expect(starter.get_by_role("button", name="Approve")).to_be_visible()
            link = starter.url  # the provider's authorization page, with the flow's state

            other = browser.new_context().new_page()  # another browser: no cookies
            other.set_default_timeout(30_000)
            other.goto(link)
            other.get_by_role("button", name="Approve").click()
            message = other.get_by_test_id("message")
            expect(message).to_contain_text("This sign-in was started in another browser")

            # The browser that started the flow still finishes it.
            starter.get_by_role("button", name="Approve").click()
            expect(starter.get_by_test_id("notice")).to_have_text("Sandbox is connected.")
        finally:
            browser.close()
