"""What schemathesis found wrong with the API (issue 10.5), one test per finding: every 405 names
the allowed methods, bodies are JSON of the documented types, a name clash is a conflict, and the
document describes the error bodies the gateway really sends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ait_connectors.crypto import generate_key
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore

from .conftest import ThreadGateway

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# A concrete URL for each templated path segment.
VALUES = {"{vendor}": "sandbox", "{config_id}": "c1", "{run_id}": "r1", "{entity}": "events"}


@contextmanager
def _client(gateway: ThreadGateway) -> Iterator[httpx.Client]:
    """An API-key client of ``gateway``, which it stops at the end."""

    async def key() -> str:
        async with await Connectors.open(gateway.settings) as connectors:
            return (await ApiKeyStore(connectors.database).create("conformance")).key

    try:
        headers = {"X-API-Key": asyncio.run(key()), "Accept": "application/json"}
        with httpx.Client(base_url=gateway.base_url, headers=headers) as client:
            yield client
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """An API-key client of a real gateway on SQLite (one for the module)."""
    data_dir: Path = tmp_path_factory.mktemp("conformance") / "data"
    with _client(ThreadGateway(Settings(data_dir=data_dir)).start()) as client:
        yield client


def _url(path: str) -> str:
    for template, value in VALUES.items():
        path = path.replace(template, value)
    return path


def _assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str), body
    if code is not None:
        assert body["error"] == code, body
    return body


def test_every_405_names_every_method_of_the_path(api: httpx.Client) -> None:
    """Starlette named the methods of the first route matching the path only, and static files
    none; ``Allow`` lists what the document says each path has."""
    paths = api.get("/openapi.json").json()["paths"]
    checked = 0
    for path, item in paths.items():
        documented = {m.upper() for m in item if m.upper() in METHODS}
        for method in set(METHODS) - documented:
            response = api.request(method, _url(path))
            assert response.status_code == 405, (method, path, response.text)
            assert set(response.headers["allow"].split(", ")) == documented, (method, path)
            _assert_error(response, 405, "METHOD_NOT_ALLOWED")
            checked += 1
    assert checked > 50
    static = api.post("/assets/connect.css")
    assert static.status_code == 405
    assert static.headers["allow"] == "GET, HEAD"


def test_a_body_that_is_not_json_is_refused_with_415(api: httpx.Client) -> None:
    """FastAPI handed a form or text body to the model as bytes (or, for an optional body,
    dropped it); now the media type is refused, saying what to send."""
    config_id = api.get("/api/configs").json()[0]["id"]
    attempts = [
        api.patch(
            f"/api/configs/{config_id}",
            content=b'{"name": "renamed"}',
            headers={"Content-Type": "text/plain"},
        ),
        api.post(
            "/api/sandbox/sync",
            params={"user_id": "alice"},
            content=b"entity_types=events",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        api.post("/api/connect-tokens", data={"user_id": "alice"}),
    ]
    for response in attempts:
        body = _assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        assert "Content-Type: application/json" in body["message"]
    assert api.get(f"/api/configs/{config_id}").json()["name"] != "renamed"
    # A body without Content-Type was refused as a body of the wrong type (422).
    bare = api.build_request("POST", "/api/connect-tokens", content=b'{"user_id": "alice"}')
    assert "Content-Type" not in bare.headers
    _assert_error(api.send(bare), 415, "UNSUPPORTED_MEDIA_TYPE")
    # JSON is accepted with parameters, and no body is looked at where none is needed.
    token = api.post(
        "/api/connect-tokens",
        content=b'{"user_id": "alice"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert token.status_code == 201, token.text
    no_body = api.post("/api/sandbox/sync", headers={"Content-Type": "text/plain"})
    assert no_body.status_code != 415, no_body.text


@pytest.mark.parametrize(
    "body",
    [
        {"enabled": "false"},  # a string where the schema says boolean (was read as False)
        {"enabled": 0},
        {"name": 5},
        {"scopes": "repo"},
        {"overrides": {"authorize_url": "http://x", "unknown": "http://y"}},
        {"overrides": {"token_url": "ftp://x"}},
        [],
        "renamed",
    ],
)
def test_a_body_of_the_wrong_type_is_refused_with_422(api: httpx.Client, body: Any) -> None:
    config = api.get("/api/configs").json()[0]
    response = api.patch(f"/api/configs/{config['id']}", json=body)
    problem = _assert_error(response, 422, "INVALID_REQUEST")
    assert problem["detail"] and all(
        set(issue) == {"loc", "msg", "type"} and issue["loc"][0] == "body"
        for issue in problem["detail"]
    ), problem
    after = api.get(f"/api/configs/{config['id']}").json()
    assert after["version"] == config["version"] and after["enabled"] == config["enabled"]


def test_numbers_are_numbers(api: httpx.Client) -> None:
    refused = api.post("/api/connect-tokens", json={"user_id": "alice", "ttl_seconds": "900"})
    _assert_error(refused, 422, "INVALID_REQUEST")
    assert (
        api.post("/api/connect-tokens", json={"user_id": "a", "ttl_seconds": True}).status_code
        == 422
    )
    # JSON has one number type: 900.0 is the integer 900.
    whole = api.post("/api/connect-tokens", json={"user_id": "alice", "ttl_seconds": 900.0})
    assert whole.status_code == 201, whole.text


@pytest.fixture(params=["sqlite", "postgresql"])
def any_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    """An API-key client of a gateway on SQLite, or on PostgreSQL."""
    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path / "data")
    else:
        server = request.getfixturevalue("postgres")
        server.truncate_all()
        settings = Settings(database_url=server.url, encryption_key=generate_key())
    with _client(ThreadGateway(settings).start()) as client:
        yield client


def test_a_name_clash_is_a_conflict(any_api: httpx.Client) -> None:
    """Creating, or renaming to, the name of another config of the owner: 409 (renaming was an
    unhandled database error, 500)."""
    api = any_api
    first = {"provider": "github", "client_id": "a", "client_secret": "s", "name": "gh-one"}
    created = api.post("/api/configs", json=first)
    assert created.status_code == 201, created.text
    again = api.post("/api/configs", json=first)
    assert "gh-one" in _assert_error(again, 409, "CONNECTOR_CONFIG_EXISTS")["message"]
    other = api.post("/api/configs", json={**first, "name": "gh-two"}).json()
    renamed = api.patch(f"/api/configs/{other['id']}", json={"name": "gh-one"})
    _assert_error(renamed, 409, "CONNECTOR_CONFIG_EXISTS")
    assert api.get(f"/api/configs/{other['id']}").json()["name"] == "gh-two"
    assert len(api.get("/api/configs", params={"provider": "github"}).json()) == 2


def test_the_document_describes_the_errors_sent(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    models = document["components"]["schemas"]
    assert "HTTPValidationError" not in models  # FastAPI's 422 body, never sent by the gateway
    assert set(models["ValidationErrorOut"]["required"]) == {"error", "message", "detail"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            assert "400" in responses, where  # control characters in the URL, on any route
            if "422" in responses:
                schema = responses["422"]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ValidationErrorOut"}, where
            if operation.get("security") and not path.startswith("/sandbox/"):
                assert "WWW-Authenticate" in responses["401"]["headers"], where
    # The routes whose answers changed on main: each is documented as it is sent.
    paths = document["paths"]
    data = paths["/api/{vendor}/data/{entity}"]["get"]["responses"]["200"]
    assert data["content"]["application/json"]["schema"]["$ref"].endswith("/DataPage")
    assert set(models["DataPage"]["properties"]) == {
        "provider",
        "entity_type",
        "limit",
        "next_cursor",
        "prev_cursor",
        "total",
        "items",
    }
    delete = paths["/api/configs/{config_id}"]["delete"]["responses"]
    assert delete["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ConfigDeleted")
    assert "409" in delete
    start = paths["/api/{vendor}/sync"]["post"]["responses"]
    assert start["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/SyncStartOut")
    assert {"job_id", "starts_at", "already_running"} <= set(models["SyncStartOut"]["properties"])
    health = paths["/health"]["get"]["responses"]
    for status in ("200", "503"):
        assert health[status]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/HealthOut"
        )
