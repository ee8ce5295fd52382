"""ait-connectors: connect users' SaaS accounts through OAuth 2.0, keep their tokens alive and
safe, and sync their data incrementally into a database.

The public API is re-exported here; everything else is private.
"""

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

__version__ = "0.1.0"

__all__ = [
    "AItError",
    "AuthorizationRequiredError",
    "BaseConnector",
    "Cipher",
    "ConfigurationError",
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
]
