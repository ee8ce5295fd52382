"""HTML pages cannot be framed, run only the gateway's own scripts and styles, and leak no URL
through the referrer; no response is sniffed (issue 10 finding 4)."""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import ThreadGateway

HTML = {"Accept": "text/html"}


def _assert_safe(response: httpx.Response) -> None:
    headers = response.headers
    policy = headers.get("content-security-policy", "")
    directives = dict(d.strip().partition(" ")[::2] for d in policy.split(";"))
    assert directives.get("frame-ancestors") == "'none'", policy
    assert directives.get("default-src") == "'none'", policy
    assert directives.get("script-src") == "'self'", policy
    assert directives.get("style-src") == "'self'", policy
    assert "unsafe" not in policy
    assert "http" not in policy  # no CDN
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "no-referrer"


def _assert_no_inline_code(page: httpx.Response, client: httpx.Client) -> None:
    """The page links its styles (which load) instead of inlining what the policy refuses."""
    text = page.text
    assert "<style" not in text
    assert not re.search(r"\sstyle=", text)
    assert not re.search(r"<script(?![^>]*\ssrc=)", text)
    sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)">', text)
    assert sheets
    for href in sheets:
        sheet = client.get(href)
        assert sheet.status_code == 200
        assert sheet.headers["content-type"].startswith("text/css")
        assert sheet.headers["x-content-type-options"] == "nosniff"


def test_the_connect_page_and_the_urls_carrying_tokens(gateway: ThreadGateway) -> None:
    token = gateway.connect_token("alice")
    with httpx.Client(base_url=gateway.base_url) as browser:
        sign_in = browser.get("/connect", params={"token": token})
        assert sign_in.status_code == 303
        _assert_safe(sign_in)
        page = browser.get("/connect")
        assert page.status_code == 200
        _assert_safe(page)
        _assert_no_inline_code(page, browser)

        start = browser.get("/api/sandbox/auth", params={"token": token})
        assert start.status_code == 302
        _assert_safe(start)
        authorize = browser.get(start.headers["location"])  # the sandbox's page
        assert authorize.status_code == 200
        _assert_safe(authorize)
        _assert_no_inline_code(authorize, browser)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/sandbox/auth/callback", {"state": "nope", "code": "c"}),  # the error page
        ("/api/sandbox/auth/start", {"state": "nope", "flow": "f"}),
        ("/sandbox/oauth/authorize", {"client_id": "nope"}),  # the sandbox's error page
        ("/connect", {}),  # sign-in needed
        ("/docs", {}),
        ("/redoc", {}),
    ],
)
def test_every_html_page(gateway: ThreadGateway, path: str, params: dict[str, str]) -> None:
    with httpx.Client(base_url=gateway.base_url) as client:
        page = client.get(path, params=params, headers=HTML)
    assert page.headers["content-type"].startswith("text/html")
    _assert_safe(page)
    if path not in ("/docs", "/redoc"):  # those are the newcomer helper's (same-origin assets)
        _assert_no_inline_code(page, httpx.Client(base_url=gateway.base_url))


def test_json_is_not_sniffed_either(gateway: ThreadGateway) -> None:
    for path in ("/health", "/api/connections", "/openapi.json"):
        response = httpx.get(f"{gateway.base_url}{path}")
        assert response.headers["x-content-type-options"] == "nosniff", path
