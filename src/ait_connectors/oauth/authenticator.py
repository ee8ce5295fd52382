"""``ConnectorAuthenticator``: the authentication step of a connector, over ``ConnectorOAuth``.

Every quirk the catalogue can describe (client auth, token path, error bodies, revocation style)
is handled by :class:`ConnectorOAuth`, so most vendors use this class as is. A vendor subclasses
it only for OAuth that no catalogue field can express, overriding :meth:`authenticate`,
:meth:`refresh_token` or :meth:`revoke`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self

import httpx

from ait_connectors.oauth.client import ConnectorOAuth
from ait_connectors.oauth.config import OAuthClientConfig
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.providers.spec import ProviderSpec

__all__ = ["ConnectorAuthenticator"]


class ConnectorAuthenticator:
    """Turns an authorization code or a refresh token into a :class:`TokenResponse`.

    Class attributes a vendor may set: ``refresh_on_unauthorized`` (false when API calls do not
    carry the OAuth token, so a 401 is not cured by a refresh) and ``refused_reason`` (what the
    connection's status then says).
    """

    refresh_on_unauthorized: ClassVar[bool] = True
    refused_reason: ClassVar[str] = "the API refused the connection's credentials"

    def __init__(self, oauth: ConnectorOAuth) -> None:
        self._oauth = oauth

    @classmethod
    def from_config(
        cls,
        spec: ProviderSpec,
        config: OAuthClientConfig,
        *,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> Self:
        """Build the authenticator and its :class:`ConnectorOAuth` in one go."""
        return cls(ConnectorOAuth(spec, config, timeout=timeout, http_client=http_client))

    @property
    def oauth(self) -> ConnectorOAuth:
        """The underlying OAuth client."""
        return self._oauth

    @property
    def spec(self) -> ProviderSpec:
        """The provider facts."""
        return self._oauth.spec

    def authorization_url(
        self,
        state: str,
        *,
        code_challenge: str | None = None,
        extra_params: dict[str, str] | None = None,
    ) -> str:
        """The URL to send the user to (see :meth:`ConnectorOAuth.authorization_url`)."""
        return self._oauth.authorization_url(
            state, code_challenge=code_challenge, extra_params=extra_params
        )

    async def authenticate(self, code: str, code_verifier: str | None = None) -> TokenResponse:
        """Exchange the authorization code (and PKCE verifier) for the user's tokens."""
        return await self._oauth.get_access_token(code, code_verifier)

    async def refresh_token(self, refresh_token: str) -> TokenResponse:
        """A new token set from ``refresh_token``; a dead one raises
        :class:`~ait_connectors.errors.ConnectorOAuthRefreshTokenExpiredError`."""
        return await self._oauth.refresh_access_token(refresh_token)

    async def revoke(
        self,
        token: str,
        *,
        token_type_hint: str = "access_token",  # noqa: S107 (a hint name, not a secret)
    ) -> None:
        """Revoke ``token`` at the provider (a no-op when it has no revocation endpoint)."""
        await self._oauth.revoke(token, token_type_hint=token_type_hint)

    def request_headers(self, access_token: str, metadata: Mapping[str, Any]) -> dict[str, str]:
        """The headers that authenticate an API call of an OAuth connection (a bearer token)."""
        return {"Authorization": f"Bearer {access_token}"}

    def api_key_metadata(self, key: str, checked: Any) -> dict[str, Any]:
        """Non-secret facts to keep with a pasted API key (``checked``: the check's JSON)."""
        return {}

    async def revoke_connection(
        self, tokens: Mapping[str, str | None], metadata: Mapping[str, Any]
    ) -> None:
        """End the authorization at the provider on disconnect: by default revoke the tokens the
        catalogue names (``revoke.tokens``), in order."""
        await revoke_tokens(self, self.spec, tokens)

    async def aclose(self) -> None:
        """Close the underlying OAuth client."""
        await self._oauth.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _Revoker(Protocol):
    async def revoke(self, token: str, *, token_type_hint: str = ...) -> None: ...


async def revoke_tokens(
    authenticator: _Revoker, spec: ProviderSpec, tokens: Mapping[str, str | None]
) -> None:
    """Revoke the held tokens the catalogue names (``revoke.tokens``), in order; with
    ``revoke.first_held_only`` only the first one held (revoking it ends the others)."""
    for kind in spec.revoke.tokens:
        secret = tokens.get(kind)
        if secret is not None:
            await authenticator.revoke(secret, token_type_hint=kind)
            if spec.revoke.first_held_only:
                return
