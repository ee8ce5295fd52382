"""``DELETE /api/configs/{id}`` and ``ait-connectors configs delete`` refuse to delete a config
that still has connections or records, unless asked; then they say what went (issue 10.6)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from ait_connectors.crypto import generate_key
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from core.test_config_delete import add_records, stored_records, token

from .conftest import ROOT, ThreadGateway, sandbox_connect, subprocess_env

CLI = str(ROOT / ".venv" / "bin" / "ait-connectors")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data")
    server = request.getfixturevalue("postgres")
    server.truncate_all()
    return Settings(database_url=server.url, encryption_key=generate_key(), sandbox=True)


async def test_api_refuses_then_cascades(
    any_settings: Settings, gateway_factory: Callable[..., ThreadGateway]
) -> None:
    gateway = gateway_factory(any_settings)
    async with await Connectors.open(gateway.settings) as connectors:
        key = (await ApiKeyStore(connectors.database).create("t")).key
        headers = {"X-API-Key": key, "Accept": "application/json"}
        with httpx.Client(base_url=gateway.base_url, headers=headers) as api:
            assert sandbox_connect(gateway, api, user_id="alice").status_code == 200
            config_id = api.get("/api/sandbox/connection", params={"user_id": "alice"}).json()[
                "connector_config_id"
            ]
            await add_records(connectors.database, config_id, "alice", 12)

            refused = api.delete(f"/api/configs/{config_id}")
            assert refused.status_code == 409, refused.text
            body = refused.json()
            assert body["error"] == "CONFIG_IN_USE"
            assert "1 connection " in body["message"] and "12 synced records" in body["message"]
            assert "?cascade=true" in body["message"]
            assert api.get(f"/api/configs/{config_id}").status_code == 200
            assert await stored_records(connectors.database, config_id) == 12

            deleted = api.delete(f"/api/configs/{config_id}", params={"cascade": "true"})
            assert deleted.status_code == 200, deleted.text
            assert deleted.json() == {
                "id": config_id,
                "deleted": True,
                "connections_deleted": 1,
                "records_deleted": 12,
            }
            assert api.get(f"/api/configs/{config_id}").status_code == 404
            assert await stored_records(connectors.database, config_id) == 0
            assert api.delete(f"/api/configs/{config_id}").status_code == 404


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_cli_refuses_without_force(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    async with await Connectors.open(settings) as connectors:
        config = await connectors.configs.create(
            "sandbox", client_id="c", client_secret="s", redirect_uri="http://127.0.0.1/cb"
        )
        await connectors.tokens.save_oauth_data(config.id, "local", token("a"))
        await add_records(connectors.database, config.id, "local", 4)
    env = subprocess_env(AIT_DATA_DIR=str(tmp_path / "data"), COLUMNS="300")

    refused = run(env, "configs", "delete", config.id)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert refused.stderr.startswith("Error: "), refused.stderr
    assert "1 connection " in refused.stderr and "4 synced records" in refused.stderr
    assert "--force" in refused.stderr
    assert config.id in run(env, "configs", "list").stdout

    forced = run(env, "configs", "delete", config.id, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "1 connection(s) and 4 synced record(s)" in forced.stdout
    assert config.id not in run(env, "configs", "list").stdout
