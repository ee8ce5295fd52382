"""The real OAuth 2.0 test server and its harness work (plain httpx, no library code)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from support.oidc import AuthorizationError, OAuthClient, OidcServer
from support.polling import wait_until

pytest_plugins = ["support.oidc_fixtures"]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(
    server: OidcServer,
    client: OAuthClient,
    *,
    scope: str = "openid offline_access read",
    state: str = "state-1",
    code_challenge: str | None = None,
) -> str:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": scope,
        "state": state,
    }
    if code_challenge is not None:
        params |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
    return f"{server.authorization_endpoint}?{urlencode(params)}"


def token_request(server: OidcServer, client: OAuthClient, data: dict[str, str]) -> httpx.Response:
    auth: tuple[str, str] | None = None
    form = dict(data)
    if client.token_endpoint_auth_method == "client_secret_basic":
        assert client.client_secret is not None
        auth = (client.client_id, client.client_secret)
    elif client.token_endpoint_auth_method == "client_secret_post":
        assert client.client_secret is not None
        form |= {"client_id": client.client_id, "client_secret": client.client_secret}
    else:
        form["client_id"] = client.client_id
    return httpx.post(server.token_endpoint, data=form, auth=auth, timeout=10.0)


def assert_invalid_grant(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"


def code_grant(
    server: OidcServer, client: OAuthClient, *, scope: str = "openid offline_access read"
) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    code, state = server.obtain_code(
        authorize_url(server, client, scope=scope, code_challenge=challenge)
    )
    assert state == "state-1"
    response = token_request(
        server,
        client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens: dict[str, Any] = response.json()
    return tokens


def test_public_client_pkce_expiry_refresh_rotation_and_reuse(oidc_server: OidcServer) -> None:
    server, client = oidc_server, oidc_server.public_client
    server.reset_stats()

    verifier, challenge = pkce_pair()
    params = server.authorize(authorize_url(server, client, code_challenge=challenge))
    assert params["state"] == "state-1"
    assert params["iss"] == server.issuer
    response = httpx.post(
        server.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": client.redirect_uri,
            "client_id": client.client_id,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3
    assert set(tokens["scope"].split()) == {"openid", "offline_access", "read"}
    assert "id_token" in tokens

    me = server.call_resource(tokens["access_token"])
    assert me.status_code == 200
    assert me.json()["sub"] == "user-1"

    # The access token expires after 3 s (clockTolerance 0) and is then refused.
    wait_until(
        lambda: not server.check_access_token(tokens["access_token"]), timeout=10, interval=0.2
    )
    rejected = server.call_resource(tokens["access_token"])
    assert rejected.status_code == 401
    assert 'error="invalid_token"' in rejected.headers["www-authenticate"]

    # Refresh: rotation gives a new refresh token and a working access token.
    refreshed = token_request(
        server, client, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    new_tokens = refreshed.json()
    assert new_tokens["refresh_token"] != tokens["refresh_token"]
    assert server.check_access_token(new_tokens["access_token"])

    # Reusing the rotated-out refresh token fails and revokes the whole grant.
    reused = token_request(
        server, client, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert_invalid_grant(reused)
    assert not server.check_access_token(new_tokens["access_token"])
    assert_invalid_grant(
        token_request(
            server,
            client,
            {"grant_type": "refresh_token", "refresh_token": new_tokens["refresh_token"]},
        )
    )

    stats = server.stats()
    assert stats["token"] == {"authorization_code": 1, "refresh_token": 3}
    assert stats["token_errors"] == {"authorization_code": 0, "refresh_token": 2}
    assert stats["revocation"] == 0

    server.reset_stats()
    assert server.stats()["token"] == {"authorization_code": 0, "refresh_token": 0}


def test_code_is_single_use(oidc_server: OidcServer) -> None:
    server, client = oidc_server, oidc_server.public_client
    verifier, challenge = pkce_pair()
    code, _ = server.obtain_code(authorize_url(server, client, code_challenge=challenge))
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "code_verifier": verifier,
    }
    first = token_request(server, client, data)
    assert first.status_code == 200
    assert_invalid_grant(token_request(server, client, data))
    # A replayed code revokes what the code produced.
    assert not server.check_access_token(first.json()["access_token"])


@pytest.mark.parametrize("client_attr", ["confidential_client", "confidential_post_client"])
def test_confidential_clients(oidc_server: OidcServer, client_attr: str) -> None:
    server = oidc_server
    client: OAuthClient = getattr(server, client_attr)
    server.reset_stats()

    tokens = code_grant(server, client, scope="read")
    assert tokens["scope"] == "read"
    assert "id_token" not in tokens
    assert server.check_access_token(tokens["access_token"])

    refreshed = token_request(
        server, client, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]

    assert server.stats()["token"] == {"authorization_code": 1, "refresh_token": 1}


def test_wrong_client_secret_is_invalid_client(oidc_server: OidcServer) -> None:
    server = oidc_server
    client = server.confidential_client
    bad = OAuthClient(client.client_id, "wrong-secret", client.redirect_uri)
    response = token_request(
        server, bad, {"grant_type": "refresh_token", "refresh_token": "whatever"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_revocation_kills_the_grant(oidc_server: OidcServer) -> None:
    server, client = oidc_server, oidc_server.confidential_client
    tokens = code_grant(server, client)
    server.reset_stats()

    assert client.client_secret is not None
    response = httpx.post(
        server.revocation_endpoint,
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(client.client_id, client.client_secret),
    )
    assert response.status_code == 200
    assert response.content == b""
    assert not server.check_access_token(tokens["access_token"])
    assert_invalid_grant(
        token_request(
            server,
            client,
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    )
    assert server.stats()["revocation"] == 1


def test_public_client_without_pkce_gets_an_error_redirect(oidc_server: OidcServer) -> None:
    server = oidc_server
    url = authorize_url(server, server.public_client)
    params = server.authorize(url)
    assert params["error"] == "invalid_request"
    assert params["state"] == "state-1"
    with pytest.raises(AuthorizationError) as excinfo:
        server.obtain_code(url)
    assert excinfo.value.error == "invalid_request"


def test_login_hint_selects_the_account(oidc_server: OidcServer) -> None:
    server, client = oidc_server, oidc_server.public_client
    verifier, challenge = pkce_pair()
    url = authorize_url(server, client, code_challenge=challenge) + "&login_hint=user-42"
    code, _ = server.obtain_code(url)
    response = token_request(
        server,
        client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert server.call_resource(response.json()["access_token"]).json()["sub"] == "user-42"


def test_factory_without_rotation(oidc_server_factory: Callable[..., OidcServer]) -> None:
    server = oidc_server_factory(rotate_refresh_token=False, access_token_ttl=60)
    client = server.public_client
    tokens = code_grant(server, client)
    assert tokens["expires_in"] == 60

    for _ in range(2):
        refreshed = token_request(
            server,
            client,
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["refresh_token"] == tokens["refresh_token"]
    assert server.stats()["token"] == {"authorization_code": 1, "refresh_token": 2}


async def test_async_authorization(oidc_server: OidcServer) -> None:
    server, client = oidc_server, oidc_server.public_client
    _, challenge = pkce_pair()
    code, state = await server.aobtain_code(
        authorize_url(server, client, code_challenge=challenge, state="async")
    )
    assert code
    assert state == "async"
