"""Connection parameters and the per-connection API base, with a provider of a test catalogue
(``paramco``) whose token host is a parameter and whose token response names the API host.

Real HTTP on loopback: the token endpoint (a :class:`MockServer`), an API server the stored
base points at, and a recorder that must never see the bearer token.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from ait_connectors.connector import PENDING_BASE
from ait_connectors.crypto import Cipher
from ait_connectors.errors import AItError, ConfigurationError, ConnectorOAuthRequestError
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.providers import register_provider, unregister_provider
from ait_connectors.providers.catalogue import parse_catalogue
from ait_connectors.providers.params import check_api_base, validate_params
from ait_connectors.storage.configs import ConnectorConfig, ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.testing.mock import Logged, MockServer, Reply
from ait_connectors.testing.proxy import Recorder

CATALOGUE = """
schema_version = 1

[providers.paramco]
name = "ParamCo"
authorize_url = "https://{region}.auth.paramco.test/authorize"
token_url = "http://{token_host}/token"
revoke_url = "http://{token_host}/revoke"

[providers.paramco.connection_params.region]
label = "Region"
default = "eu"
[providers.paramco.connection_params.region.choices]
eu = "Europe"
us = "United States"

[providers.paramco.connection_params.token_host]
label = "Token host"
pattern = "127\\\\.0\\\\.0\\\\.1:[0-9]{2,5}"

[providers.paramco.api_base_from_token]
field = "instance_url"
allowed_hosts = ["*.api.paramco.test"]
path = "/v1"
"""
USER = "user-1"


class TokenEndpoint(MockServer):
    """``POST /token`` (both grants) naming ``instance_url`` (``None``: left out), and an API
    under ``/v1`` that answers who called it."""

    def __init__(self) -> None:
        super().__init__()
        self.instance_url: str | None = "https://na1.api.paramco.test"

    def public(self, path: str) -> bool:
        return path in ("/token", "/revoke")

    def unauthorized(self) -> Reply:
        return Reply(401, {"error": "invalid_token"})

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        if request.path == "/token":
            body: dict[str, Any] = {"access_token": self.new_token("at-"), "token_type": "Bearer"}
            if form.get("grant_type") == "authorization_code":
                body["refresh_token"] = "rt-1"
            if self.instance_url is not None:
                body["instance_url"] = self.instance_url
            return Reply(200, body)
        return Reply(200, {"path": request.path})


@pytest.fixture(scope="module")
def endpoint() -> Iterator[TokenEndpoint]:
    (spec,) = parse_catalogue(tomllib.loads(CATALOGUE), source="test catalogue").values()
    register_provider(spec)
    server = TokenEndpoint().start()
    try:
        yield server
    finally:
        server.stop()
        unregister_provider("paramco")


@pytest.fixture
async def config(database: Database, cipher: Cipher, endpoint: TokenEndpoint) -> ConnectorConfig:
    endpoint.instance_url = "https://na1.api.paramco.test"
    endpoint.log.clear()
    return await ConnectorConfigStore(database, cipher).create(
        "paramco",
        client_id="pc-id",
        client_secret="pc-secret",
        redirect_uri="http://127.0.0.1:8765/api/paramco/auth/callback",
        name="paramco",
    )


def _host(endpoint: TokenEndpoint) -> str:
    return urlsplit(endpoint.url).netloc


# -- the catalogue's schema -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('pattern = "x"', None),  # baseline: valid
        ("", "needs choices or a pattern"),
        ('pattern = "[a-z"', "not a valid regular expression"),
        ('pattern = "[a-z]+"\ndefault = "A B"', "not an allowed value"),
    ],
)
def test_the_schema_constrains_every_parameter(change: str, message: str | None) -> None:
    text = f"""
[providers.p]
name = "P"
authorize_url = "https://{{sub}}.p.test/a"
token_url = "https://{{sub}}.p.test/t"
[providers.p.connection_params.sub]
label = "Subdomain"
{change}
"""
    if message is None:
        parse_catalogue(tomllib.loads(text))
        return
    with pytest.raises(ConfigurationError, match=message):
        parse_catalogue(tomllib.loads(text))


@pytest.mark.parametrize("name", ["tenant", "user_id"])
def test_placeholders_must_be_declared_and_names_not_reserved(name: str) -> None:
    text = f"""
