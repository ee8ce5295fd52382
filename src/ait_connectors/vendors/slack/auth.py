"""Slack's OAuth quirks that the catalogue cannot describe.

- :func:`install_token_refusals`: Slack refuses a dead token with HTTP 200 ``{"ok": false,
  "error": "token_expired"}`` (or ``invalid_auth``, ``token_revoked``…), never 401, so the
  connection's "401: refresh once and retry" flow would never fire: the SDK's
  :class:`UnauthorizedWhen` shows the flow such an answer as the 401 it means; the data source
  still sees Slack's real answer.
- :class:`SlackAuthenticator`: ``auth.revoke`` takes an access token as its bearer credential;
  a refresh token (token rotation) is not one, and revoking the access token ends the
  authorization anyway, so only the access token is sent.
"""

from __future__ import annotations

import json

import httpx

from ait_connectors.vendor import ConnectorAuthenticator, UnauthorizedWhen

from .errors import AUTH_ERRORS

__all__ = ["SlackAuthenticator", "install_token_refusals"]

# An auth error body is a few dozen bytes; a page is never read here.
_MAX_ERROR_BODY = 4096


def _refused_token(response: httpx.Response) -> bool:
    if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
        return False
    declared = response.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > _MAX_ERROR_BODY:
        return False  # a streamed or large body is data, not a token error
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("ok") is False and body.get("error") in AUTH_ERRORS


class SlackAuthenticator(ConnectorAuthenticator):
    """Revokes the access token only (see the module docstring)."""

    async def revoke(self, token: str, *, token_type_hint: str = "access_token") -> None:  # noqa: S107
        if token_type_hint == "refresh_token":
            return
        await super().revoke(token, token_type_hint=token_type_hint)


def install_token_refusals(client: httpx.AsyncClient) -> None:
    """Make the client's auth flow take Slack's HTTP-200 token errors for the 401 they mean."""
    UnauthorizedWhen.install(client, _refused_token, statuses={200}, max_body=_MAX_ERROR_BODY)
