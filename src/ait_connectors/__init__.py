"""ait-connectors: connect users' SaaS accounts through OAuth 2.0, keep their tokens alive and
safe, and sync their data incrementally into a database.

The public API is re-exported here; everything else is private. The names are imported on first
use (PEP 562), so ``import ait_connectors`` costs nothing until the caller touches a name, and then
only what that name needs: a sync does not load the gateway, the CLI, the jobs or Authlib's OAuth
client unless it uses them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._httpx_cli import defer_httpx_cli

defer_httpx_cli()  # before any module of this package imports httpx

if TYPE_CHECKING:
    from .connections import ConnectionStatus, ConnectLink
    from .connector import BaseConnector, ConnectorAuth
    from .crypto import Cipher, generate_key
    from .errors import (
        AItError,
        AuthorizationRequiredError,
        ConfigurationError,
        ConnectorOAuthError,
        ConnectorOAuthJsonParseError,
        ConnectorOAuthNetworkError,
        ConnectorOAuthRefreshTokenExpiredError,
        ConnectorOAuthRequestError,
        EncryptionError,
        RateLimitError,
        VendorResponseError,
    )
    from .factory import ConnectorServiceFactory
    from .oauth import ConnectorAuthenticator, ConnectorOAuth, OAuthClientConfig, generate_pkce_pair
    from .oauth.tokens import TokenResponse
    from .providers import get_provider, load_catalogue, register_provider
    from .providers.spec import ProviderSpec
    from .registry import register_vendor
    from .runtime import Connectors
    from .settings import Settings, get_settings
    from .storage.db import Database
    from .storage.tokens import OAuthData, TokenStore
    from .vendors.sandbox.local import LocalSandbox, serve_sandbox

__version__ = "0.1.0"

__all__ = [
    "AItError",
    "AuthorizationRequiredError",
    "BaseConnector",
    "Cipher",
    "ConfigurationError",
    "ConnectLink",
    "ConnectionStatus",
    "ConnectorAuth",
    "ConnectorAuthenticator",
    "ConnectorOAuth",
    "ConnectorOAuthError",
    "ConnectorOAuthJsonParseError",
    "ConnectorOAuthNetworkError",
    "ConnectorOAuthRefreshTokenExpiredError",
    "ConnectorOAuthRequestError",
    "ConnectorServiceFactory",
    "Connectors",
    "Database",
    "EncryptionError",
    "LocalSandbox",
    "OAuthClientConfig",
    "OAuthData",
    "ProviderSpec",
    "RateLimitError",
    "Settings",
    "TokenResponse",
    "TokenStore",
    "VendorResponseError",
    "generate_key",
    "generate_pkce_pair",
    "get_provider",
    "get_settings",
    "load_catalogue",
    "register_provider",
    "register_vendor",
    "serve_sandbox",
]

# Where each public name lives, relative to this package.
_EXPORTS = {
    "ConnectLink": ".connections",
    "ConnectionStatus": ".connections",
    "BaseConnector": ".connector",
    "ConnectorAuth": ".connector",
    "Cipher": ".crypto",
    "generate_key": ".crypto",
    "ConnectorServiceFactory": ".factory",
    "ConnectorAuthenticator": ".oauth",
    "ConnectorOAuth": ".oauth",
    "OAuthClientConfig": ".oauth",
    "generate_pkce_pair": ".oauth",
    "TokenResponse": ".oauth.tokens",
    "get_provider": ".providers",
    "load_catalogue": ".providers",
    "register_provider": ".providers",
    "ProviderSpec": ".providers.spec",
    "register_vendor": ".registry",
    "Connectors": ".runtime",
    "Settings": ".settings",
    "get_settings": ".settings",
    "Database": ".storage.db",
    "OAuthData": ".storage.tokens",
    "TokenStore": ".storage.tokens",
    "LocalSandbox": ".vendors.sandbox.local",
    "serve_sandbox": ".vendors.sandbox.local",
    **{name: ".errors" for name in __all__ if name.endswith("Error")},
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ait_connectors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next access does not come here
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
