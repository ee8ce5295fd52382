"""``mcp_session``: an MCP client session with a remote MCP server, as the connected user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from mcp import ClientSession

    from ..connector import BaseConnector

__all__ = ["mcp_session"]

# MCP's recommended client timeouts: a tool call may stream for minutes.
_TIMEOUT = httpx.Timeout(30.0, read=300.0)


@asynccontextmanager
async def mcp_session(connector: BaseConnector) -> AsyncIterator[ClientSession]:
    """An initialised SDK ``ClientSession`` over Streamable HTTP, authorised as the user.

    Its HTTP client is the connection's own (:meth:`BaseConnector.http_client`): the user's
    token, refreshed when expired, and after a 401 refreshed once and the request retried once.
    """
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    url = connector.vendor_options.get("mcp_server")
    if not url:
        raise ConfigurationError(
            f"{connector.provider.name} is not a remote MCP server (add one with "
            "add_mcp_server or `ait-connectors mcp-servers add URL`).",
            {"provider": connector.provider.slug},
        )
    async with (
        connector.http_client(timeout=_TIMEOUT) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session
