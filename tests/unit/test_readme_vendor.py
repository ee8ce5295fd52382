"""README "Write a vendor": its example vendor is executed and synced against a local API."""

from __future__ import annotations

import json
import re
import secrets
import sys
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from ait_connectors.crypto import Cipher
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.storage.db import Database
from support.http_server import BackgroundServer, QuietHandler

README = Path(__file__).parents[2] / "README.md"


def readme_section(title: str) -> str:
    body = README.read_text()
    start = body.index(f"\n## {title}\n")
    end = body.find("\n## ", start + 1)
    return body[start : end if end != -1 else None]


def python_blocks(section: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def acme() -> types.ModuleType:
    """The README's vendor, imported as the module ``acme_connector``."""
    blocks = python_blocks(readme_section("Write a vendor"))
    assert blocks, "the README's 'Write a vendor' section has no Python block"
    module = types.ModuleType("acme_connector")
    sys.modules["acme_connector"] = module
    exec(compile(blocks[0], "README.md:Write a vendor", "exec"), module.__dict__)
    return module


class AcmeAPI(BackgroundServer):
    """Projects and their tasks, ``limit`` per page with a cursor in the body."""

    def __init__(self) -> None:
        self.projects = [
            {"id": f"p{i}", "name": f"Project {i}", "updated_at": "2026-01-01"} for i in range(3)
        ]
        self.tasks = {
            p["id"]: [
                {
                    "id": f"{p['id']}-t{j}",
                    "title": f"Task {j}",
                    "done": j % 2 == 0,
                    "project": {"id": p["id"]},
                }
                for j in range(5)
            ]
            for p in self.projects
        }
        self.requests: list[str] = []
        api = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                api.requests.append(self.path)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/v1/projects":
                    body = api.paged("projects", api.projects, query)
                elif m := re.fullmatch(r"/v1/projects/([^/]+)/tasks", parts.path):
                    body = api.paged("tasks", api.tasks[m.group(1)], query)
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler)

    @staticmethod
    def paged(name: str, items: list[Any], query: dict[str, str]) -> dict[str, Any]:
        start = int(query.get("cursor", 0))
        size = 2  # small pages, so that every list spans several
        nxt = start + size if start + size < len(items) else None
        return {name: items[start : start + size], "next_cursor": None if nxt is None else str(nxt)}


@pytest.fixture
def acme_api() -> Iterator[AcmeAPI]:
    server = AcmeAPI().start()
    try:
        yield server
    finally:
        server.stop()


async def test_the_readme_vendor_syncs_incrementally(
    acme: types.ModuleType, acme_api: AcmeAPI, database: Database, cipher: Cipher
) -> None:
    from ait_connectors.registry import register_vendor, unregister_vendor
    from ait_connectors.storage.configs import ConnectorConfigStore
    from ait_connectors.storage.tokens import TokenStore
    from ait_connectors.sync import sync

    register_vendor(acme.VENDOR)  # what the entry point does for an installed package
    try:
        config = await ConnectorConfigStore(database, cipher).create(
            "acme",
            client_id="acme-client",
            client_secret="acme-secret",
            redirect_uri="http://127.0.0.1:8765/api/acme/auth/callback",
            name=f"acme-{secrets.token_hex(3)}",
            overrides={"api_base_url": f"{acme_api.url}/v1"},
        )
        await TokenStore(database, cipher).save_oauth_data(
            config.id,
            "alice",
            TokenResponse(
                access_token=SecretStr("acme-token"),
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            ),
        )
        first = await sync(config.id, "alice", database=database, cipher=cipher)
        assert {r.entity_type: (r.status, r.added) for r in first} == {
            "projects": ("succeeded", 3),
            "tasks": ("succeeded", 15),
        }
        async with database.connect() as conn:
            rows = (await conn.execute(text("SELECT id, project_id, done FROM acme_tasks"))).all()
        assert len(rows) == 15 and ("p1-t2", "p1", True) in [tuple(r) for r in rows]

        acme_api.requests.clear()
        acme_api.projects[1]["updated_at"] = "2026-02-01"  # only p1 changed
        again = await sync(config.id, "alice", ["tasks"], database=database, cipher=cipher)
        assert again[0].status == "succeeded" and again[0].rows_written == 0
        task_requests = [r for r in acme_api.requests if "/tasks" in r]
        assert task_requests and all("/projects/p1/tasks" in r for r in task_requests)
        assert "updated_since=" in task_requests[0]
    finally:
        unregister_vendor("acme")
        from ait_connectors.providers import unregister_provider

        unregister_provider("acme")
