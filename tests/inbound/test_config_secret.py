"""Setting a config's webhook signing secret from the CLI: read from stdin (never an argument),
rotated with an overlap, cleared; an unknown config id is a clear error. A pending secret (the
token Notion sends) is shown by ``configs webhook-pending`` and accepted with
``--accept-pending-webhook-secret``."""

from __future__ import annotations

import asyncio
from typing import Any

from typer.testing import CliRunner

from ait_connectors.cli.app import app as cli_app
from ait_connectors.inbound.store import InboundStore
from ait_connectors.runtime import Connectors
from ait_connectors.settings import get_settings


async def _with(work: object) -> object:
    async with await Connectors.open(get_settings()) as connectors:
        return await work(connectors)  # type: ignore[operator]


def test_the_cli_sets_rotates_and_clears_the_webhook_secret() -> None:
    async def create(connectors: Connectors) -> str:
        config = await connectors.configs.create(
            "github", client_id="id", client_secret="s", redirect_uri="http://x/cb"
        )
        return config.id

    async def secrets(connectors: Connectors) -> list[str]:
        return await InboundStore(connectors.database, connectors.cipher).secrets(config_id)

    config_id = str(asyncio.run(_with(create)))
    runner = CliRunner()

    def update(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(cli_app, ["configs", "update", config_id, *args], input=stdin)
        assert result.exit_code == 0, result.output
        assert "first-secret" not in result.output and "second-secret" not in result.output
        return result.output

    shown = update("--webhook-secret-stdin", stdin="first-secret\n")
    assert f"/api/webhooks/github/{config_id}" in shown
    update("--webhook-secret-stdin", stdin="second-secret\n")
    assert asyncio.run(_with(secrets)) == ["second-secret", "first-secret"]
    update("--webhook-secret-stdin", "--webhook-secret-overlap", "0", stdin="third-secret\n")
    assert asyncio.run(_with(secrets)) == ["third-secret"]
    update("--clear-webhook-secret")
    assert asyncio.run(_with(secrets)) == []
    empty = runner.invoke(cli_app, ["configs", "update", config_id, "--webhook-secret-stdin"])
    assert empty.exit_code != 0
    assert "standard input was empty" in empty.output + str(empty.exception)
    unknown = runner.invoke(
        cli_app, ["configs", "update", "nope", "--webhook-secret-stdin"], input="x\n"
    )
    assert unknown.exit_code != 0
    assert "configs list" in unknown.output + str(unknown.exception)


def test_the_cli_shows_and_accepts_a_pending_webhook_secret() -> None:
    async def create(connectors: Connectors) -> str:
        config = await connectors.configs.create(
            "notion", client_id="id", client_secret="s", redirect_uri="http://x/cb"
        )
        await InboundStore(connectors.database, connectors.cipher).set_secret(config.id, "old")
        return config.id

    config_id = str(asyncio.run(_with(create)))

    async def store(connectors: Connectors) -> InboundStore:
        return InboundStore(connectors.database, connectors.cipher)

    async def pend(connectors: Connectors) -> None:
        await (await store(connectors)).set_pending(config_id, "secret_pending-token")

    async def secrets(connectors: Connectors) -> list[str]:
        return await (await store(connectors)).secrets(config_id)

    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(cli_app, ["configs", *args])

    none = invoke("webhook-pending", config_id)
    assert none.exit_code == 0 and "No webhook secret is pending" in none.output
    refused = invoke("update", config_id, "--accept-pending-webhook-secret")
    assert refused.exit_code != 0
    assert "No webhook secret is pending" in refused.output + str(refused.exception)
    asyncio.run(_with(pend))
    shown = invoke("webhook-pending", config_id)
    assert shown.exit_code == 0 and "secret_pending-token" in shown.output
    assert "--accept-pending-webhook-secret" in shown.output
    assert asyncio.run(_with(secrets)) == ["old"]  # pending verifies nothing
    accepted = invoke("update", config_id, "--accept-pending-webhook-secret")
    assert accepted.exit_code == 0, accepted.output
    assert "secret_pending-token" not in accepted.output
    assert asyncio.run(_with(secrets)) == ["secret_pending-token", "old"]  # the overlap
    assert "No webhook secret is pending" in invoke("webhook-pending", config_id).output
