"""One provider list (issue 12, point 7): the Connect page lists every catalogue provider — a
card for each one that can be connected here, and for the others what it takes to add one — and
the page, ``GET /api/providers``, the CLI and the README agree (``ait_connectors.offering``).

The browser test follows the page's own instruction: it runs the ``ait-connectors configs add``
command the page shows (the real CLI, the secret on stdin) and sees GitHub become connectable."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from ait_connectors.runtime import Connectors

from .conftest import ROOT, ThreadGateway, subprocess_env
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from .test_cli import CLI, run
from .test_providers import _split

USER = "local"
COMMAND = "ait-connectors configs add github --client-id … --client-secret-stdin"


class _PageProviders(HTMLParser):
    """The providers the Connect page names: cards (``data-provider``) and the others
    (``data-other``, with ``data-connector``)."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[str] = []
        self.others: dict[str, bool] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("data-provider"):
            self.cards.append(str(found["data-provider"]))
        if tag == "li" and found.get("data-other"):
            self.others[str(found["data-other"])] = found.get("data-connector") == "yes"


def page_providers(gateway: ThreadGateway) -> _PageProviders:
    with httpx.Client(base_url=gateway.base_url) as client:
        response = client.get("/connect", headers={"Authorization": _bearer(gateway)})
    assert response.status_code == 200, response.text
    parsed = _PageProviders()
    parsed.feed(response.text)
    return parsed


def _bearer(gateway: ThreadGateway) -> str:
    return f"Bearer {gateway.connect_token(USER)}"


def readme_providers() -> tuple[list[str], list[str]]:
    text = " ".join((ROOT / "README.md").read_text().split())
    section = text.split("**Providers.**", 1)[1].split("`GET /api/providers`", 1)[0]
    with_connector, without = section.split("Every other catalogue entry", 1)
    slugs = re.compile(r"\(`([a-z0-9_-]+)`\)")
    return sorted(slugs.findall(with_connector)), sorted(slugs.findall(without))


def test_the_page_the_api_the_cli_and_the_readme_agree(
    gateway: ThreadGateway, api_key: str, tmp_path: Path
) -> None:
    api = httpx.get(f"{gateway.base_url}/api/providers", headers={"X-API-Key": api_key}).json()
    page = page_providers(gateway)
    # The page: every provider once; a card exactly for the connectable ones.
    assert len(page.cards) + len(page.others) == len({*page.cards, *page.others})
    assert {*page.cards, *page.others} == {p["slug"] for p in api}
    # A provider without a connector is connectable too (the generic flow).
    assert page.cards == [p["slug"] for p in api if p["configured"] and not p["unavailable"]]
    page_usable = sorted([*page.cards, *(s for s, has in page.others.items() if has)])
    page_catalogue_only = sorted(s for s, has in page.others.items() if not has)
    assert page_usable == sorted(p["slug"] for p in api if p["connector"])
    assert page_catalogue_only == sorted(p["slug"] for p in api if not p["connector"])
    # The CLI and the README (as a fresh process sees the catalogue). This in-process gateway
    # also sees the providers other tests of this process registered: leave those out.
    usable, catalogue_only = _split(gateway.settings)
    fresh = {*usable, *catalogue_only}
    page_usable = [slug for slug in page_usable if slug in fresh]
    page_catalogue_only = [slug for slug in page_catalogue_only if slug in fresh]
    assert page_usable == sorted(usable) and page_catalogue_only == sorted(catalogue_only)
    # The README names the connectors; the generic ones by the command that lists them.
    assert readme_providers() == (sorted(usable), [])
    cli = run(subprocess_env(AIT_DATA_DIR=str(tmp_path / "cli")), "connect", "nosuchvendor")
    assert f"Providers with a connector: {', '.join(usable)}." in cli.stderr


def cli_on_gateway_data(gateway: ThreadGateway, args: list[str], stdin: str) -> None:
    """The real CLI on the gateway's data folder (its database and key)."""
    done = subprocess.run(
        [CLI, *args],
        env=subprocess_env(AIT_DATA_DIR=str(gateway.settings.data_dir)),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_a_config_without_a_connector_is_a_generic_card(
    gateway: ThreadGateway, catalogue_only: str
) -> None:
    async def add() -> None:
        async with await Connectors.open(gateway.settings) as connectors:
            await connectors.configs.create(
                catalogue_only, client_id="id", client_secret="s", redirect_uri="http://x/cb"
            )

    asyncio.run(add())
    page = page_providers(gateway)  # before: a card whose vendor is missing broke the page
    # Connectable through the generic flow: a card (with no Sync button: nothing to sync).
    assert catalogue_only in page.cards and catalogue_only not in page.others
    with httpx.Client(base_url=gateway.base_url) as client:
        html = client.get("/connect", headers={"Authorization": _bearer(gateway)}).text
    card = html.split(f'data-provider="{catalogue_only}"', 1)[1].split("</section>", 1)[0]
    assert 'data-testid="connect"' in card and 'data-testid="sync"' not in card


pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",  # in CI a missing browser fails
    reason="Debian's chromium is not installed (apt-get install chromium)",
)


def test_the_connect_page_says_how_to_add_each_provider(
    gateway: ThreadGateway, catalogue_only: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(f"{gateway.base_url}/connect?token={gateway.connect_token(USER)}")
            expect(page.locator('[data-provider="sandbox"]')).to_be_visible()
            others = page.get_by_test_id("other-providers")
            github = others.locator('[data-other="github"]')
            expect(github).to_contain_text("GitHub")
            command = github.get_by_test_id("todo-github").locator("code")
            expect(command).to_have_text(COMMAND)
            expect(github.get_by_test_id("redirect-github")).to_have_text(
                f"{gateway.base_url}/api/github/auth/callback"
            )
            expect(others.get_by_test_id(f"todo-{catalogue_only}")).to_contain_text(
                f"ait-connectors configs add {catalogue_only}"
            )
            # Listed by category; the search box filters by name, slug or category.
            expect(others.get_by_test_id("category-identity")).to_be_visible()
            page.get_by_test_id("provider-q").fill("OKT")
            page.get_by_test_id("provider-search-submit").click()
            expect(others.locator("[data-other]")).to_have_count(1)
            expect(others.locator('[data-other="okta"]')).to_have_attribute(
                "data-category", "identity"
            )
            page.get_by_test_id("provider-q").fill("")
            page.get_by_test_id("provider-category").select_option("identity")
            page.get_by_test_id("provider-search-submit").click()
            expect(others.locator("[data-other]")).to_have_count(2)
            page.get_by_test_id("provider-category").select_option("")
            page.get_by_test_id("provider-search-submit").click()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "connect-providers.png"), full_page=True)

            # Do what the page says, with the real CLI on the gateway's data folder.
            argv = command.inner_text().replace("…", "github-client-id").split()
            assert argv[0] == "ait-connectors"
            cli_on_gateway_data(gateway, argv[1:], "github-client-secret\n")
            page.reload()
            card = page.locator('[data-provider="github"]')
            expect(card).to_have_attribute("data-state", "not_connected")
            expect(card.get_by_test_id("connect")).to_be_visible()
            expect(page.locator('[data-other="github"]')).to_have_count(0)
        finally:
            browser.close()
