"""``ait-connectors mcp --user USER``: the gateway's MCP server over stdio, for one user.

A local assistant (Claude Desktop, an IDE) spawns the command and speaks MCP on its stdin and
stdout; the tools read the configured database as that user, and a sync it starts runs in this
process (as ``ait-connectors sync`` does). Logs go to stderr: stdout is the protocol's.
"""

from __future__ import annotations

import asyncio

import typer

from ..runtime import Connectors
from ..sync.runs import SyncRuns

USER_HELP = "The user whose records the assistant reads (the user_id you connected them as)."


def mcp(user: str = typer.Option(..., "--user", "-u", help=USER_HELP)) -> None:
    """Serve the MCP tools over stdio for one user (for a local assistant)."""
    user = user.strip()
    if not user or len(user) > 200 or not user.isprintable():
        raise typer.BadParameter(
            "give a user id of 1 to 200 printable characters", param_hint="--user"
        )
    asyncio.run(_serve(user))


async def _serve(user: str) -> None:
    from ..mcp_server.server import build_server, fixed_user

    connectors = await Connectors.open()
    runs = SyncRuns(connectors)  # syncs run in this process, whatever AIT_JOBS says
    try:
        await build_server(connectors, runs, user_of=fixed_user(user)).run_stdio_async()
    finally:
        await runs.shutdown()
        await connectors.close()
