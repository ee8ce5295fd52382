"""X's OAuth quirk that the catalogue cannot describe.

X refuses a refresh token that is dead (consumed by an earlier refresh: X rotates them, or
revoked) with HTTP 400 ``invalid_request`` "Value passed for the token was invalid." rather
than RFC 6749's ``invalid_grant``. :class:`XAuthenticator` reports that answer as the refused
refresh token it is, so the connection asks for a reconnect (its tokens kept) instead of
failing every run with an OAuth error.
"""

from __future__ import annotations

from typing import Any

from ...vendor import (
    ConnectorAuthenticator,
    ConnectorOAuthRefreshTokenExpiredError,
    ConnectorOAuthRequestError,
)

__all__ = ["XAuthenticator"]

_DEAD_TOKEN = "value passed for the token was invalid"


class XAuthenticator(ConnectorAuthenticator):
    """A refresh refused as ``invalid_request`` for an invalid token needs a reconnect."""

    async def refresh_token(self, refresh_token: str) -> Any:  # a TokenResponse
        try:
            return await super().refresh_token(refresh_token)
        except ConnectorOAuthRefreshTokenExpiredError:
            raise
        except ConnectorOAuthRequestError as exc:
            described = (exc.error_description or "").lower()
            if (
                exc.status_code == 400
                and exc.error == "invalid_request"
                and _DEAD_TOKEN in described
            ):
                raise ConnectorOAuthRefreshTokenExpiredError(
                    exc.status_code,
                    exc.response_body,
                    exc.message,
                    error=exc.error,
                    error_description=exc.error_description,
                ) from exc
            raise
