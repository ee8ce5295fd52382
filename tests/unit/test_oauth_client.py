"""ConnectorOAuth against mocked vendor endpoints (respx): request shapes and error mapping."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
import respx
from pydantic import SecretStr

from ait_connectors.errors import (
    ConfigurationError,
    ConnectorOAuthJsonParseError,
    ConnectorOAuthNetworkError,
    ConnectorOAuthRefreshTokenExpiredError,
    ConnectorOAuthRequestError,
)
from ait_connectors.oauth import (
    ConnectorAuthenticator,
    ConnectorOAuth,
    OAuthClientConfig,
    TokenResponse,
    generate_pkce_pair,
)
from ait_connectors.providers import get_provider

CLIENT_ID = "client-123"
SECRET = "s3cr3t-CLIENT-value"
REDIRECT = "https://app.example.com/oauth/callback"
CODE = "auth-CODE-value-9f8e"
VERIFIER = "v" * 50
ACCESS = "at-ACCESS-value-1a2b"
REFRESH = "rt-REFRESH-value-3c4d"
TIMEOUT = 7.5

MakeOAuth = Callable[..., ConnectorOAuth]


@pytest.fixture
async def make_oauth() -> AsyncIterator[MakeOAuth]:
    created: list[ConnectorOAuth] = []

    def make(
        slug: str,
        *,
        secret: str | None = SECRET,
        http_client: httpx.AsyncClient | None = None,
        **overrides: Any,
    ) -> ConnectorOAuth:
        config = OAuthClientConfig(
            client_id=CLIENT_ID,
            client_secret=SecretStr(secret) if secret is not None else None,
            redirect_uri=REDIRECT,
            **overrides,
        )
        oauth = ConnectorOAuth(get_provider(slug), config, timeout=TIMEOUT, http_client=http_client)
        created.append(oauth)
        return oauth

    yield make
    for oauth in created:
        await oauth.aclose()


def token_url(slug: str) -> str:
    return str(get_provider(slug).token_url)


def revoke_url(slug: str) -> str:
    return str(get_provider(slug).revoke_url)


def basic(client_id: str = CLIENT_ID, secret: str = SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in (SECRET, CODE, VERIFIER, ACCESS, REFRESH):
            assert secret not in text, f"{secret!r} leaked into {text!r}"


def assert_timeout(request: httpx.Request) -> None:
    assert request.extensions["timeout"] == {
        "connect": TIMEOUT,
        "read": TIMEOUT,
        "write": TIMEOUT,
        "pool": TIMEOUT,
    }


# ----------------------------------------------------------------------------------------------
# Authorization URL


def test_github_authorization_url(make_oauth: MakeOAuth) -> None:
    pkce = generate_pkce_pair()
    url = make_oauth("github").authorization_url("st-1", code_challenge=pkce.challenge)
    assert url.startswith("https://github.com/login/oauth/authorize?")
    params = query(url)
    assert params["response_type"] == ["code"]
    assert params["client_id"] == [CLIENT_ID]
    assert params["redirect_uri"] == [REDIRECT]
    assert params["state"] == ["st-1"]
    assert params["scope"] == ["read:user user:email"]
    assert params["code_challenge"] == [pkce.challenge]
    assert params["code_challenge_method"] == ["S256"]
    assert pkce.verifier not in url


def test_authorization_url_without_challenge_has_no_pkce(make_oauth: MakeOAuth) -> None:
    params = query(make_oauth("github").authorization_url("st"))
    assert "code_challenge" not in params
    assert "code_challenge_method" not in params


def test_linear_scopes_are_comma_separated(make_oauth: MakeOAuth) -> None:
    oauth = make_oauth("linear", scopes=("read", "issues:create"))
    assert query(oauth.authorization_url("st"))["scope"] == ["read,issues:create"]


def test_slack_asks_user_scopes_comma_separated(make_oauth: MakeOAuth) -> None:
    params = query(make_oauth("slack").authorization_url("st"))
    assert "scope" not in params
    (user_scope,) = params["user_scope"]
    assert user_scope.split(",") == list(get_provider("slack").default_scopes)


def test_google_offline_consent_params(make_oauth: MakeOAuth) -> None:
    params = query(make_oauth("google").authorization_url("st", code_challenge="c" * 43))
    assert params["access_type"] == ["offline"]
    assert params["prompt"] == ["consent"]
    assert params["include_granted_scopes"] == ["true"]
    assert params["scope"][0].split(" ")[:3] == ["openid", "email", "profile"]
    assert params["code_challenge_method"] == ["S256"]


def test_notion_owner_user_no_scope_and_no_pkce(make_oauth: MakeOAuth) -> None:
    params = query(make_oauth("notion").authorization_url("st", code_challenge="c" * 43))
    assert params["owner"] == ["user"]
    assert params["redirect_uri"] == [REDIRECT]  # so the token exchange must repeat it (it does)
    assert "scope" not in params
    assert "code_challenge" not in params  # PKCE is not supported by Notion: left out


def test_x_requires_pkce(make_oauth: MakeOAuth) -> None:
    oauth = make_oauth("x")
    with pytest.raises(ConfigurationError, match="requires PKCE"):
        oauth.authorization_url("st")
    pkce = generate_pkce_pair()
    params = query(oauth.authorization_url("st", code_challenge=pkce.challenge))
    assert params["code_challenge"] == [pkce.challenge]
    assert params["scope"] == [
        "tweet.read users.read like.read bookmark.read follows.read offline.access"
    ]


def test_extra_params_win_but_cannot_touch_reserved(make_oauth: MakeOAuth) -> None:
    oauth = make_oauth("google")
    params = query(oauth.authorization_url("st", extra_params={"prompt": "select_account"}))
    assert params["prompt"] == ["select_account"]
    with pytest.raises(ConfigurationError, match="state"):
        oauth.authorization_url("st", extra_params={"state": "other"})
    with pytest.raises(ConfigurationError):
        oauth.authorization_url("")


def test_config_overrides_urls_and_scopes(make_oauth: MakeOAuth) -> None:
    oauth = make_oauth(
        "github",
        scopes=("repo",),
        authorize_url="https://ghe.example.com/login/oauth/authorize",
        token_url="http://127.0.0.1:8765/token",
        revoke_url="https://ghe.example.com/api/v3/applications/{client_id}/token",
        api_base_url="https://ghe.example.com/api/v3",
    )
    url = oauth.authorization_url("st")
    assert url.startswith("https://ghe.example.com/login/oauth/authorize?")
    assert query(url)["scope"] == ["repo"]
    assert oauth.endpoints.token_url == "http://127.0.0.1:8765/token"
    assert oauth.endpoints.revoke_url == (
        f"https://ghe.example.com/api/v3/applications/{CLIENT_ID}/token"
    )
    assert oauth.endpoints.api_base_url == "https://ghe.example.com/api/v3"


def test_catalogue_revoke_url_placeholder_is_filled(make_oauth: MakeOAuth) -> None:
    oauth = make_oauth("github")
    assert oauth.endpoints.revoke_url == f"https://api.github.com/applications/{CLIENT_ID}/token"
    assert oauth.endpoints.scopes == ("read:user", "user:email")


# ----------------------------------------------------------------------------------------------
# Token exchange: request shape per client-auth method


async def test_github_exchange_post_auth_json_accept(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(token_url("github")).respond(
        json={"access_token": ACCESS, "token_type": "bearer", "scope": "repo,gist"}
    )
    token = await make_oauth("github").get_access_token(CODE, VERIFIER)
    request = route.calls.last.request
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert "authorization" not in request.headers
    assert form(request) == {
        "grant_type": "authorization_code",
        "code": CODE,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
    }
    assert_timeout(request)
    assert token.access_token.get_secret_value() == ACCESS
    assert token.scope == "repo,gist"  # GitHub's comma-separated response scope, kept as given
    assert token.expires_at is None  # no expires_in: does not expire
    assert token.refresh_token is None
    assert token.token_type == "bearer"


async def test_github_form_encoded_success_body(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(token_url("github")).respond(
        content=f"access_token={ACCESS}&scope=repo%2Cgist&token_type=bearer".encode(),
        headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    token = await make_oauth("github").get_access_token(CODE)
    assert token.access_token.get_secret_value() == ACCESS
    assert token.scope == "repo,gist"
    assert token.expires_at is None


async def test_github_200_with_error_is_an_error(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(token_url("github")).respond(
        json={
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/",
        }
    )
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("github").get_access_token(CODE)
    error = info.value
    assert type(error) is ConnectorOAuthRequestError
    assert error.status_code == 200
    assert error.error == "bad_verification_code"
    assert error.error_description == "The code passed is incorrect or expired."
    assert "GitHub token exchange failed" in str(error)
    assert_no_secrets(str(error), repr(error), error.response_body)


async def test_github_form_encoded_error_body(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(token_url("github")).respond(
        content=b"error=incorrect_client_credentials&error_description=bad+client",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("github").get_access_token(CODE)
    assert info.value.error == "incorrect_client_credentials"
    assert info.value.error_description == "bad client"


async def test_spotify_exchange_basic_auth(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(token_url("spotify")).respond(
        json={
            "access_token": ACCESS,
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": REFRESH,
            "scope": "user-library-read user-top-read",
        }
    )
    before = datetime.now(UTC)
    token = await make_oauth("spotify").get_access_token(CODE)
    request = route.calls.last.request
    assert request.headers["authorization"] == basic()
    assert form(request) == {
        "grant_type": "authorization_code",
        "code": CODE,
        "redirect_uri": REDIRECT,
    }
    assert token.refresh_token is not None
    assert token.refresh_token.get_secret_value() == REFRESH
    assert token.token_type == "bearer"
    assert token.expires_at is not None
    assert before + timedelta(seconds=3590) < token.expires_at
    assert token.expires_at < datetime.now(UTC) + timedelta(seconds=3610)


async def test_public_client_sends_client_id_and_verifier(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(token_url("spotify")).respond(
        json={"access_token": ACCESS, "token_type": "bearer", "expires_in": 3600}
    )
    await make_oauth("spotify", secret=None).get_access_token(CODE, VERIFIER)
    request = route.calls.last.request
    assert "authorization" not in request.headers
    assert form(request) == {
        "grant_type": "authorization_code",
        "code": CODE,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
        "client_id": CLIENT_ID,
    }


async def test_x_exchange_basic_with_verifier(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(token_url("x")).respond(
        json={
            "access_token": ACCESS,
            "token_type": "bearer",
            "expires_in": 7200,
            "refresh_token": REFRESH,
            "scope": "tweet.read users.read like.read bookmark.read follows.read offline.access",
        }
    )
    await make_oauth("x").get_access_token(CODE, VERIFIER)
    request = route.calls.last.request
    assert request.headers["authorization"] == basic()
    assert form(request)["code_verifier"] == VERIFIER
    assert "client_secret" not in form(request)


async def test_x_exchange_without_verifier_makes_no_request(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(token_url("x"))
    with pytest.raises(ConfigurationError, match="requires PKCE"):
        await make_oauth("x").get_access_token(CODE)
    assert not route.called


async def test_linear_exchange_post(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(token_url("linear")).respond(
        json={"access_token": ACCESS, "token_type": "Bearer", "expires_in": 86399, "scope": "read"}
    )
    await make_oauth("linear").get_access_token(CODE)
    body = form(route.calls.last.request)
    assert body["client_id"] == CLIENT_ID
    assert body["client_secret"] == SECRET
    assert "authorization" not in route.calls.last.request.headers


async def test_notion_exchange_basic_and_json_body_with_workspace_metadata(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(token_url("notion")).respond(
        json={
            "access_token": ACCESS,
            "token_type": "bearer",
            "refresh_token": REFRESH,
            "bot_id": "bot-1",
            "workspace_id": "ws-1",
            "workspace_name": "Acme",
            "workspace_icon": None,
            "owner": {"type": "user", "user": {"id": "u-1"}},
            "duplicated_template_id": None,
        }
    )
    token = await make_oauth("notion").get_access_token(CODE, VERIFIER)
    request = route.calls.last.request
    assert request.headers["authorization"] == basic()
    assert request.headers["content-type"] == "application/json"
    assert int(request.headers["content-length"]) == len(request.content)
    # Credentials only in the header; no verifier (Notion does not document PKCE).
    assert json.loads(request.content) == {
        "grant_type": "authorization_code",
        "code": CODE,
        "redirect_uri": REDIRECT,
    }
    assert token.metadata == {"workspace_id": "ws-1", "workspace_name": "Acme", "bot_id": "bot-1"}
    assert token.expires_at is None


async def test_slack_exchange_takes_authed_user_and_team_metadata(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(token_url("slack")).respond(
        json={
            "ok": True,
            "app_id": "A1",
            "access_token": "xoxb-BOT-token",
            "token_type": "bot",
            "scope": "commands",
            "team": {"id": "T123", "name": "Acme"},
            "enterprise": None,
            "authed_user": {
                "id": "U456",
                "scope": "channels:read,channels:history",
                "access_token": ACCESS,
                "token_type": "user",
                "refresh_token": REFRESH,
                "expires_in": 43200,
            },
        }
    )
    token = await make_oauth("slack").get_access_token(CODE)
    assert route.calls.last.request.headers["authorization"] == basic()
    assert token.access_token.get_secret_value() == ACCESS
    assert token.refresh_token is not None
    assert token.refresh_token.get_secret_value() == REFRESH
    assert token.scope == "channels:read,channels:history"
    assert token.token_type == "bearer"
    assert token.expires_at is not None
    assert token.metadata == {"team_id": "T123", "team_name": "Acme", "user_id": "U456"}


async def test_slack_exchange_without_user_token_is_refused(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    # Only a bot token: never hand it out as the user's token.
    respx_mock.post(token_url("slack")).respond(
        json={"ok": True, "access_token": "xoxb-BOT", "authed_user": {"id": "U1"}}
    )
    with pytest.raises(ConnectorOAuthJsonParseError, match="authed_user"):
        await make_oauth("slack").get_access_token(CODE)


async def test_slack_ok_false_on_exchange(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(token_url("slack")).respond(json={"ok": False, "error": "invalid_code"})
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("slack").get_access_token(CODE)
    assert type(info.value) is ConnectorOAuthRequestError
    assert info.value.status_code == 200
    assert info.value.error == "invalid_code"


async def test_google_exchange_post(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(token_url("google")).respond(
        json={
            "access_token": ACCESS,
            "expires_in": 3599,
            "refresh_token": REFRESH,
            "scope": "openid email",
            "token_type": "Bearer",
            "id_token": "eyJ.x.y",
        }
    )
    token = await make_oauth("google").get_access_token(CODE, VERIFIER)
    body = form(route.calls.last.request)
    assert body["client_secret"] == SECRET
    assert body["code_verifier"] == VERIFIER
    assert token.refresh_token is not None


async def test_expires_in_as_string_and_absent(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(token_url("google"))
    route.respond(json={"access_token": ACCESS, "expires_in": "3600"})
    token = await make_oauth("google").get_access_token(CODE)
    assert token.expires_at is not None
    route.respond(json={"access_token": ACCESS, "expires_in": None})
    assert (await make_oauth("google").get_access_token(CODE)).expires_at is None


# ----------------------------------------------------------------------------------------------
# Error mapping


async def test_non_2xx_json_error(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    respx_mock.post(token_url("google")).respond(
        400,
        json={"error": "invalid_request", "error_description": "Missing code verifier."},
    )
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("google").get_access_token(CODE)
    error = info.value
    assert error.status_code == 400
    assert error.error == "invalid_request"
    assert error.error_description == "Missing code verifier."
    assert "HTTP 400 invalid_request: Missing code verifier." in str(error)
    assert error.code == "OAUTH_REQUEST"


async def test_non_2xx_html(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    respx_mock.post(token_url("spotify")).respond(502, html="<html><body>Bad gateway</body></html>")
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("spotify").get_access_token(CODE)
    assert info.value.status_code == 502
    assert info.value.error is None
    assert "Bad gateway" in info.value.response_body


async def test_2xx_not_json(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    respx_mock.post(token_url("spotify")).respond(200, html="<html>maintenance</html>")
    with pytest.raises(ConnectorOAuthJsonParseError) as info:
        await make_oauth("spotify").get_access_token(CODE)
    assert info.value.status_code == 200
    assert "not a JSON object" in str(info.value)


async def test_2xx_json_array(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    respx_mock.post(token_url("spotify")).respond(200, json=[1, 2])
    with pytest.raises(ConnectorOAuthJsonParseError):
        await make_oauth("spotify").get_access_token(CODE)


async def test_2xx_without_access_token(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(token_url("spotify")).respond(json={"token_type": "bearer"})
    with pytest.raises(ConnectorOAuthJsonParseError, match="without an access_token"):
        await make_oauth("spotify").get_access_token(CODE)


async def test_2xx_with_bad_expires_in(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    respx_mock.post(token_url("spotify")).respond(
        json={"access_token": ACCESS, "expires_in": "soon"}
    )
    with pytest.raises(ConnectorOAuthJsonParseError, match="expires_in"):
        await make_oauth("spotify").get_access_token(CODE)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout("timed out"),
    ],
)
async def test_timeout_is_a_network_error(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter, exc: Exception
) -> None:
    respx_mock.post(token_url("spotify")).mock(side_effect=exc)
    with pytest.raises(ConnectorOAuthNetworkError, match=r"timed out after 7\.5s") as info:
        await make_oauth("spotify").get_access_token(CODE)
    assert info.value.__cause__ is None
    assert info.value.metadata == {"provider": "spotify", "operation": "token exchange"}


async def test_connect_error_is_a_network_error(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(token_url("spotify")).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ConnectorOAuthNetworkError, match="ConnectError") as info:
        await make_oauth("spotify").refresh_access_token(REFRESH)
    assert_no_secrets(str(info.value), repr(info.value))


async def test_real_connection_refused_is_a_network_error(make_oauth: MakeOAuth) -> None:
    # Port 9 (discard) on localhost: nothing listens; no respx here.
    oauth = make_oauth("spotify", token_url="http://127.0.0.1:9/token")
    with pytest.raises(ConnectorOAuthNetworkError):
        await oauth.get_access_token(CODE)


@pytest.mark.parametrize("status", [400, 401])
async def test_invalid_grant_on_refresh_means_expired(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter, status: int
) -> None:
    respx_mock.post(token_url("spotify")).respond(
        status, json={"error": "invalid_grant", "error_description": "Refresh token revoked"}
    )
    with pytest.raises(ConnectorOAuthRefreshTokenExpiredError) as info:
        await make_oauth("spotify").refresh_access_token(REFRESH)
    assert info.value.status_code == status
    assert info.value.error == "invalid_grant"
    assert isinstance(info.value, ConnectorOAuthRequestError)
    assert_no_secrets(str(info.value), repr(info.value), info.value.response_body)


async def test_invalid_client_on_refresh_is_not_expiry(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(token_url("spotify")).respond(401, json={"error": "invalid_client"})
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("spotify").refresh_access_token(REFRESH)
    assert type(info.value) is ConnectorOAuthRequestError


async def test_server_error_on_refresh_is_not_expiry(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(token_url("spotify")).respond(500, json={"error": "invalid_grant"})
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("spotify").refresh_access_token(REFRESH)
    assert type(info.value) is ConnectorOAuthRequestError


async def test_invalid_grant_on_exchange_is_not_expiry(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(token_url("spotify")).respond(400, json={"error": "invalid_grant"})
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("spotify").get_access_token(CODE)
    assert type(info.value) is ConnectorOAuthRequestError


@pytest.mark.parametrize("error", ["invalid_refresh_token", "invalid_grant", "token_expired"])
async def test_slack_ok_false_on_refresh_means_expired(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter, error: str
) -> None:
    respx_mock.post(token_url("slack")).respond(json={"ok": False, "error": error})
    with pytest.raises(ConnectorOAuthRefreshTokenExpiredError) as info:
        await make_oauth("slack").refresh_access_token(REFRESH)
    assert info.value.status_code == 200
    assert info.value.error == error


async def test_slack_other_ok_false_on_refresh_is_a_request_error(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(token_url("slack")).respond(json={"ok": False, "error": "invalid_client_id"})
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("slack").refresh_access_token(REFRESH)
    assert type(info.value) is ConnectorOAuthRequestError


async def test_error_bodies_are_redacted(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    # A (misbehaving) server echoing the credentials back in its error.
    respx_mock.post(token_url("linear")).respond(
        400,
        json={
            "error": "invalid_request",
            "client_secret": SECRET,
            "code": CODE,
            "refresh_token": REFRESH,
        },
    )
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("linear").get_access_token(CODE)
    assert_no_secrets(str(info.value), repr(info.value), info.value.response_body)


# ----------------------------------------------------------------------------------------------
# Refresh


async def test_refresh_request_shape_and_rotation(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(token_url("x")).respond(
        json={"access_token": "new-access", "refresh_token": "new-refresh", "expires_in": 7200}
    )
    token = await make_oauth("x").refresh_access_token(REFRESH)
    request = route.calls.last.request
    assert request.headers["authorization"] == basic()
    assert form(request) == {"grant_type": "refresh_token", "refresh_token": REFRESH}
    assert_timeout(request)
    assert token.access_token.get_secret_value() == "new-access"
    assert token.refresh_token is not None
    assert token.refresh_token.get_secret_value() == "new-refresh"


async def test_refresh_without_new_refresh_token_keeps_presented_one(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(token_url("google")).respond(
        json={"access_token": "new-access", "expires_in": 3599, "token_type": "Bearer"}
    )
    token = await make_oauth("google").refresh_access_token(REFRESH)
    assert token.refresh_token is not None
    assert token.refresh_token.get_secret_value() == REFRESH


async def test_notion_refresh_is_json_with_basic(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(token_url("notion")).respond(
        json={"access_token": "new", "refresh_token": "new-r", "workspace_id": "ws-1"}
    )
    token = await make_oauth("notion").refresh_access_token(REFRESH)
    request = route.calls.last.request
    assert request.headers["authorization"] == basic()
    assert json.loads(request.content) == {"grant_type": "refresh_token", "refresh_token": REFRESH}
    assert token.metadata == {"workspace_id": "ws-1"}


async def test_slack_refresh_top_level_or_authed_user(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(token_url("slack"))
    route.respond(
        json={
            "ok": True,
            "access_token": "xoxe.xoxp-new",
            "refresh_token": "xoxe-1-new",
            "expires_in": 43200,
            "token_type": "user",
            "team": {"id": "T123"},
        }
    )
    oauth = make_oauth("slack")
    token = await oauth.refresh_access_token(REFRESH)
    assert token.access_token.get_secret_value() == "xoxe.xoxp-new"
    assert token.metadata["team_id"] == "T123"
    assert form(route.calls.last.request) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
    }
    route.respond(
        json={
            "ok": True,
            "team": {"id": "T123"},
            "authed_user": {"id": "U1", "access_token": "nested", "expires_in": 43200},
        }
    )
    token = await oauth.refresh_access_token(REFRESH)
    assert token.access_token.get_secret_value() == "nested"
    assert token.refresh_token is not None
    assert token.refresh_token.get_secret_value() == REFRESH


async def test_empty_inputs_are_refused_without_request(make_oauth: MakeOAuth) -> None:
    oauth = make_oauth("spotify")
    with pytest.raises(ConfigurationError):
        await oauth.get_access_token("")
    with pytest.raises(ConfigurationError):
        await oauth.refresh_access_token("")


# ----------------------------------------------------------------------------------------------
# Revocation


async def test_rfc7009_revoke_basic(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(revoke_url("x")).respond(200)
    await make_oauth("x").revoke(ACCESS)
    request = route.calls.last.request
    assert request.headers["authorization"] == basic()
    assert form(request) == {"token": ACCESS, "token_type_hint": "access_token"}
    assert_timeout(request)


async def test_rfc7009_revoke_post_refresh_hint(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(revoke_url("linear")).respond(200)
    await make_oauth("linear").revoke(REFRESH, token_type_hint="refresh_token")
    assert form(route.calls.last.request) == {
        "token": REFRESH,
        "token_type_hint": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
    }


async def test_notion_revoke_json_basic(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(revoke_url("notion")).respond(200, json={})
    await make_oauth("notion").revoke(ACCESS)
    request = route.calls.last.request
    assert request.headers["authorization"] == basic()
    assert request.headers["notion-version"] == "2026-03-11"  # required there too
    assert json.loads(request.content) == {"token": ACCESS}  # the documented body only


async def test_github_revoke_delete_basic_json(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    url = f"https://api.github.com/applications/{CLIENT_ID}/token"
    route = respx_mock.delete(url).respond(204)
    await make_oauth("github").revoke(ACCESS)
    request = route.calls.last.request
    assert request.headers["authorization"] == basic()
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert json.loads(request.content) == {"access_token": ACCESS}
    assert_timeout(request)


async def test_github_revoke_needs_the_secret(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    with pytest.raises(ConfigurationError, match="client secret"):
        await make_oauth("github", secret=None).revoke(ACCESS)


async def test_github_revoke_refused(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    respx_mock.delete(f"https://api.github.com/applications/{CLIENT_ID}/token").respond(
        404, json={"message": "Not Found"}
    )
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("github").revoke(ACCESS)
    assert info.value.status_code == 404
    assert "token revocation" in str(info.value)


async def test_slack_revoke_bearer(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(revoke_url("slack")).respond(json={"ok": True, "revoked": True})
    await make_oauth("slack").revoke(ACCESS)
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {ACCESS}"
    assert_timeout(request)


async def test_slack_revoke_ok_false(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    respx_mock.post(revoke_url("slack")).respond(json={"ok": False, "error": "invalid_auth"})
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("slack").revoke(ACCESS)
    assert info.value.error == "invalid_auth"


async def test_google_revoke_token_in_body_not_url(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(revoke_url("google")).respond(200, json={})
    await make_oauth("google").revoke(ACCESS)
    request = route.calls.last.request
    assert ACCESS not in str(request.url)  # httpx logs URLs at INFO
    assert parse_qs(request.content.decode())["token"] == [ACCESS]
    assert "authorization" not in request.headers


async def test_google_revoke_error_message_has_no_token(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(revoke_url("google")).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ConnectorOAuthNetworkError) as info:
        await make_oauth("google").revoke(ACCESS)
    assert_no_secrets(str(info.value), repr(info.value))


async def test_rfc7009_revoke_refused(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    respx_mock.post(revoke_url("x")).respond(400, json={"error": "unsupported_token_type"})
    with pytest.raises(ConnectorOAuthRequestError) as info:
        await make_oauth("x").revoke(ACCESS)
    assert info.value.error == "unsupported_token_type"


async def test_no_revoke_url_is_a_no_op(
    make_oauth: MakeOAuth, respx_mock: respx.MockRouter
) -> None:
    oauth = make_oauth("spotify")
    assert not oauth.supports_revocation
    await oauth.revoke(ACCESS)  # respx_mock would fail on any request
    assert not respx_mock.calls


async def test_revoke_url_override(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("http://127.0.0.1:8765/revoke").respond(200)
    oauth = make_oauth("spotify", revoke_url="http://127.0.0.1:8765/revoke")
    assert oauth.supports_revocation
    await oauth.revoke(ACCESS)
    assert route.called


# ----------------------------------------------------------------------------------------------
# Config overrides, client lifecycle, secrets


async def test_token_url_override(make_oauth: MakeOAuth, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("http://127.0.0.1:8765/oauth/token").respond(
        json={"access_token": ACCESS}
    )
    oauth = make_oauth("spotify", token_url="http://127.0.0.1:8765/oauth/token")
    await oauth.get_access_token(CODE)
    assert route.called


async def test_injected_http_client_is_used_and_not_closed(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(token_url("spotify")).respond(json={"access_token": ACCESS})
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request)

    http = httpx.AsyncClient(event_hooks={"request": [record]})
    config = OAuthClientConfig(CLIENT_ID, SecretStr(SECRET), REDIRECT)
    async with ConnectorOAuth(get_provider("spotify"), config, http_client=http) as oauth:
        await oauth.get_access_token(CODE)
    assert route.called
    assert len(seen) == 1
    assert not http.is_closed
    await http.aclose()


async def test_owned_http_client_is_closed() -> None:
    config = OAuthClientConfig(CLIENT_ID, SecretStr(SECRET), REDIRECT)
    async with ConnectorOAuth(get_provider("spotify"), config) as oauth:
        http = oauth._http  # built on first use
    assert http.is_closed


def test_config_repr_and_str_hide_the_secret() -> None:
    config = OAuthClientConfig(CLIENT_ID, SecretStr(SECRET), REDIRECT)
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert config.client_secret is not None
    assert config.client_secret.get_secret_value() == SECRET


def test_config_wraps_plain_string_secret() -> None:
    config = OAuthClientConfig(CLIENT_ID, SECRET, REDIRECT)  # type: ignore[arg-type]
    assert isinstance(config.client_secret, SecretStr)
    assert SECRET not in repr(config)


def test_config_validation() -> None:
    with pytest.raises(ConfigurationError, match="client_id"):
        OAuthClientConfig("", None, REDIRECT)
    with pytest.raises(ConfigurationError, match="redirect_uri"):
        OAuthClientConfig(CLIENT_ID, None, "/callback")
    with pytest.raises(ConfigurationError, match="token_url"):
        OAuthClientConfig(CLIENT_ID, None, REDIRECT, token_url="ftp://x/token")
    with pytest.raises(ConfigurationError, match="tuple"):
        OAuthClientConfig(CLIENT_ID, None, REDIRECT, scopes="read write")  # type: ignore[arg-type]
    assert OAuthClientConfig(CLIENT_ID, SecretStr(""), REDIRECT).is_public


def test_config_resolve_defaults() -> None:
    config = OAuthClientConfig(CLIENT_ID, None, REDIRECT, scopes=())
    resolved = config.resolve(get_provider("google"))
    assert resolved.scopes == ()
    assert resolved.token_url == "https://oauth2.googleapis.com/token"
    assert resolved.revoke_url == "https://oauth2.googleapis.com/revoke"


def test_oauth_and_token_reprs_hide_secrets(make_oauth: MakeOAuth) -> None:
    oauth = make_oauth("github")
    assert SECRET not in repr(oauth)
    token = TokenResponse.from_payload({"access_token": ACCESS, "refresh_token": REFRESH})
    assert_no_secrets(repr(token), str(token), token.model_dump_json())


# ----------------------------------------------------------------------------------------------
# Authenticator


async def test_authenticator_delegates(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(token_url("x")).respond(
        json={"access_token": ACCESS, "refresh_token": REFRESH, "expires_in": 7200}
    )
    revoke = respx_mock.post(revoke_url("x")).respond(200)
    config = OAuthClientConfig(CLIENT_ID, SecretStr(SECRET), REDIRECT)
    async with ConnectorAuthenticator.from_config(get_provider("x"), config) as auth:
        assert auth.spec.slug == "x"
        pkce = generate_pkce_pair()
        assert "code_challenge=" in auth.authorization_url("st", code_challenge=pkce.challenge)
        token = await auth.authenticate(CODE, pkce.verifier)
        assert token.access_token.get_secret_value() == ACCESS
        refreshed = await auth.refresh_token(REFRESH)
        assert refreshed.refresh_token is not None
        await auth.revoke(ACCESS)
        assert revoke.called
