"""The sandbox's Approve form refuses a cross-site post (issue 10 finding 3)."""

from __future__ import annotations

import html
import re

import httpx

from ait_connectors.vendors.sandbox.server import SANDBOX_CLIENT_ID

from .conftest import ThreadGateway


def _authorize_params(gateway: ThreadGateway) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": SANDBOX_CLIENT_ID,
        "redirect_uri": f"{gateway.base_url}/api/sandbox/auth/callback",
        "state": "attacker-state",
    }


def _fields(page: httpx.Response) -> dict[str, str]:
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)
    }


async def test_a_cross_site_approve_is_refused(gateway: ThreadGateway) -> None:
    url = f"{gateway.base_url}/sandbox/oauth/authorize"
    params = _authorize_params(gateway)
    evil = {"Origin": "https://evil.example"}
    with httpx.Client() as attacker, httpx.Client() as victim:
        # The attacker reads a form of their own (its token is for the attacker's session).
        stolen = _fields(attacker.get(url, params=params))
        assert stolen["csrf"]
        victim.get(url, params=params)  # the victim has a sandbox session of their own
        attempts = [
            victim.post(url, data=params | {"decision": "approve"}, headers=evil),
            victim.post(url, data=stolen | {"decision": "approve"}, headers=evil),
            httpx.post(url, data=stolen | {"decision": "approve"}, headers=evil),  # no cookie
        ]
        for response in attempts:
            assert response.status_code == 403, response.text
            assert "location" not in response.headers
            assert "open the authorization link again" in response.text

        # The page's own form, posted by the browser that was shown it, goes through.
        mine = _fields(victim.get(url, params=params)) | {"decision": "approve"}
        approved = victim.post(url, data=mine)
    assert approved.status_code == 302
    assert "code=" in approved.headers["location"]
