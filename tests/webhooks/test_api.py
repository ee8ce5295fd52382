"""``/api/webhook-endpoints`` on a running gateway (embedded SQLite, its in-process dispatcher),
the CLI commands, and the OpenAPI document listing every status the routes answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from ait_connectors.cli.app import app as cli_app
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.outgoing.endpoints import WebhookEndpointStore
from ait_connectors.outgoing.events import emit
from ait_connectors.runtime import Connectors
from ait_connectors.settings import Settings, reset_settings
from ait_connectors.storage.api_keys import ApiKeyStore
from gateway.conftest import ThreadGateway
from support.polling import wait_until

from .receiver import Receiver

DOCUMENTED = {
    ("post", ""): {"201", "400", "401", "403", "422"},
    ("get", ""): {"200", "401", "403", "422"},
    ("get", "/{endpoint_id}"): {"200", "401", "403", "404", "422"},
    ("patch", "/{endpoint_id}"): {"200", "400", "401", "403", "404", "422"},
    ("delete", "/{endpoint_id}"): {"204", "401", "403", "404", "422"},
    ("post", "/{endpoint_id}/rotate-secret"): {"200", "400", "401", "403", "404", "422"},
    ("get", "/{endpoint_id}/deliveries"): {"200", "400", "401", "403", "404", "422"},
    ("post", "/{endpoint_id}/deliveries/{delivery_id}/replay"): {
        "202",
        "401",
        "403",
        "404",
        "409",
        "422",
    },
}


async def _setup(settings: Settings) -> tuple[str, str]:
    async with await Connectors.open(settings) as connectors:
        key = (await ApiKeyStore(connectors.database).create("app")).key
        config = await connectors.configs.create(
            "github", client_id="cid", client_secret="cs", redirect_uri="http://127.0.0.1:9/cb"
        )
    return key, config.id


async def _connect(settings: Settings, config_id: str, user_id: str) -> None:
    # A library program beside the gateway: its event wakes the gateway's dispatcher.
    async with await Connectors.open(settings) as connectors:
        token = TokenResponse(access_token=SecretStr("at"), refresh_token=None)
        await connectors.tokens.save_oauth_data(config_id, user_id, token)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[ThreadGateway]:
    started = ThreadGateway(Settings(data_dir=tmp_path / "data")).start()
    yield started
    started.stop()


def test_endpoints_api_delivers_rotates_replays(gateway: ThreadGateway, receiver: Receiver) -> None:
    settings = gateway.settings
    key, config_id = asyncio.run(_setup(settings))
    api = httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"})
    base = "/api/webhook-endpoints"

    assert (
        api.post(base, json={"url": "gopher://x", "events": ["sync.finished"]}).status_code == 400
    )
    assert api.post(base, json={"url": receiver.url, "events": ["nope"]}).status_code == 422
    made = api.post(base, json={"url": receiver.url, "events": ["connection.created"]})
    assert made.status_code == 201, made.text
    endpoint = made.json()
    secret = endpoint["secret"]
    listed = api.get(base).json()
    assert [e["id"] for e in listed] == [endpoint["id"]] and secret not in str(listed)
    assert api.get(f"{base}/missing").status_code == 404

    connect = api.post("/api/connect-tokens", json={"user_id": "u"}).json()["token"]
    as_user = httpx.Client(
        base_url=gateway.base_url, headers={"Authorization": f"Bearer {connect}"}
    )
    assert as_user.get(base).status_code == 403
    assert httpx.get(gateway.base_url + base).status_code == 401

    receiver.secrets = [secret]
    receiver.up()
    asyncio.run(_connect(settings, config_id, "alice"))
    wait_until(lambda: len(receiver.received) == 1, timeout=15)
    first = receiver.received[0]
    assert (first.type, first.data["user_id"], first.signatures) == (
        "connection.created",
        "alice",
        1,
    )

    rotated = api.post(f"{base}/{endpoint['id']}/rotate-secret", json={"overlap_seconds": 600})
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    receiver.secrets = [secret]  # a receiver that has not switched yet still verifies
    asyncio.run(_connect(settings, config_id, "bob"))
    wait_until(lambda: len(receiver.received) == 2, timeout=15)
    assert receiver.received[1].signatures == 2
    receiver.secrets = [new_secret]  # and one that has

    def statuses() -> list[str]:
        found = api.get(f"{base}/{endpoint['id']}/deliveries").json()
        return [d["status"] for d in found["items"]]

    # The receiver counts a message before it answers; the log is written after the answer.
    wait_until(lambda: statuses() == ["delivered", "delivered"], timeout=15)
    page = api.get(f"{base}/{endpoint['id']}/deliveries").json()
    log = page["items"][0]["log"]
    assert log[0]["outcome"] == "delivered" and log[0]["status_code"] == 200
    assert secret not in str(page) and new_secret not in str(page)
    replayed = api.post(f"{base}/{endpoint['id']}/deliveries/{page['items'][1]['id']}/replay")
    assert replayed.status_code == 202
    wait_until(lambda: len(receiver.received) == 3, timeout=15)
    assert receiver.received[2].message_id == receiver.received[0].message_id  # same webhook-id
    assert receiver.rejected == []

    off = api.patch(f"{base}/{endpoint['id']}", json={"enabled": False}).json()
    assert off["status"] == "disabled"
    again = api.post(f"{base}/{endpoint['id']}/deliveries/{page['items'][1]['id']}/replay")
    assert again.status_code == 409
    assert api.delete(f"{base}/{endpoint['id']}").status_code == 204
    assert api.get(f"{base}/{endpoint['id']}").status_code == 404

    spec = api.get("/openapi.json").json()
    for (method, suffix), statuses in DOCUMENTED.items():
        # gateway/openapi.py adds to every operation the 400 of a URL with control characters.
        documented = set(spec["paths"][base + suffix][method]["responses"])
        assert documented == statuses | {"400"}, (method, suffix)


def test_cli_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> None:
    monkeypatch.setenv("AIT_DATA_DIR", str(tmp_path / "cli-data"))
    from ait_connectors.cli._common import console

    # The tables unwrapped: the console is made once per process (COLUMNS is read then).
    monkeypatch.setattr(console, "width", 300)
    reset_settings()
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(cli_app, ["webhooks", *args], input=stdin)
        assert result.exit_code == 0, result.output
        return result.stdout

    secret = run("add", receiver.url, "-e", "sync.finished", "-e", "connection.deleted").strip()
    assert secret.startswith("whsec_")
    listed = run("list")
    assert "sync.finished" in listed and "active" in listed and secret not in listed

    async def emit_one() -> tuple[str, str]:
        async with await Connectors.open() as c:
            async with c.database.transaction() as conn:
                await emit(conn, "sync.finished", {"run_id": "r"})
            store = WebhookEndpointStore(c.database, c.cipher, c.settings)
            endpoint = (await store.list())[0].id
            return endpoint, (await store.deliveries(endpoint))[0][0].id

    endpoint_id, delivery_id = asyncio.run(emit_one())
    rotated = run("rotate-secret", endpoint_id, "--overlap-hours", "1").strip()
    assert rotated.startswith("whsec_") and rotated != secret
    assert delivery_id in run("deliveries", endpoint_id)
    assert delivery_id in runner.invoke(cli_app, ["webhooks", "replay", delivery_id]).output
    bad = runner.invoke(cli_app, ["webhooks", "add", receiver.url, "-e", "nope"])
    assert bad.exit_code != 0 and "subscribe to one or more of" in str(bad.exception)
    run("remove", endpoint_id)
    assert endpoint_id not in run("list")
