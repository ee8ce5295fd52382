"""Who an MCP session acts for: the access token the MCP SDK's auth middleware hands the tools."""

from __future__ import annotations

from mcp.server.auth.provider import AccessToken
from pydantic import Field

__all__ = ["UserAccessToken"]


class UserAccessToken(AccessToken):
    """An MCP access token bound to one user of the application.

    Every token check the server accepts (tokens issued by the gateway's own authorization
    server, API keys opening a session for a named user) returns this; the tools read
    ``user_id`` from it and from nowhere else, so one user's session never reaches another's
    records. The token itself is left out of ``repr`` (and so out of logs and tracebacks).
    """

    token: str = Field(repr=False)
    user_id: str
