"""The gateway's OAuth authorization server for ``/mcp``, as the MCP SDK's provider protocol.

The SDK's handlers (``create_auth_routes``) parse the requests, check PKCE, redirect URIs and
client secrets; this provider decides everything else:

- ``authorize`` checks the resource indicator (only the gateway's ``/mcp`` URL; others are
  sent back as ``invalid_target``), stores the request and sends the browser to the consent
  page, which turns it into a code bound to the signed-in user (:meth:`approve`);
- codes and tokens are random, stored as SHA-256 digests, and expire; a code is exchanged once
  (a replay revokes what it issued), a refresh token rotates (a replay of a rotated one revokes
  the whole grant);
- access tokens are bound to the resource and to one user (:class:`UserAccessToken`).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from mcp.server.auth.provider import (
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl, Field

from ...mcp_server.principal import UserAccessToken
from .client_metadata import ClientMetadataError, ClientMetadataFetcher, is_metadata_url
from .store import Authorization, AuthStore, StoredToken, at, digest

__all__ = [
    "ACCESS_PREFIX",
    "CODE_PREFIX",
    "REFRESH_PREFIX",
    "GatewayAuthProvider",
    "UserRefreshToken",
    "canonical",
]

ACCESS_PREFIX = "mcpa_"
REFRESH_PREFIX = "mcpr_"
CODE_PREFIX = "mcpc_"
CODE_SECONDS = 300
REQUEST_SECONDS = 600  # from /authorize to the consent page's answer
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


class UserRefreshToken(RefreshToken):
    """A refresh token with the grant it belongs to; the token itself never in ``repr``."""

    token: str = Field(repr=False)
    family_id: str
    user_id: str


def canonical(url: str) -> str:
    """A resource URL as compared: without a trailing slash (``/mcp`` and ``/mcp/`` are one)."""
    return url.rstrip("/")


def _claims(found: StoredToken) -> dict[str, Any]:
    """What an access or refresh token object says about its grant (the token aside)."""
    return {
        "client_id": found.client_id,
        "scopes": found.scopes,
        "expires_at": int(found.expires_at.timestamp()),
        "resource": found.resource,
        "subject": found.user_id,
        "user_id": found.user_id,
    }


class GatewayAuthProvider:
    """Implements ``OAuthAuthorizationServerProvider`` on the ``mcp_*`` tables."""

    def __init__(
        self,
        store: Callable[[], AuthStore],
        *,
        resource_url: str,
        consent_url: str,
        metadata: ClientMetadataFetcher | None,
        access_seconds: int = 3600,
        refresh_seconds: int = 30 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.resource_url = canonical(resource_url)
        self.consent_url = consent_url
        self.metadata = metadata
        self.access_seconds = access_seconds
        self.refresh_seconds = refresh_seconds
        self.clock = clock

    def __repr__(self) -> str:
        return f"GatewayAuthProvider(resource_url={self.resource_url!r})"

    @property
    def store(self) -> AuthStore:
        return self._store()

    # -- clients ---------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        if is_metadata_url(client_id):
            if self.metadata is None:
                return None
            try:
                return await self.metadata.client(client_id)
            except ClientMetadataError:
                return None  # the handlers answer "client not found"; fetch_client says why
        if len(client_id) > 64:
            return None
        found = await self.store.client(client_id)
        if found is None:
            return None
        info, secret = found
        return OAuthClientInformationFull.model_validate({**info, "client_secret": secret})

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        if client_info.client_id is None:  # pragma: no cover - the SDK always sets one
            raise RegistrationError("invalid_client_metadata", "no client_id")
        for uri in client_info.redirect_uris or ():
            # The MCP specification: https, or http only back to this machine (a native app's
            # loopback listener); private-use schemes in reverse-domain form for native apps.
            loopback = uri.scheme == "http" and uri.host in _LOOPBACK
            if uri.scheme != "https" and not loopback and "." not in uri.scheme:
                raise RegistrationError(
                    "invalid_redirect_uri",
                    f"Redirect URI {str(uri)!r} is not allowed: use https, http on localhost "
                    "or 127.0.0.1, or a reverse-domain private scheme (com.example.app:/cb).",
                )
        info = client_info.model_dump(mode="json", exclude={"client_secret"}, exclude_none=True)
        await self.store.save_client(client_info.client_id, info, client_info.client_secret)

    # -- authorization ---------------------------------------------------------------------

    async def authorize(
        self, client: OAuthClientInformationFull, params: AuthorizationParams
    ) -> str:
        resource = canonical(params.resource) if params.resource else self.resource_url
        if resource != self.resource_url:
            # RFC 8707 invalid_target, which the SDK's error model does not list: redirected here.
            return construct_redirect_uri(
                str(params.redirect_uri),
                error="invalid_target",
                error_description=f"This server issues tokens only for {self.resource_url}.",
                state=params.state,
            )
        # No scope asked for: the ones the client registered (RFC 6749 §3.3 lets us choose).
        scopes = params.scopes or (client.scope.split() if client.scope else [])
        if not scopes:
            raise AuthorizeError("invalid_scope", "No scope was requested or registered.")
        assert client.client_id is not None
        request_id = secrets.token_urlsafe(24)
        now = self.clock()
        await self.store.add_authorization(
            Authorization(
                id=request_id,
                client_id=client.client_id,
                scopes=scopes,
                resource=resource,
                code_challenge=params.code_challenge,
                redirect_uri=str(params.redirect_uri),
                redirect_uri_explicit=params.redirect_uri_provided_explicitly,
                state=params.state,
                user_id=None,
                family_id=str(uuid.uuid4()),
                expires_at=at(now + REQUEST_SECONDS),
                used_at=None,
            ),
            at(now),
        )
        return f"{self.consent_url}?request={request_id}"

    async def pending(self, request_id: str) -> Authorization | None:
        """The authorization request waiting for consent, if it is still valid."""
        if len(request_id) > 64:
            return None
        found = await self.store.authorization(request_id)
        if found is None or found.user_id is not None or found.expires_at <= at(self.clock()):
            return None
        return found

    async def approve(self, request: Authorization, user_id: str) -> str | None:
        """The user allowed it: the client's redirect with a code bound to ``user_id``
        (``None`` if the request was answered meanwhile)."""
        code = CODE_PREFIX + secrets.token_urlsafe(32)
        expires = at(self.clock() + CODE_SECONDS)
        if not await self.store.approve(request.id, user_id, digest(code), expires):
            return None
        return construct_redirect_uri(request.redirect_uri, code=code, state=request.state)

    async def deny(self, request: Authorization) -> str:
        await self.store.forget_authorization(request.id)
        return construct_redirect_uri(
            request.redirect_uri,
            error="access_denied",
            error_description="The user did not allow access.",
            state=request.state,
        )

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        if not authorization_code.startswith(CODE_PREFIX) or len(authorization_code) > 100:
            return None
        found = await self.store.code(digest(authorization_code))
        if found is None or found.client_id != client.client_id or found.user_id is None:
            return None
        # A used code is still returned: exchanging it again is a replay, handled there.
        return AuthorizationCode(
            code=authorization_code,
            scopes=found.scopes,
            expires_at=found.expires_at.timestamp(),
            client_id=found.client_id,
            code_challenge=found.code_challenge,
            redirect_uri=AnyUrl(found.redirect_uri),
            redirect_uri_provided_explicitly=found.redirect_uri_explicit,
            resource=found.resource,
            subject=found.user_id,
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        code_hash = digest(authorization_code.code)
        found = await self.store.code(code_hash)
        now = self.clock()
        if found is None or found.user_id is None or found.expires_at <= at(now):
            raise TokenError("invalid_grant", "The authorization code has expired.")
        if not await self.store.use_code(code_hash, at(now)):
            # RFC 6749 §4.1.2: a code used twice revokes the tokens it was exchanged for.
            await self.store.revoke_family(found.family_id, at(now))
            raise TokenError(
                "invalid_grant",
                "The authorization code was already used; the tokens issued for it are revoked.",
            )
        return await self._issue(found.family_id, found.client_id, found.user_id, found.scopes)

    # -- tokens ----------------------------------------------------------------------------

    async def _issue(
        self, family_id: str, client_id: str, user_id: str, scopes: list[str]
    ) -> OAuthToken:
        access = ACCESS_PREFIX + secrets.token_urlsafe(32)
        refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        common: dict[str, Any] = {
            "family_id": family_id,
            "client_id": client_id,
            "user_id": user_id,
            "scopes": scopes,
            "resource": self.resource_url,
        }
        await self.store.add_tokens(
            [
                {
                    **common,
                    "token_hash": digest(access),
                    "kind": "access",
                    "expires_at": at(now + self.access_seconds),
                },
                {
                    **common,
                    "token_hash": digest(refresh),
                    "kind": "refresh",
                    "expires_at": at(now + self.refresh_seconds),
                },
            ],
            at(now),
        )
        return OAuthToken(
            access_token=access,
            expires_in=self.access_seconds,
            scope=" ".join(scopes),
            refresh_token=refresh,
        )

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> UserRefreshToken | None:
        if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 100:
            return None
        found = await self.store.token(digest(refresh_token), "refresh")
        if found is None or found.client_id != client.client_id:
            return None
        if found.expires_at <= at(self.clock()):
            return None
        return UserRefreshToken(token=refresh_token, family_id=found.family_id, **_claims(found))

    async def exchange_refresh_token(
        self,
        client: OAuthClientInformationFull,
        refresh_token: UserRefreshToken,
        scopes: list[str],
    ) -> OAuthToken:
        now = at(self.clock())
        if not await self.store.use_refresh(digest(refresh_token.token), now):
            # A rotated refresh token came back: someone holds a copy. End the whole grant.
            await self.store.revoke_family(refresh_token.family_id, now)
            raise TokenError(
                "invalid_grant",
                "The refresh token was already used; this grant is revoked. Sign in again.",
            )
        return await self._issue(
            refresh_token.family_id, refresh_token.client_id, refresh_token.user_id, scopes
        )

    async def load_access_token(self, token: str) -> UserAccessToken | None:
        if not token.startswith(ACCESS_PREFIX) or len(token) > 100:
            return None
        found = await self.store.token(digest(token), "access")
        if found is None or found.expires_at <= at(self.clock()):
            return None
        return UserAccessToken(token=token, **_claims(found))

    async def revoke_token(self, token: UserAccessToken | UserRefreshToken) -> None:
        hashed = digest(token.token)
        kind = "refresh" if isinstance(token, RefreshToken) else "access"
        found = await self.store.token(hashed, kind)
        if found is not None:  # RFC 7009: revoking either ends the grant's tokens
            await self.store.revoke_family(found.family_id, at(self.clock()))
