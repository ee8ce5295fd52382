"""Several gateways on one data folder do not fight over the sandbox's URLs (issue 12, item 3):
the sandbox's endpoints and callback come from the gateway serving it, not from the stored
connector config, so a second ``serve`` on another port re-points nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from ait_connectors.crypto import generate_key
from ait_connectors.providers import get_provider
from ait_connectors.registry import VendorContext
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.vendors.sandbox import VENDOR
from ait_connectors.vendors.sandbox.server import SANDBOX_CLIENT_ID
from ait_connectors.vendors.sandbox.setup import sandbox_overrides
from support.databases import PostgresServer

from .conftest import (
    GatewayProcess,
    approve,
    follow_start_link,
    free_port,
    subprocess_env,
    wait_for,
)


def _authorize(client: httpx.Client, gateway: GatewayProcess, key: str) -> str:
    start = client.get(
        f"{gateway.base_url}/api/sandbox/auth",
        params={"user_id": "alice"},
        headers={"X-API-Key": key, "Accept": "*/*"},
    )
    assert start.status_code == 302, start.text
    # The start link is on the gateway's public URL (its own address when none is set).
    assert "/api/sandbox/auth/start?" in start.headers["location"]
    return follow_start_link(client, start.headers["location"])


async def test_a_second_gateway_on_another_port_repoints_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = subprocess_env(AIT_DATA_DIR=str(data))
    first = GatewayProcess(free_port(), env).start()
    second = GatewayProcess(free_port(), env)
    try:
        first.wait_ready()
        second.start().wait_ready()
        async with await Connectors.open(Settings(data_dir=data)) as connectors:
            key = (await ApiKeyStore(connectors.database).create("tests")).key
            with httpx.Client(timeout=30) as client:
                # Each gateway sends the user to its own authorization page and callback.
                for gateway in (first, second):
                    location = _authorize(client, gateway, key)
                    assert location.startswith(f"{gateway.base_url}/sandbox/oauth/authorize?")
                    (redirect,) = parse_qs(urlsplit(location).query)["redirect_uri"]
                    assert redirect == f"{gateway.base_url}/api/sandbox/auth/callback"
                second.stop()

                # The stored config names no gateway URL: the first gateway still connects and
                # syncs after the second one is gone.
                (config,) = await connectors.configs.list(provider="sandbox")
                assert config.overrides == {}
                back = approve(client, _authorize(client, first, key))
                done = client.get(back.headers["location"], headers={"Accept": "application/json"})
                assert done.status_code == 200, done.text
                headers = {"X-API-Key": key, "Accept": "application/json"}
                run = client.post(
                    f"{first.base_url}/api/sandbox/sync",
                    params={"user_id": "alice"},
                    json={"entity_types": ["events"]},
                    headers=headers,
                ).json()

                def finished() -> dict[str, object] | None:
                    url = f"{first.base_url}/api/sandbox/sync/{run['run_id']}"
                    view: dict[str, object] = client.get(url, headers=headers).json()
                    return view if view["done"] else None

                view = wait_for(finished, timeout=60)
        assert view["status"] == "succeeded", view
    finally:
        second.stop()
        first.stop()


async def test_a_config_stored_per_port_loses_its_urls_at_start_up(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    async with await Connectors.open(settings) as connectors:
        old = await connectors.configs.create(
            "sandbox",
            client_id=SANDBOX_CLIENT_ID,
            client_secret="an old key's secret",
            redirect_uri="http://127.0.0.1:18765/api/sandbox/auth/callback",
            name="sandbox",
            owner="ait-sandbox",
            overrides=sandbox_overrides("http://127.0.0.1:18765"),
        )
        context = VendorContext(settings, "http://127.0.0.1:8765", serving=True)
        await VENDOR.prepare(connectors, context)  # type: ignore[misc]
        (config,) = await connectors.configs.list(provider="sandbox")
    assert config.id == old.id
    assert config.overrides == {}
    assert config.client_secret is not None
    assert config.client_secret.get_secret_value() != "an old key's secret"
    assert get_provider("sandbox").api_base_url is not None
    assert str(get_provider("sandbox").api_base_url).startswith("http://127.0.0.1:8765/")


async def test_gateways_behind_one_public_url_and_a_stray_one_on_postgresql(
    postgres: PostgresServer,
) -> None:
    """Issue 20, point 5: two gateways share one public URL (AIT_PUBLIC_URL, here the first
    one's address); a third starts without it, on its own port, and stops. The stored sandbox
    config names no gateway, so connecting and syncing through the public URL still work."""
    postgres.truncate_all()
    first_port = free_port()
    public = f"http://127.0.0.1:{first_port}"
    common = {
        "AIT_DATABASE_URL": postgres.url,
        "AIT_ENCRYPTION_KEY": generate_key(),
        "AIT_SANDBOX": "true",
        "AIT_JOBS": "inline",
    }
    shared = subprocess_env(**common, AIT_PUBLIC_URL=public)
    first = GatewayProcess(first_port, shared).start()
    second = GatewayProcess(free_port(), shared).start()
    stray = GatewayProcess(free_port(), subprocess_env(**common))
    try:
        first.wait_ready()
        second.wait_ready()
        stray.start().wait_ready()  # the last to start: its start-up hooks ran last
        stray_location = ""
        async with await Connectors.open(Settings(database_url=postgres.url, **_key(common))) as c:
            key = (await ApiKeyStore(c.database).create("tests")).key
            with httpx.Client(timeout=30) as client:
                stray_location = _authorize(client, stray, key)
                stray.stop()
                (config,) = await c.configs.list(provider="sandbox")
                assert config.overrides == {}
                # Through the second gateway the user is sent to the public URL, and back there.
                location = _authorize(client, second, key)
                assert location.startswith(f"{public}/sandbox/oauth/authorize?")
                back = approve(client, location)
                assert back.headers["location"].startswith(f"{public}/api/sandbox/auth/callback")
                done = client.get(back.headers["location"], headers={"Accept": "application/json"})
                assert done.status_code == 200, done.text
                headers = {"X-API-Key": key, "Accept": "application/json"}
                run = client.post(
                    f"{second.base_url}/api/sandbox/sync",
                    params={"user_id": "alice"},
                    json={"entity_types": ["contacts"]},
                    headers=headers,
                ).json()

                def finished() -> dict[str, object] | None:
                    url = f"{second.base_url}/api/sandbox/sync/{run['run_id']}"
                    view: dict[str, object] = client.get(url, headers=headers).json()
                    return view if view["done"] else None

                view = wait_for(finished, timeout=120)
        assert stray_location.startswith(f"{stray.base_url}/sandbox/oauth/authorize?")
        assert view["status"] == "succeeded", view
    finally:
        stray.stop()
        second.stop()
        first.stop()


def _key(common: dict[str, str]) -> dict[str, Any]:
    return {"encryption_key": common["AIT_ENCRYPTION_KEY"], "sandbox": True}
