"""Remote MCP servers as providers: discovery, client registration, and sessions as the user."""

from .discovery import McpDiscoveryError
from .registration import McpRegistrationRequiredError
from .servers import (
    add_mcp_server,
    ensure_mcp_provider,
    load_mcp_provider,
    mcp_provider_spec,
    mcp_server_url,
)
from .session import mcp_session

__all__ = [
    "McpDiscoveryError",
    "McpRegistrationRequiredError",
    "add_mcp_server",
    "ensure_mcp_provider",
    "load_mcp_provider",
    "mcp_provider_spec",
    "mcp_server_url",
    "mcp_session",
]
