"""``ait-connectors mcp --user USER`` spawned by the SDK's stdio client: the same tools over
stdio, the configured database, one user only; a record's ``_link`` is the vendor's page."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from ait_connectors.entities import prepare_row
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.sync_state import ConnectionKey
from ait_connectors.sync.writer import writer_for
from ait_connectors.vendors.github.entities import GitHubRepository

from .conftest import McpUser


def repository(number: int, owner: str, *, private: bool) -> GitHubRepository:
    return GitHubRepository.model_validate(
        {
            "id": number,
            "node_id": f"R_{number}",
            "name": f"tool-{number}",
            "full_name": f"{owner}/tool-{number}",
            "owner": {"login": owner, "id": 1},
            "private": private,
            "fork": False,
            "description": f"{owner}'s zeppelin tool" if number % 2 else "plain",
            "html_url": f"https://github.com/{owner}/tool-{number}",
        }
    )


async def _seed(settings: Settings) -> None:
    async with await Connectors.open(settings) as connectors:
        config = await connectors.configs.create(
            "github", client_id="id", client_secret="s", redirect_uri="http://127.0.0.1/cb"
        )
        writer = writer_for(connectors.database.dialect, feed=False)
        now = datetime.now(UTC)
        async with connectors.database.transaction() as conn:
            for user, numbers in (("alice", range(1, 5)), ("bob", range(100, 103))):
                rows = [prepare_row(repository(n, user, private=n % 2 == 0)) for n in numbers]
                key = ConnectionKey(config.id, user, "repositories")
                await writer.upsert(conn, key, rows, generation=1, now=now)


async def test_the_stdio_server_serves_one_user(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    await _seed(settings)
    command = shutil.which("ait-connectors", path=str(Path(sys.executable).parent))
    assert command is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIT_")}
    env["AIT_DATA_DIR"] = str(settings.data_dir)
    params = StdioServerParameters(command=command, args=["mcp", "--user", "alice"], env=env)
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        alice = McpUser(session)
        (github,) = (await alice.call("list_connections"))["connections"]
        counts = {t["entity_type"]: t["records"] for t in github["entity_types"]}
        assert counts["repositories"] == 4 and github["status"] == "not_connected"

        private = [{"field": "private", "op": "eq", "value": True}]
        page: dict[str, Any] = await alice.call(
            "query_records", provider="github", entity_type="repositories", filters=private
        )
        assert [r["_id"] for r in page["items"]] == ["2", "4"]
        assert page["items"][0]["_link"] == "https://github.com/alice/tool-2"
        assert "html_url" not in page["items"][0]  # shown once, as the link

        hits = (await alice.call("search_records", query="zeppelin"))["results"]
        assert sorted(h["_id"] for h in hits) == ["1", "3"]  # bob's zeppelins are not hers
        bobs = await alice.error(
            "get_record", provider="github", entity_type="repositories", external_id="101"
        )
        assert "RECORD_NOT_FOUND" in bobs
        tools = {t.name for t in (await session.list_tools()).tools}
        assert tools == {
            "list_connections",
            "query_records",
            "search_records",
            "get_record",
            "start_sync",
            "sync_status",
        }
        described = await session.read_resource("ait://github/repositories")  # type: ignore[arg-type]
        fields = json.loads(described.contents[0].text)  # type: ignore[union-attr]
        assert fields["link_field"] == "html_url"
        assert {"name": "private", "type": "bool", "required": True} in fields["fields"]
