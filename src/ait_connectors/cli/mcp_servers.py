"""``ait-connectors mcp-servers``: remote MCP servers as providers."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from ..errors import ConfigurationError
from ..runtime import Connectors
from ..storage.configs import ConnectorConfig
from ._common import console, run_with

app = typer.Typer(help="Remote MCP servers (connected as providers).", no_args_is_help=True)


@app.command("add")
def add(
    url: str = typer.Argument(..., help="The MCP server's URL, e.g. https://mcp.example.com/mcp."),
    name: str | None = typer.Option(
        None, "--name", help="The provider name (/api/proxy/NAME/…). Default: the host."
    ),
    owner: str = typer.Option("default", "--owner"),
    client_id: str | None = typer.Option(
        None, "--client-id", help="A client registered by hand (else it registers itself)."
    ),
    client_secret_stdin: bool = typer.Option(
        False, "--client-secret-stdin", help="Read that client's secret from standard input."
    ),
    client_metadata_url: str | None = typer.Option(
        None, "--client-metadata-url", help="This deployment's client ID metadata document."
    ),
    redirect_uri: str | None = typer.Option(
        None, "--redirect-uri", help="Default: the gateway's /api/NAME/auth/callback."
    ),
) -> None:
    """Discover the server's authorization, register a client, store its connector config."""
    from ..mcp_remote import add_mcp_server

    secret: str | None = None
    if client_secret_stdin:
        if not client_id:
            raise ConfigurationError("--client-secret-stdin needs --client-id.")
        secret = sys.stdin.readline().strip() or None

    async def create(connectors: Connectors) -> ConnectorConfig:
        return await add_mcp_server(
            connectors,
            url,
            name=name,
            owner=owner,
            redirect_uri=redirect_uri,
            client_id=client_id,
            client_secret=secret,
            client_metadata_url=client_metadata_url,
        )

    config = run_with(create)
    console.print(
        f"Added MCP server [bold]{config.name}[/bold] ({config.id}) as provider "
        f"[bold]{config.provider}[/bold], client {config.client_id}."
    )
    console.print(f"Connect a user: ait-connectors connect {config.provider} --user USER")


@app.command("list")
def list_servers() -> None:
    """List the remote MCP servers (secrets are never printed)."""

    from ..mcp_remote import mcp_server_url

    async def fetch(connectors: Connectors) -> list[ConnectorConfig]:
        return [c for c in await connectors.configs.list() if mcp_server_url(c)]

    table = Table("id", "provider", "url", "authorization server", "client id", "enabled")
    for config in run_with(fetch):
        table.add_row(
            config.id,
            config.provider,
            mcp_server_url(config) or "",
            config.overrides.get("token_url", ""),
            config.client_id,
            "yes" if config.enabled else "no",
        )
    console.print(table)
