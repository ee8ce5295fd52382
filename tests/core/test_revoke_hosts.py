"""Revocation goes only to a host the connector config names (issue 8: the GHES leak).

A config that points a provider at another deployment (GitHub Enterprise Server) and sets no
``revoke_url`` must never send its client secret and the user's token to the catalogue's host.
respx answers only the routes declared here and fails on any other request.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import respx
from pydantic import SecretStr

from ait_connectors.crypto import Cipher
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.oauth import ConnectorOAuth, OAuthClientConfig
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.providers import get_provider
from ait_connectors.storage.db import Database

GHES = "https://ghe.example.com"
CLIENT_ID = "ghes-client"
SECRET = "ghes-SECRET-value"
ACCESS = "ghes-ACCESS-token"
REDIRECT = "http://127.0.0.1:8765/api/github/auth/callback"
# The README's "GitHub Enterprise Server" recipe, without --revoke-url.
GHES_OVERRIDES = {
    "authorize_url": f"{GHES}/login/oauth/authorize",
    "token_url": f"{GHES}/login/oauth/access_token",
    "api_base_url": f"{GHES}/api/v3",
}


def _no_public_github(mock: respx.MockRouter) -> respx.Route:
    """A route that catches anything sent to github.com or api.github.com."""
    return mock.route(host__regex=r"(^|\.)github\.com$").respond(500)


async def test_ghes_disconnect_revokes_on_the_enterprise_host_only(
    database: Database, cipher: Cipher
) -> None:
    factory = ConnectorServiceFactory(database, cipher)
    config = await factory.configs.create(
        "github",
        client_id=CLIENT_ID,
        client_secret=SECRET,
        redirect_uri=REDIRECT,
        overrides=GHES_OVERRIDES,
    )
    connector = factory.build_connector(config, "u1")
    token = TokenResponse(
        access_token=SecretStr(ACCESS), expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    await factory.tokens.save_oauth_data(config.id, "u1", token)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        public = _no_public_github(mock)
        ghes = mock.delete(f"{GHES}/api/v3/applications/{CLIENT_ID}/token").respond(204)
        assert await connector.disconnect(revoke=True)
    assert not public.called, "credentials were sent to github.com"
    assert ghes.call_count == 1
    request = ghes.calls.last.request
    assert json.loads(request.content) == {"access_token": ACCESS}
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {basic}"
    assert await factory.tokens.get_oauth_data(config.id, "u1") is None


def _oauth(slug: str, **overrides: str) -> ConnectorOAuth:
    config = OAuthClientConfig(CLIENT_ID, SecretStr(SECRET), REDIRECT, **overrides)
    return ConnectorOAuth(get_provider(slug), config)


@pytest.mark.parametrize(
    ("slug", "overrides"),
    [
        # Google's revoke host is not under its API base: nothing to derive it from.
        ("google", {"token_url": "https://sso.example.com/token"}),
        # Only the token endpoint moved: api.github.com is not a host this config names.
        ("github", {"token_url": f"{GHES}/login/oauth/access_token"}),
    ],
)
async def test_revocation_is_skipped_with_a_warning_when_no_named_host_fits(
    slug: str, overrides: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    oauth = _oauth(slug, **overrides)
    assert not oauth.supports_revocation
    assert oauth.endpoints.revoke_url is None
    with respx.mock(assert_all_mocked=True) as mock, caplog.at_level(logging.WARNING):
        await oauth.revoke(ACCESS)
        assert not mock.calls
    await oauth.aclose()
    assert "revoke_url" in caplog.text
    assert ACCESS not in caplog.text and SECRET not in caplog.text


def test_revoke_url_is_derived_from_the_overridden_api_base() -> None:
    oauth = _oauth("github", **GHES_OVERRIDES)
    assert oauth.endpoints.revoke_url == f"{GHES}/api/v3/applications/{CLIENT_ID}/token"
    slack = _oauth("slack", api_base_url="https://slack.example.com/api/")
    assert slack.endpoints.revoke_url == "https://slack.example.com/api/auth.revoke"


def test_explicit_revoke_url_and_catalogue_defaults_are_kept() -> None:
    explicit = _oauth("github", **GHES_OVERRIDES, revoke_url=f"{GHES}/revoke/{{client_id}}")
    assert explicit.endpoints.revoke_url == f"{GHES}/revoke/{CLIENT_ID}"
    plain = _oauth("github")
    assert plain.endpoints.revoke_url == f"https://api.github.com/applications/{CLIENT_ID}/token"
    # An override on the catalogue's own revoke host names that host.
    same_host = _oauth("google", token_url="https://oauth2.googleapis.com/token?v=2")
    assert same_host.endpoints.revoke_url == "https://oauth2.googleapis.com/revoke"
