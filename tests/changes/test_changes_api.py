"""``GET /api/changes`` on a real gateway (uvicorn on loopback): credentials and filters, errors,
long-polling, Server-Sent Events, and the OpenAPI description."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (the gateway fixtures)

from bench.changes_harness import _row
from sync_helpers import add_config

from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.storage.sync_state import ConnectionKey
from ait_connectors.sync.changes import listeners_for
from ait_connectors.sync.changes_feed import ChangeFeed
from ait_connectors.sync.writer import writer_for
from ait_connectors.testing.polling import await_until
from gateway.conftest import ThreadGateway


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadGateway]:
    data_dir = tmp_path_factory.mktemp("changes") / "data"
    gateway = ThreadGateway(Settings(data_dir=data_dir)).start()
    yield gateway
    gateway.stop()


@pytest.fixture
async def connectors(server: ThreadGateway) -> AsyncIterator[Connectors]:
    opened = await Connectors.open(server.settings)
    yield opened
    await opened.close()


@pytest.fixture
async def setup(connectors: Connectors) -> dict[str, Any]:
    """Two users' changes, and an API key."""
    config_id = await add_config(connectors.database)
    key = (await ApiKeyStore(connectors.database).create("feed")).key
    for user in ("alice", "bob"):
        await write(connectors, config_id, user, range(3), version=1)
    return {"config_id": config_id, "key": key}


async def write(connectors: Connectors, config_id: str, user: str, keys: Any, version: int) -> None:
    async with connectors.database.connect(lock=True) as conn, conn.begin():
        await writer_for(connectors.database.dialect).upsert(
            conn,
            ConnectionKey(config_id, user, "items"),
            [_row(0, k, version) for k in keys],
            generation=1,
            now=datetime.now(UTC),
        )


def client(server: ThreadGateway, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30)


async def start(server: ThreadGateway, key: str) -> str:
    """The feed's current end, as a cursor."""
    async with client(server, **{"X-API-Key": key}) as http:
        return str((await http.get("/api/changes", params={"cursor": "0"})).json()["position"])


async def test_pages_filters_and_who_sees_what(
    server: ThreadGateway, setup: dict[str, Any]
) -> None:
    key = {"X-API-Key": setup["key"]}
    async with client(server, **key) as http:
        everything = (await http.get("/api/changes", params={"cursor": "0"})).json()
        first = everything["changes"][-6:]
        assert [(c["user_id"], c["operation"]) for c in first] == [("alice", "upsert")] * 3 + [
            ("bob", "upsert")
        ] * 3
        assert first[0]["record"] == {"id": 0, "v": 1, "w": 0}
        assert first[0]["provider"] == "mockhub" and not everything["snapshot"]
        since = str(first[0]["position"] - 1)
        bob = (await http.get("/api/changes", params={"cursor": since, "user_id": "bob"})).json()
        assert {c["user_id"] for c in bob["changes"]} == {"bob"}
        two = (await http.get("/api/changes", params={"cursor": since, "limit": 2})).json()
        assert len(two["changes"]) == 2 and two["next_cursor"] == str(first[1]["position"])
        other = await http.get("/api/changes", params={"cursor": since, "vendor": "github"})
        assert other.json()["changes"] == []
        snapshot = (await http.get("/api/changes", params={"user_id": "alice"})).json()
        assert snapshot["snapshot"] and {c["external_id"] for c in snapshot["changes"]} == {
            "0",
            "1",
            "2",
        }
        bad = await http.get("/api/changes", params={"cursor": "nope"})
        assert bad.status_code == 400 and bad.json()["error"] == "INVALID_CURSOR"

    token = server.connect_token("alice")
    async with client(server, Authorization=f"Bearer {token}") as http:
        mine = (await http.get("/api/changes", params={"cursor": since})).json()
        assert {c["user_id"] for c in mine["changes"]} == {"alice"}
        refused = await http.get("/api/changes", params={"cursor": since, "user_id": "bob"})
        assert refused.status_code == 403
    async with client(server) as http:
        assert (await http.get("/api/changes")).status_code == 401


async def test_long_poll_returns_when_a_change_commits(
    server: ThreadGateway, connectors: Connectors, setup: dict[str, Any]
) -> None:
    cursor = await start(server, setup["key"])
    waiters = listeners_for(server.state.connectors.database)._waiters
    async with client(server, **{"X-API-Key": setup["key"]}) as http:
        pending = asyncio.ensure_future(
            http.get("/api/changes", params={"cursor": cursor, "wait": 20})
        )

        async def waiting() -> bool:  # the request is held by the gateway
            return bool(waiters) or pending.done()

        await await_until(waiting, 30)
        assert not pending.done()
        await write(connectors, setup["config_id"], "alice", [7], version=1)
        answer = (await pending).json()
    assert [c["external_id"] for c in answer["changes"]] == ["7"]


async def test_server_sent_events_stream_and_resume(
    server: ThreadGateway, connectors: Connectors, setup: dict[str, Any]
) -> None:
    cursor = await start(server, setup["key"])
    headers = {"X-API-Key": setup["key"], "Accept": "text/event-stream"}
    await write(connectors, setup["config_id"], "bob", [10], version=1)
    events: list[dict[str, Any]] = []
    async with (
        client(server, **headers) as http,
        http.stream("GET", "/api/changes", params={"cursor": cursor}) as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        event_id = None
        async for line in lines:
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if len(events) == 1:  # the next one commits while the stream is open
                    await write(connectors, setup["config_id"], "bob", [11], version=1)
                if len(events) == 2:
                    break
    assert [e["external_id"] for e in events] == ["10", "11"]
    assert event_id == str(events[-1]["position"])
    # An event id is a cursor (and Last-Event-ID resumes a stream): nothing after the last.
    async with client(server, **{"X-API-Key": setup["key"]}) as http:
        page = (await http.get("/api/changes", params={"cursor": event_id})).json()
    assert page["changes"] == []


async def test_expired_cursor_answers_410_with_how_to_bootstrap(
    server: ThreadGateway, connectors: Connectors, setup: dict[str, Any]
) -> None:
    later: Callable[[], datetime] = lambda: datetime.now(UTC) + timedelta(days=31)  # noqa: E731
    assert await ChangeFeed(connectors.database, clock=later).prune() > 0
    async with client(server, **{"X-API-Key": setup["key"]}) as http:
        gone = await http.get("/api/changes", params={"cursor": "0"})
        assert gone.status_code == 410
        assert gone.json()["error"] == "CURSOR_EXPIRED"
        assert "without a cursor" in gone.json()["message"]
        assert (await http.get("/api/changes")).status_code == 200  # bootstrap again


def test_openapi_documents_every_status(server: ThreadGateway) -> None:
    document = httpx.get(f"{server.base_url}/openapi.json", timeout=30).json()
    operation = document["paths"]["/api/changes"]["get"]
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "410", "422"}
    assert set(operation["responses"]["200"]["content"]) == {
        "application/json",
        "text/event-stream",
    }
    names = {p["name"] for p in operation["parameters"]}
    assert names >= {"cursor", "limit", "vendor", "entity_type", "user_id", "wait"}
