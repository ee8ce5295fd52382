"""The newcomer's path in a real browser: ``ait-connectors serve`` → printed link → Connect the
sandbox → approve → Sync now → the counts. Headless Debian Chromium driven by Playwright; a
screenshot lands in ``artifacts/connect-page.png``."""

from __future__ import annotations

import os
import queue
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ait_connectors.vendors.sandbox.data import CONTACT_COUNT, EVENT_COUNT

from .conftest import ROOT, stdout_lines, subprocess_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts"
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/connect\?token=act_\S+)")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``ait-connectors serve`` with nothing configured; yields the link it printed."""
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "ait-connectors"), "serve", "--port", "0"],
        env=subprocess_env(AIT_DATA_DIR=str(tmp_path / "data")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = stdout_lines(process)
    output: list[str] = []
    try:
        while True:
            try:
                line = lines.get(timeout=30)
            except queue.Empty:
                pytest.fail(f"serve printed no link within 30 s:\n{''.join(output)}")
            if line is None:
                pytest.fail(f"serve exited:\n{''.join(output)}")
            output.append(line)
            if match := LINK.search(line):
                break
        yield match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    text = "".join(output)
    assert "Traceback" not in text


@pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",  # in CI a missing browser fails
    reason="Debian's chromium is not installed (apt-get install chromium)",
)
def test_connect_and_sync_in_a_browser(served: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.set_default_timeout(30_000)

            # The printed link signs in and drops the token from the address bar.
            page.goto(served)
            assert "token=" not in page.url
            sandbox = page.locator('[data-provider="sandbox"]')
            expect(sandbox.get_by_test_id("status")).to_have_text("Not connected")

            # Connect → the sandbox's authorization page → Approve → back on the Connect page.
            sandbox.get_by_test_id("connect").click()
            expect(page.get_by_role("button", name="Approve")).to_be_visible()
            page.get_by_role("button", name="Approve").click()
            expect(page.get_by_test_id("notice")).to_have_text("Sandbox is connected.")
            expect(sandbox.get_by_test_id("status")).to_have_text("Connected")

            # Sync now → progress while it runs → the counts per entity type.
            sandbox.get_by_test_id("sync").click()
            expect(sandbox.get_by_test_id("count-contacts")).to_have_text(str(CONTACT_COUNT))
            expect(sandbox.get_by_test_id("count-events")).to_have_text(str(EVENT_COUNT))
            expect(sandbox.get_by_test_id("syncing")).to_have_count(0)
            expect(sandbox.get_by_test_id("sync-contacts")).to_contain_text("synced")

            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "connect-page.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "connect-page.png").stat().st_size > 10_000
