"""A sync through the public API imports only what it uses (issue 11: peak RSS): no gateway,
CLI, job queue, OAuth client, migrations or settings library, on SQLite and PostgreSQL.

The sync runs in a fresh interpreter, the way an application runs it, against the local GitHub
server; the config and the token were stored beforehand (as a Connect flow would)."""

from __future__ import annotations

import json
import subprocess
import sys

from vendor_testkit import GitHubMock, Setup

# Loaded only by the parts that use them: serving, the CLI (and httpx's own CLI), the job
# queue, the OAuth client (a refresh), migrations (`db upgrade`, or a first start on SQLite).
NOT_ON_THE_SYNC_PATH = (
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "typer",
    "click",
    "rich",
    "pygments",
    "procrastinate",
    "authlib",
    "alembic",
    "mako",
    "pydantic_settings",
    "dotenv",
    "ait_connectors.gateway",
    "ait_connectors.cli",
    "ait_connectors.jobs",
    "ait_connectors.testing",
)

_PROBE = """
import asyncio, json, sys
import ait_connectors
from ait_connectors import Connectors, Settings

async def main(url, key, config_id, user):
    async with await Connectors.open(Settings(database_url=url, encryption_key=key)) as c:
        service = await c.factory.get_service_by_config(config_id, user)
        (result,) = await service.sync(["repositories"])
        return result.status, result.added

status = asyncio.run(main(*sys.argv[1:5]))
print(json.dumps({"result": status, "modules": sorted(sys.modules)}))
"""


def _loaded(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(f"{p}.") for p in prefixes)]


def test_a_sync_imports_no_gateway_cli_jobs_oauth_client_or_migrations(
    github: Setup, github_mock: GitHubMock, db_url: str, encryption_key: str
) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, db_url, encryption_key, github.config.id, github.user_id],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    out = json.loads(probe.stdout.strip().splitlines()[-1])
    assert out["result"] == ["succeeded", 5]
    assert _loaded(out["modules"], NOT_ON_THE_SYNC_PATH) == []
    if db_url.startswith("sqlite"):
        assert _loaded(out["modules"], ("sqlalchemy.dialects.postgresql", "psycopg")) == []
