"""X (Twitter): the user's own posts, liked posts, bookmarks and followed accounts (catalogue
entry ``x``).

OAuth is the catalogue's flow: authorization code with PKCE (required by X), HTTP Basic client
authentication, 2-hour access tokens and a refresh token only with ``offline.access``; each
refresh returns a new refresh token, which the core stores before using the new access token.
Disconnecting revokes both tokens at ``POST /2/oauth2/revoke``. :class:`XAuthenticator`
reads X's answer to a dead refresh token (``invalid_request``) as the refusal it is.
"""

from __future__ import annotations

from ...vendor import VendorRegistration
from .auth import XAuthenticator
from .service import ConnectorXService

__all__ = ["VENDOR", "ConnectorXService", "XAuthenticator"]

VENDOR = VendorRegistration(
    "x",
    ConnectorXService,
    authenticator_cls=XAuthenticator,
    description="Your posts on X, the posts you liked and bookmarked, and the accounts you follow.",
)
