"""Commands imported only when they run: ``--help`` lists them from a table, without importing
the database, the gateway or the job queue behind them."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

__all__ = ["COMMANDS", "LazyCommand", "LazyGroup", "load_command"]


@dataclass(frozen=True)
class LazyCommand:
    """``target`` is ``module:attribute`` under ``ait_connectors.cli``: a ``typer.Typer`` (a
    command group) or a function (one command). ``help`` is the line ``--help`` lists."""

    name: str
    target: str
    help: str


COMMANDS = (
    LazyCommand("db", "db:app", "Database schema."),
    LazyCommand("configs", "configs:app", "Connector configs (OAuth app registrations)."),
    LazyCommand("keys", "keys:app", "Encryption keys."),
    LazyCommand("mcp-servers", "mcp_servers:app", "Remote MCP servers (connected as providers)."),
    LazyCommand("status", "status:status", "Show every connection, its token state and expiry."),
    LazyCommand(
        "serve",
        "serve:serve",
        "Run the gateway (API + Connect page); with nothing configured, on embedded SQLite.",
    ),
    LazyCommand(
        "providers",
        "providers:app",
        "The provider catalogue: list, check (and --probe), import-discovery.",
    ),
    LazyCommand("api-keys", "api_keys:app", "Gateway API keys (stored hashed; shown once)."),
    LazyCommand(
        "connect",
        "connect:connect",
        "Connect a provider for a user: open the authorization link and wait for the callback, "
        "or check and store an API key (for providers that take keys).",
    ),
    LazyCommand(
        "sync",
        "sync:sync_command",
        "Sync a connection's data, showing pages, records and rate-limit waits as they happen.",
    ),
    LazyCommand(
        "webhooks",
        "webhooks:app",
        "Outgoing webhooks: endpoints, their delivery log, replay, secret rotation.",
    ),
    LazyCommand(
        "mcp",
        "mcp:mcp",
        "Serve the MCP tools over stdio for one user (for a local assistant).",
    ),
    LazyCommand(
        "worker",
        "worker:worker",
        "Run sync jobs, periodic syncs and the token keep-alive until SIGINT or SIGTERM.",
    ),
)


def load_command(entry: LazyCommand) -> Any:
    """Import the command's module and build its click command."""
    module_name, attribute = entry.target.split(":")
    module = importlib.import_module(f"{__package__}.{module_name}")
    target = getattr(module, attribute)
    command: Any
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)  # a group, even with one subcommand
    else:
        single = typer.Typer()
        single.command(entry.name)(target)
        command = typer.main.get_command(single)
    command.name = entry.name
    return command


class LazyGroup(TyperGroup):
    """The root group: a placeholder per command for listing, the real one when it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = {entry.name: entry for entry in COMMANDS}
        for entry in COMMANDS:
            self.commands.setdefault(entry.name, TyperCommand(entry.name, help=entry.help))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in self._lazy:
            self.commands[args[0]] = load_command(self._lazy.pop(args[0]))
        return super().resolve_command(ctx, args)
