"""Google's OAuth: granted scopes, incremental consent, and what a refused refresh means.

- **Incremental consent.** The catalogue asks with ``access_type=offline`` (a refresh token),
  ``include_granted_scopes=true`` (the new token also covers every scope granted before) and
  ``prompt=consent`` (Google returns a refresh token only on a consent; a repeat authorization
  without it returns none). So a connection made for Calendar and later reconnected with the
  Contacts scope holds both; the token response's ``scope`` (what the user actually granted,
  which may be less than asked) is stored with the connection and checked before each sync.
- **Refresh.** Google's refresh response has no ``refresh_token``: the stored one is kept (the
  token store does that for every provider). A refused refresh (``invalid_grant``) marks the
  connection ``needs_reauth``; its reason names the causes Google lists, the 7-day expiry of an
  app in "Testing" publishing status first.
- **Revocation**: the catalogue's ``revoke`` table posts the token in a form body to
  ``https://oauth2.googleapis.com/revoke`` (never in the query string, which gets logged).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ait_connectors.vendor import (
    AuthorizationRequiredError,
    ConnectorAuthenticator,
    ConnectorOAuthRefreshTokenExpiredError,
)

__all__ = [
    "TESTING_MODE_HINT",
    "GoogleAuthenticator",
    "missing_scope_error",
    "scope_granted",
    "scopes_for",
]

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
TESTING_MODE_HINT = (
    "Google ended this grant (expired or revoked). If the app's OAuth consent screen is in "
    "'Testing' publishing status, Google expires its refresh tokens 7 days after consent: "
    "publish the app (In production), then reconnect. Other causes: the user revoked access, "
    "6 months unused, a password change (Gmail scopes), too many tokens for this client"
)


def _short(scope: str) -> str:
    return scope.removeprefix(SCOPE_PREFIX)


def scope_granted(needed: str, granted: str) -> bool:
    """Whether the space-separated ``granted`` covers ``needed`` (a ``….readonly`` scope is
    covered by its full-access scope too)."""
    have = {_short(s) for s in granted.split()}
    want = _short(needed)
    return want in have or want.removesuffix(".readonly") in have


def missing_scope_error(entity_type: str, scope: str) -> AuthorizationRequiredError:
    return AuthorizationRequiredError(
        f"google: syncing {entity_type} needs scope {scope}: reconnect to grant it",
        reason="google_scope_missing",
        metadata={"scope": scope, "entity_type": entity_type},
    )


def scopes_for(
    entity_types: Iterable[str], required: Iterable[Mapping[str, str]], *, base: Iterable[str] = ()
) -> list[str]:
    """The scopes to ask for to sync ``entity_types`` (for a config's scope override)."""
    table = {name: scope for mapping in required for name, scope in mapping.items()}
    found = dict.fromkeys(base)
    for name in entity_types:
        if name not in table:
            raise KeyError(f"google has no entity type {name!r}; known: {', '.join(table)}")
        found[table[name]] = None
    return list(found)


class GoogleAuthenticator(ConnectorAuthenticator):
    """The catalogue's OAuth, with a refused refresh explained (see the module docstring)."""

    async def refresh_token(self, refresh_token: str) -> Any:
        try:
            return await super().refresh_token(refresh_token)
        except ConnectorOAuthRefreshTokenExpiredError as exc:
            said = exc.error_description or "Token has been expired or revoked."
            raise ConnectorOAuthRefreshTokenExpiredError(
                exc.status_code,
                exc.response_body,
                error=f"{exc.error or 'invalid_grant'} ({said}) — {TESTING_MODE_HINT}",
            ) from None
