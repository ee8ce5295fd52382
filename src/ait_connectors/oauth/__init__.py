"""OAuth 2.0: the provider client, the authenticator base, PKCE and the token model."""

from ait_connectors.oauth.authenticator import ConnectorAuthenticator
from ait_connectors.oauth.client import REFRESH_TOKEN_REJECTED_ERRORS, ConnectorOAuth
from ait_connectors.oauth.config import OAuthClientConfig, ResolvedOAuthConfig
from ait_connectors.oauth.pkce import PkcePair, generate_pkce_pair
from ait_connectors.oauth.tokens import TokenResponse

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