[providers.p]
name = "P"
authorize_url = "https://{{{name}}}.p.test/a"
token_url = "https://p.test/t"
"""
    if name == "user_id":
        text += '[providers.p.connection_params.user_id]\nlabel = "U"\npattern = "x"\n'
    with pytest.raises(ConfigurationError, match=r"does not declare|must be snake_case"):
        parse_catalogue(tomllib.loads(text))


def test_values_are_checked_so_no_host_can_be_injected(endpoint: TokenEndpoint) -> None:
    from ait_connectors.providers import get_provider

    declared = get_provider("paramco").connection_params
    ok = validate_params("paramco", declared, {"token_host": "127.0.0.1:8080"})
    assert ok == {"region": "eu", "token_host": "127.0.0.1:8080"}  # the default filled in
    for bad in ("evil.test", "127.0.0.1:80@evil.test", "127.0.0.1:80/x", "127.0.0.1:80#"):
        with pytest.raises(ConfigurationError, match="is not a valid Token host") as caught:
            validate_params("paramco", declared, {"token_host": bad})
        assert "allowed:" in caught.value.message
    with pytest.raises(ConfigurationError, match="unknown connection parameter tennant"):
        validate_params("paramco", declared, {"token_host": "127.0.0.1:80", "tennant": "x"})
    with pytest.raises(ConfigurationError, match=r"'token_host' .* is required"):
        validate_params("paramco", declared, {})


@pytest.mark.parametrize(
    "url",
    [
        "http://na1.api.paramco.test",  # not https
        "https://na1.api.paramco.test:8443",  # another port
        "https://user@na1.api.paramco.test",  # user info
        "https://na1.api.paramco.test.evil.test",  # suffix trick
        "https://api.paramco.test",  # the bare domain is not *.
        "https://na1.api.paramco.test/other",  # a path of its own
        None,
    ],
)
def test_an_api_base_off_the_allowed_hosts_is_refused(endpoint: TokenEndpoint, url: Any) -> None:
    from ait_connectors.providers import get_provider

    rule = get_provider("paramco").api_base_from_token
    assert rule is not None
    assert check_api_base("paramco", rule, "https://eu.api.paramco.test/") == (
        "https://eu.api.paramco.test/v1"
    )
    with pytest.raises(ConfigurationError, match="paramco token response: instance_url"):
        check_api_base("paramco", rule, url)


# -- substituted, stored with the connection, used by the connector -------------------------


async def test_params_are_substituted_stored_and_the_api_base_follows_refreshes(
    database: Database, cipher: Cipher, config: ConnectorConfig, endpoint: TokenEndpoint
) -> None:
    factory = ConnectorServiceFactory(database, cipher)
    connector = factory.build_connector(
        config, USER, params={"token_host": _host(endpoint), "region": "us"}
    )
    url = connector.authenticator.authorization_url("state-1")
    assert url.startswith("https://us.auth.paramco.test/authorize?")
    data = await connector.connect("code-1")
    assert [r.path for r in endpoint.requests("/token")] == ["/token"]  # the substituted host
    assert data.connection_params == {"region": "us", "token_host": _host(endpoint)}
    assert data.api_base_url == "https://na1.api.paramco.test/v1"
    assert connector.api_base_url == "https://na1.api.paramco.test/v1"

    # A connector built without the params reads them (and the base) from the connection.
    later = factory.build_connector(config, USER)
    assert later.api_base_url is None
    async with later.http_client() as client:
        assert str(client.base_url).startswith(PENDING_BASE)
    stored = await factory.get_connector(config.id, USER)
    assert stored.api_base_url == "https://na1.api.paramco.test/v1"
    async with stored.http_client() as client:
        assert str(client.base_url) == "https://na1.api.paramco.test/v1/"

    # A refresh naming a new host moves the connection there; one naming none keeps it.
    endpoint.instance_url = "https://eu5.api.paramco.test"
    refreshed = await later.refresh(rejected_token=data.access_token.get_secret_value())
    assert refreshed.api_base_url == later.api_base_url == "https://eu5.api.paramco.test/v1"
    assert endpoint.requests("/token")[-1].form["grant_type"] == "refresh_token"
    endpoint.instance_url = None
    kept = await later.refresh(rejected_token=refreshed.access_token.get_secret_value())
    assert kept.api_base_url == "https://eu5.api.paramco.test/v1"
    assert kept.connection_params == data.connection_params

    # A hostile token endpoint: refused, the stored base unchanged.
    endpoint.instance_url = "https://attacker.test"
    with pytest.raises(ConnectorOAuthRequestError, match="not an https URL on an allowed host"):
        await later.refresh(rejected_token=kept.access_token.get_secret_value())
    after = await factory.tokens.get_oauth_data(config.id, USER)
    assert after is not None and after.api_base_url == "https://eu5.api.paramco.test/v1"


async def test_the_client_goes_to_the_connection_host_and_nowhere_else(
    database: Database, cipher: Cipher, config: ConnectorConfig, endpoint: TokenEndpoint
) -> None:
    factory = ConnectorServiceFactory(database, cipher)
    token = endpoint.new_token("at-")
    # As stored by an earlier, checked exchange (a loopback stand-in for the org's host).
    await factory.tokens.save_oauth_data(
        config.id,
        USER,
        TokenResponse(access_token=SecretStr(token), api_base_url=f"{endpoint.url}/v1"),
        params={"token_host": _host(endpoint), "region": "eu"},
    )
    connector = factory.build_connector(config, USER)  # built before anything was read
    recorder = Recorder().start()
    try:
        async with connector.http_client() as client:
            answer = await client.get("/things")
            assert answer.json() == {"path": "/v1/things"}
            assert endpoint.requests("/v1/things")[-1].authorization == f"Bearer {token}"
            with pytest.raises(AItError, match="refusing to send this connection's token"):
                await client.get(f"{recorder.url}/steal")
    finally:
        recorder.stop()
    assert recorder.requests == []
