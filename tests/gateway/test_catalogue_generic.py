"""Issue 19: real catalogue entries without a vendor package connect end to end through the
generic flow — connect, refresh, proxy, revoke — against the real OAuth test server, each
entry's quirks applied.

The entries are the shipped ones (``okta``, ``auth0``, ``linear``, ``x``, ``slack``, ``google``)
with only their URLs moved to a loopback adapter in front of ``oidc-provider``. The adapter
plays each vendor's side of the quirk (comma-separated scopes, Slack's ``user_scope`` and
``authed_user`` nesting, Google's refresh answers without a refresh token, ``expires_in`` in
minutes) and records what the client sent, so that each quirk is seen applied by the client.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from ait_connectors.errors import AuthorizationRequiredError
from ait_connectors.oauth.pkce import generate_pkce_pair
from ait_connectors.providers import get_provider, register_provider, unregister_provider
from ait_connectors.providers.entry import CatalogueEntry
from ait_connectors.registry import get_vendor
from ait_connectors.runtime import Connectors
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.testing.http_server import BackgroundServer, QuietHandler
from support.oidc import OidcServer

from .conftest import ThreadGateway

USER = "user-1"  # the test server's account
SCOPES = ["openid", "offline_access", "read"]


@dataclass
class Seen:
    """What the adapter received for one entry."""

    authorize: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    token: list[tuple[dict[str, str], str | None]] = field(default_factory=list)
    revoke: list[tuple[dict[str, str], str | None]] = field(default_factory=list)


class Adapter(BackgroundServer):
    """``/{slug}/…/authorize|token|revoke`` in front of the test server, with the vendor's
    side of each quirk (see the module docstring)."""

    def __init__(self, server: OidcServer, client_auth: str) -> None:
        self.server = server
        self.client_auth = client_auth  # Basic credentials for Slack's bearer revocation
        self.seen: dict[str, Seen] = {}
        self.latest_refresh: dict[str, str] = {}  # google: the server's rotated refresh token
        self.lock = threading.Lock()
        self.http = httpx.Client(timeout=10)
        adapter = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                adapter.on_authorize(self)

            def do_POST(self) -> None:
                adapter.on_post(self)

        super().__init__(Handler)

    def stop(self) -> None:
        super().stop()
        self.http.close()

    def _seen(self, slug: str) -> Seen:
        with self.lock:
            return self.seen.setdefault(slug, Seen())

    def on_authorize(self, handler: QuietHandler) -> None:
        parts = urlsplit(handler.path)
        slug = parts.path.split("/")[1]
        query = dict(parse_qsl(parts.query))
        seen = self._seen(slug)
        seen.authorize.append(dict(query))
        seen.paths.append(parts.path)
        if "user_scope" in query:  # Slack's user-token scopes
            query["scope"] = query.pop("user_scope")
        query["scope"] = query.get("scope", "").replace(",", " ")
        target = f"{self.server.authorization_endpoint}?{urlencode(query)}"
        _answer(handler, 303, b"", {"Location": target})

    def on_post(self, handler: QuietHandler) -> None:
        slug = handler.path.split("/")[1]
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode()
        form = dict(parse_qsl(body))
        authorization = handler.headers.get("Authorization")
        seen = self._seen(slug)
        if handler.path.endswith("/revoke"):
            seen.revoke.append((form, authorization))
            self._revoke(handler, slug, form, authorization)
            return
        seen.token.append((form, authorization))
        refresh = form.get("grant_type") == "refresh_token"
        if refresh and slug == "google" and slug in self.latest_refresh:
            form["refresh_token"] = self.latest_refresh[slug]  # Google's never rotates
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if authorization:
            headers["Authorization"] = authorization
        upstream = self.http.post(
            self.server.token_endpoint, content=urlencode(form), headers=headers
        )
        payload = upstream.json()
        status = upstream.status_code
        if slug == "google" and status == 200:
            self.latest_refresh[slug] = payload["refresh_token"]
            if refresh:
                del payload["refresh_token"]  # a refresh answers without one
            payload["expires_in"] = payload["expires_in"] / 60  # and, here, in minutes
        if slug == "slack":
            payload, status = _slack_body(payload, status, nested=not refresh)
        _answer(handler, status, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def _revoke(
        self, handler: QuietHandler, slug: str, form: dict[str, str], authorization: str | None
    ) -> None:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if slug == "slack" and authorization and authorization.startswith("Bearer "):
            # auth.revoke takes the token as its credential; the server wants RFC 7009.
            form = {"token": authorization.removeprefix("Bearer ")}
            headers["Authorization"] = self.client_auth
        elif slug == "google":
            # Google's revocation takes no client authentication; the server wants it.
            post = self.server.confidential_post_client
            form = {**form, "client_id": post.client_id, "client_secret": str(post.client_secret)}
        elif authorization:
            headers["Authorization"] = authorization
        upstream = self.http.post(
            self.server.revocation_endpoint, content=urlencode(form), headers=headers
        )
        body = json.dumps({"ok": True}).encode() if slug == "slack" else upstream.content
        _answer(handler, upstream.status_code, body, {"Content-Type": "application/json"})


def _slack_body(payload: dict[str, Any], status: int, *, nested: bool) -> tuple[Any, int]:
    """Slack's shape: HTTP 200 always, ``ok``, the user's token set under ``authed_user``."""
    if status != 200:
        return {"ok": False, "error": payload.get("error", "invalid_grant")}, 200
    if nested:
        return {
            "ok": True,
            "access_token": "xoxb-bot",
            "token_type": "bot",
            "authed_user": payload,
        }, 200
    return {"ok": True, **payload}, 200


def _answer(handler: QuietHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def adapter(oidc_server: OidcServer) -> Iterator[Adapter]:
    client = oidc_server.confidential_client
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
    server = Adapter(oidc_server, f"Basic {basic}").start()
    try:
        yield server
    finally:
        server.stop()


def local_copy(slug: str, adapter: Adapter, issuer: str) -> str:
    """The shipped entry ``slug``, its URLs on the adapter (a per-customer host stays a
    connection parameter, as a path segment), registered as ``{slug}-local``."""
    entry = get_provider(slug)
    assert isinstance(entry, CatalogueEntry)  # a shipped, strictly checked entry
    base = f"{adapter.url}/{slug}"
    host = "".join(f"/{{{name}}}" for name in entry.connection_params)
    fields = entry.model_dump(mode="json", exclude_none=True)
    fields |= {
        "slug": f"{slug}-local",
        "authorize_url": f"{base}{host}/authorize",
        "token_url": f"{base}{host}/token",
        "revoke_url": f"{base}{host}/revoke",
        "api_base_url": issuer,
        "allow_http": True,
    }
    if slug == "google":
        fields["token_lifetime_unit"] = "minutes"  # the adapter answers in minutes for it
    register_provider(CatalogueEntry.model_validate(fields))
    return f"{slug}-local"


SAMPLE = {
    # slug: (connection parameters, the OAuth client registered at the test server)
    "okta": ({"okta_domain": "acme.okta.com"}, "confidential"),
    "auth0": ({"auth0_domain": "acme.eu.auth0.com"}, "confidential_post"),
    "linear": ({}, "confidential_post"),
    "x": ({}, "confidential"),
    "slack": ({}, "confidential"),
    "google": ({}, "confidential_post"),
}


async def test_sample_entries_connect_refresh_proxy_and_revoke(
    gateway: ThreadGateway, oidc_server: OidcServer, adapter: Adapter
) -> None:
    registered = [local_copy(slug, adapter, oidc_server.issuer) for slug in SAMPLE]
    connectors = await Connectors.open(gateway.settings)
    try:
        api_key = (await ApiKeyStore(connectors.database).create("generic")).key
        for slug, (params, client_name) in SAMPLE.items():
            await _round_trip(
                connectors, gateway, oidc_server, adapter, slug, params, client_name, api_key
            )
    finally:
        await connectors.close()
        for slug in registered:
            unregister_provider(slug)


async def _round_trip(
    connectors: Connectors,
    gateway: ThreadGateway,
    server: OidcServer,
    adapter: Adapter,
    slug: str,
    params: dict[str, str],
    client_name: str,
    api_key: str,
) -> None:
    local = f"{slug}-local"
    spec = get_provider(local)
    assert get_vendor(local).generic  # no vendor package: the generic registration
    client = getattr(server, f"{client_name}_client")
    config = await connectors.configs.create(
        local,
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=client.redirect_uri,
        scopes=SCOPES,
    )
    # Connect: the authorization URL as the entry describes it, the code exchanged.
    connector = connectors.factory.build_connector(config, USER, params=params)
    pkce = generate_pkce_pair() if spec.pkce != "unsupported" else None
    url = connector.authenticator.oauth.authorization_url(
        f"state-{slug}", code_challenge=pkce.challenge if pkce else None
    )
    code, _ = await server.aobtain_code(url)
    sent_at = datetime.now(UTC)
    connected = await connector.connect(code, code_verifier=pkce.verifier if pkce else None)
    seen = adapter.seen[slug]
    asked = seen.authorize[-1]
    scope_field = spec.scope_param
    assert asked[scope_field] == spec.scope_separator.join(SCOPES), slug
    assert ("code_challenge" in asked) == (spec.pkce != "unsupported"), slug
    for value in params.values():  # the per-customer host went into the URL
        assert f"/{value}/" in seen.paths[-1]
    exchange, authorization = seen.token[-1]
    basic = spec.client_auth_method == "client_secret_basic"
    assert (authorization or "").startswith("Basic ") is basic, slug
    assert ("client_secret" in exchange) is (not basic), slug
    assert connected.refresh_token is not None and connected.expires_at is not None
    # expires_in is the server's 3 s, whatever unit the entry declares it in.
    assert sent_at + timedelta(seconds=1) < connected.expires_at < sent_at + timedelta(seconds=10)
    first_access = connected.access_token.get_secret_value()
    first_refresh = connected.refresh_token.get_secret_value()

    # Refresh through the entry's token endpoint.
    refreshed = await connector.refresh()
    assert refreshed.status == "active"
    assert seen.token[-1][0]["grant_type"] == "refresh_token"
    access = refreshed.access_token.get_secret_value()
    assert access != first_access and server.check_access_token(access)
    assert refreshed.refresh_token is not None
    kept = refreshed.refresh_token.get_secret_value() == first_refresh
    assert kept is (spec.refresh.rotation == "never"), slug  # google omits it: kept

    # The proxy: the gateway calls the API with the connection's token.
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(
            f"{gateway.base_url}/api/proxy/{local}/api/me",
            params={"user_id": USER},
            headers={"X-API-Key": api_key},
        )
    assert response.status_code == 200, (slug, response.text)
    assert response.json()["sub"] == USER

    # Revoke: the tokens the entry's revoke table names, the way it says.
    before = len(seen.revoke)
    assert await connector.disconnect(revoke=True)
    revoked = seen.revoke[before:]
    assert len(revoked) == len(spec.revoke.tokens), slug
    unauthenticated = spec.revoke.client_auth == "none" or spec.revoke.token_in == "bearer"
    for form, authorization in revoked:
        assert ("client_secret" in form or (authorization or "").startswith("Basic ")) is (
            not unauthenticated
        ), slug
    if "access_token" in spec.revoke.tokens:
        assert not server.check_access_token(access), slug
    assert await connectors.tokens.get_oauth_data(config.id, USER) is None


async def test_an_entry_without_refresh_tokens_never_refreshes(
    gateway: ThreadGateway, oidc_server: OidcServer
) -> None:
    """``refresh.offered = false``: the refresh token the server sends anyway is not kept, and
    an expired token asks the user to reconnect without any token request."""
    client = oidc_server.confidential_client
    fields = get_provider("okta").model_dump(mode="json", exclude_none=True)
    fields |= {
        "slug": "no-refresh-local",
        "authorize_url": oidc_server.authorization_endpoint,
        "token_url": oidc_server.token_endpoint,
        "revoke_url": oidc_server.revocation_endpoint,
        "api_base_url": oidc_server.issuer,
        "connection_params": {},
        "refresh": {"offered": False},
        "allow_http": True,
    }
    register_provider(CatalogueEntry.model_validate(fields))
    connectors = await Connectors.open(gateway.settings)
    try:
        config = await connectors.configs.create(
            "no-refresh-local",
            client_id=client.client_id,
            client_secret=client.client_secret,
            redirect_uri=client.redirect_uri,
            scopes=SCOPES,
        )
        connector = connectors.factory.build_connector(config, USER, params={})
        pkce = generate_pkce_pair()
        url = connector.authenticator.oauth.authorization_url("s", code_challenge=pkce.challenge)
        code, _ = await oidc_server.aobtain_code(url)
        connected = await connector.connect(code, code_verifier=pkce.verifier)
        assert connected.refresh_token is None
        before = oidc_server.token_requests("refresh_token")
        with pytest.raises(AuthorizationRequiredError, match="no refresh token"):
            await connector.refresh()
        assert oidc_server.token_requests("refresh_token") == before
        stored = await connectors.tokens.get_oauth_data(config.id, USER)
        assert stored is not None and stored.status == "needs_reauth"
    finally:
        await connectors.close()
        unregister_provider("no-refresh-local")
