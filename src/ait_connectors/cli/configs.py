"""``ait-connectors configs``: OAuth app registrations."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import typer
from rich.table import Table

from ..errors import ConfigurationError
from ..inbound.store import InboundStore, PendingSecret
from ..runtime import Connectors
from ..storage.configs import ConfigDeletion, ConnectorConfig
from ._common import console, run_with

app = typer.Typer(help="Connector configs (OAuth app registrations).", no_args_is_help=True)


@app.command("add")
def add(
    provider: str = typer.Argument(..., help="Catalogue slug, e.g. github, spotify."),
    client_id: str = typer.Option(..., "--client-id", help="The OAuth app's client id."),
    client_secret_stdin: bool = typer.Option(
        False, "--client-secret-stdin", help="Read the client secret from standard input."
    ),
    public_client: bool = typer.Option(
        False, "--public", help="A public client (PKCE, no secret)."
    ),
    redirect_uri: str | None = typer.Option(
        None, "--redirect-uri", help="Default: the gateway's /api/{provider}/auth/callback."
    ),
    name: str | None = typer.Option(None, "--name", help="Default: the provider slug."),
    owner: str = typer.Option("default", "--owner"),
    scope: list[str] = typer.Option([], "--scope", help="Override the catalogue's scopes."),
    authorize_url: str | None = typer.Option(None, "--authorize-url"),
    token_url: str | None = typer.Option(None, "--token-url"),
    revoke_url: str | None = typer.Option(None, "--revoke-url"),
    api_base_url: str | None = typer.Option(
        None, "--api-base-url", help="E.g. https://HOST/api/v3 for GitHub Enterprise Server."
    ),
) -> None:
    """Store a connector config; the secret is read from stdin, never from the command line."""
    secret: str | None = None
    if client_secret_stdin:
        secret = _stdin_line("--client-secret-stdin")
    elif not public_client:
        raise ConfigurationError(
            "Give the client secret on standard input with --client-secret-stdin "
            "(or --public for a PKCE public client)."
        )
    overrides = {
        k: v
        for k, v in {
            "authorize_url": authorize_url,
            "token_url": token_url,
            "revoke_url": revoke_url,
            "api_base_url": api_base_url,
        }.items()
        if v
    }

    async def create(connectors: Connectors) -> ConnectorConfig:
        settings = connectors.settings
        base = settings.public_url or f"http://{settings.host}:{settings.port}"
        return await connectors.configs.create(
            provider,
            client_id=client_id,
            client_secret=secret,
            redirect_uri=redirect_uri or f"{base.rstrip('/')}/api/{provider}/auth/callback",
            name=name,
            owner=owner,
            scopes=scope or None,
            overrides=overrides,
        )

    config = run_with(create)
    console.print(f"Added connector config [bold]{config.name}[/bold] ({config.id}).")
    console.print(f"Redirect URI to register with {provider}: {config.redirect_uri}")


@app.command("list")
def list_configs() -> None:
    """List connector configs (secrets are never printed)."""

    async def fetch(connectors: Connectors) -> list[ConnectorConfig]:
        return await connectors.configs.list()

    table = Table("id", "provider", "name", "client id", "secret", "redirect uri", "enabled")
    for config in run_with(fetch):
        table.add_row(
            config.id,
            config.provider,
            config.name,
            config.client_id,
            "set" if config.client_secret else "-",
            config.redirect_uri,
            "yes" if config.enabled else "no",
        )
    console.print(table)


@app.command("update")
def update(
    config_id: str = typer.Argument(...),
    client_id: str | None = typer.Option(None, "--client-id"),
    client_secret_stdin: bool = typer.Option(
        False, "--client-secret-stdin", help="Read a new client secret from standard input."
    ),
    redirect_uri: str | None = typer.Option(None, "--redirect-uri"),
    name: str | None = typer.Option(None, "--name"),
    scope: list[str] = typer.Option([], "--scope", help="Replace the scope override."),
    api_base_url: str | None = typer.Option(None, "--api-base-url"),
    enable: bool | None = typer.Option(None, "--enable/--disable"),
    webhook_secret_stdin: bool = typer.Option(
        False,
        "--webhook-secret-stdin",
        help="Read the provider's webhook signing secret from standard input (after the client "
        "secret's line when both are given). The previous one keeps verifying for "
        "--webhook-secret-overlap hours.",
    ),
    overlap_hours: float = typer.Option(
        24.0, "--webhook-secret-overlap", min=0, help="Hours the replaced secret still verifies."
    ),
    clear_webhook_secret: bool = typer.Option(
        False, "--clear-webhook-secret", help="Forget the webhook signing secrets."
    ),
    accept_pending: bool = typer.Option(
        False,
        "--accept-pending-webhook-secret",
        help="Make the secret the provider sent for confirmation (Notion's verification token, "
        "see `configs webhook-pending`) the webhook signing secret; the previous one keeps "
        "verifying for --webhook-secret-overlap hours.",
    ),
) -> None:
    """Change a connector config; only the options given change."""
    if accept_pending and (webhook_secret_stdin or clear_webhook_secret):
        raise ConfigurationError(
            "--accept-pending-webhook-secret sets the webhook secret: give it without "
            "--webhook-secret-stdin or --clear-webhook-secret."
        )
    changes: dict[str, Any] = {}
    if client_secret_stdin:
        changes["client_secret"] = _stdin_line("--client-secret-stdin")
    if scope:
        changes["scopes"] = scope
    webhook_secret = _stdin_line("--webhook-secret-stdin") if webhook_secret_stdin else None

    async def go(connectors: Connectors) -> ConnectorConfig:
        await connectors.configs.get(config_id)  # a clear error for an unknown id, first
        inbound = InboundStore(connectors.database, connectors.cipher)
        if clear_webhook_secret:
            await inbound.clear_secret(config_id)
        overlap = timedelta(hours=overlap_hours)
        if webhook_secret is not None:
            await inbound.set_secret(config_id, webhook_secret, overlap=overlap)
        if accept_pending and await inbound.accept_pending(config_id, overlap=overlap) is None:
            raise ConfigurationError(
                f"No webhook secret is pending for config {config_id}: the provider sends one "
                "when its webhook subscription is created (see `configs webhook-pending`)."
            )
        overrides = None
        if api_base_url is not None:
            current = await connectors.configs.get(config_id)
            overrides = {**current.overrides, "api_base_url": api_base_url}
        return await connectors.configs.update(
            config_id,
            client_id=client_id,
            redirect_uri=redirect_uri,
            name=name,
            overrides=overrides,
            enabled=enable,
            **changes,
        )

    config = run_with(go)
    console.print(
        f"Updated connector config [bold]{config.name}[/bold] (version {config.version})."
    )
    if webhook_secret is not None or accept_pending:
        console.print(f"Webhook signing secret set ({_url_hint(config)}).")


@app.command("webhook-pending")
def webhook_pending(config_id: str = typer.Argument(...)) -> None:
    """Print the secret a provider sent for confirmation (Notion's verification token) and when
    it arrived; it verifies nothing until accepted with --accept-pending-webhook-secret."""

    async def go(connectors: Connectors) -> PendingSecret | None:
        await connectors.configs.get(config_id)  # a clear error for an unknown id
        return await InboundStore(connectors.database, connectors.cipher).pending(config_id)

    found = run_with(go)
    if found is None:
        console.print(
            f"No webhook secret is pending for config {config_id} (the provider sends one when "
            "its webhook subscription is created, to the config's webhook URL)."
        )
        return
    # The one place the token is shown: the operator pastes it into the provider's dialog.
    console.print(found.secret, markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"Received {found.received_at.isoformat(timespec='seconds')}. Paste it into the "
        "provider's verification dialog, then accept it as the signing secret: "
        f"`ait-connectors configs update {config_id} --accept-pending-webhook-secret`.",
        highlight=False,
    )


def _stdin_line(option: str) -> str:
    line = sys.stdin.readline().strip()
    if not line:
        raise ConfigurationError(f"{option} was given but standard input was empty.")
    return line


def _url_hint(config: ConnectorConfig) -> str:
    return f"the provider sends its events to /api/webhooks/{config.provider}/{config.id}"


@app.command("delete")
def delete(
    config_id: str = typer.Argument(...),
    force: bool = typer.Option(
        False, "--force", help="Also delete its connections' tokens and synced records."
    ),
) -> None:
    """Delete a connector config; refused while it has connections or records, unless --force."""

    async def go(connectors: Connectors) -> ConfigDeletion:
        return await connectors.configs.delete(config_id, cascade=force)

    deleted = run_with(go)
    console.print(
        f"Deleted connector config {config_id} with {deleted.connections} connection(s) and "
        f"{deleted.records} synced record(s)."
    )


# The command's former name.
app.command("remove", hidden=True)(delete)


@app.command("disable")
def disable(config_id: str = typer.Argument(...)) -> None:
    """Disable a connector config (its tokens are kept)."""

    async def go(connectors: Connectors) -> None:
        await connectors.configs.disable(config_id)

    run_with(go)
    console.print(f"Disabled connector config {config_id}.")
