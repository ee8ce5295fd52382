"""The gateway as the OAuth authorization server of its own MCP endpoint ``/mcp``.

Per the MCP authorization specification: RFC 8414 metadata, authorization code with PKCE,
dynamic client registration (RFC 7591) and client ID metadata documents, resource indicators
(RFC 8707: tokens are bound to ``/mcp``), revocation (RFC 7009). The user signs in and consents
through the Connect page; each token acts for that one user.
"""

from .client_metadata import ClientMetadataError, ClientMetadataFetcher
from .install import MCP_PATH, SCOPES, GatewayTokenVerifier, install_mcp_auth
from .provider import GatewayAuthProvider, UserRefreshToken
from .store import AuthStore

__all__ = [
    "MCP_PATH",
    "SCOPES",
    "AuthStore",
    "ClientMetadataError",
    "ClientMetadataFetcher",
    "GatewayAuthProvider",
    "GatewayTokenVerifier",
    "UserRefreshToken",
    "install_mcp_auth",
]
