"""``/docs`` in a real browser, offline (issue 12, point 1): Swagger UI's assets come from the
gateway (an installed package), the page runs under a same-origin-only Content-Security-Policy,
lists every operation, and "Try it out" calls the API with the API key given to "Authorize".

Every request to another origin is refused and recorded: the page must not need one."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from .conftest import ThreadGateway
from .test_browser import CHROMIUM, CHROMIUM_ARGS

# What the gateway's HTML pages are meant to send (same-origin scripts and styles only).
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _operations(gateway: ThreadGateway) -> list[tuple[str, str]]:
    document = httpx.get(f"{gateway.base_url}/openapi.json", timeout=30).json()
    methods = {"get", "post", "put", "patch", "delete", "head", "options"}
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in methods
    ]


def test_docs_page_html_names_no_other_origin(gateway: ThreadGateway) -> None:
    page = httpx.get(f"{gateway.base_url}/docs", timeout=30)
    assert page.status_code == 200
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    assert "http" not in page.text.replace(gateway.base_url, "")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert httpx.get(f"{gateway.base_url}/docs/assets/{asset}").status_code == 200


@pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",  # in CI a missing browser fails
    reason="Debian's chromium is not installed (apt-get install chromium)",
)
def test_docs_list_the_operations_and_try_it_out_with_an_api_key(
    gateway: ThreadGateway, api_key: str
) -> None:
    from playwright.sync_api import Route, expect, sync_playwright

    expect.set_options(timeout=30_000)
    operations = _operations(gateway)
    foreign: list[str] = []
    errors: list[str] = []

    def route(route: Route) -> None:
        url = route.request.url
        if not url.startswith(gateway.base_url):
            foreign.append(url)
            route.abort()
        elif url.split("?")[0] == f"{gateway.base_url}/docs":
            response = route.fetch()
            route.fulfill(
                response=response,
                headers={**response.headers, "content-security-policy": STRICT_CSP},
            )
        else:
            route.continue_()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.set_default_timeout(30_000)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.route("**/*", route)
            page.goto(f"{gateway.base_url}/docs")

            # Every operation of the OpenAPI document is listed.
            blocks = page.locator(".opblock")
            expect(blocks).to_have_count(len(operations))
            for method, path in operations:
                summary = page.locator(f".opblock-{method.lower()} .opblock-summary-path")
                expect(summary.filter(has_text=path).first).to_be_attached()

            # Authorize with the API key (the X-API-Key scheme).
            page.locator(".auth-wrapper .authorize").click()
            dialog = page.locator(".modal-ux")
            scheme = dialog.locator(".auth-container").filter(has_text="X-API-Key")
            scheme.locator("input").fill(api_key)
            scheme.get_by_role("button", name="Apply credentials").click()
            expect(scheme.get_by_role("heading", name="Authorized")).to_be_visible()
            scheme.get_by_role("button", name="Close").click()

            # Try it out: GET /api/connections for a user.
            block = page.locator("#operations-connections-get_connections_api_connections_get")
            block.locator(".opblock-summary").click()
            block.get_by_role("button", name="Try it out").click()
            block.locator('tr[data-param-name="user_id"] input').fill("alice")
            with page.expect_response(lambda r: "/api/connections" in r.url) as answer:
                block.get_by_role("button", name="Execute").click()
            sent: Any = answer.value
            assert sent.status == 200, sent.text()
            assert sent.request.headers.get("x-api-key") == api_key
            live = block.locator(".live-responses-table tr.response .response-col_status")
            expect(live.first).to_have_text("200")
        finally:
            browser.close()
    assert foreign == []
    assert errors == []
