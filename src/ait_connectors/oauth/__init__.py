"""OAuth 2.0: the provider client, the authenticator base, PKCE and the token model.

The names are imported on first use: the storage layer needs the token and config models, not
the HTTP client (and Authlib) behind them, and a CLI command that only reads the database should
not pay for importing it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ait_connectors.oauth.authenticator import ConnectorAuthenticator
    from ait_connectors.oauth.client import REFRESH_TOKEN_REJECTED_ERRORS, ConnectorOAuth
    from ait_connectors.oauth.config import OAuthClientConfig, ResolvedOAuthConfig
    from ait_connectors.oauth.pkce import PkcePair, generate_pkce_pair
    from ait_connectors.oauth.tokens import TokenResponse

_WHERE = {
    "ConnectorAuthenticator": "authenticator",
    "REFRESH_TOKEN_REJECTED_ERRORS": "client",
    "ConnectorOAuth": "client",
    "OAuthClientConfig": "config",
    "ResolvedOAuthConfig": "config",
    "PkcePair": "pkce",
    "generate_pkce_pair": "pkce",
    "TokenResponse": "tokens",
}

__all__ = [
    "REFRESH_TOKEN_REJECTED_ERRORS",
    "ConnectorAuthenticator",
    "ConnectorOAuth",
    "OAuthClientConfig",
    "PkcePair",
    "ResolvedOAuthConfig",
    "TokenResponse",
    "generate_pkce_pair",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
