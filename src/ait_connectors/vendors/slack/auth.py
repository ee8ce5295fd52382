"""Slack's OAuth quirks that the catalogue cannot describe.

- :class:`SlackTokenAuth`: Slack refuses a dead token with HTTP 200 ``{"ok": false, "error":
  "token_expired"}`` (or ``invalid_auth``, ``token_revoked``…), never 401, so the connection's
  "401: refresh once and retry" flow would never fire. This wrapper shows the connection's
  flow such an answer as the 401 it means; the data source still sees Slack's real answer.
- :class:`SlackAuthenticator`: ``auth.revoke`` takes an access token as its bearer credential;
  a refresh token (token rotation) is not one, and revoking the access token ends the
  authorization anyway, so only the access token is sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Generator

import httpx

from ait_connectors.vendor import ConnectorAuthenticator

from .errors import AUTH_ERRORS

__all__ = ["SlackAuthenticator", "SlackTokenAuth"]

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


class SlackTokenAuth(httpx.Auth):
    """Wraps the connection's auth flow; a Slack token error reaches it as a 401."""

    def __init__(self, inner: httpx.Auth) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return f"SlackTokenAuth({self.inner!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("SlackTokenAuth needs an httpx.AsyncClient")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self.inner.async_auth_flow(request)
        outgoing = await flow.__anext__()
        while True:
            response = yield outgoing
            shown = response
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) <= _MAX_ERROR_BODY:
                await response.aread()
                if _refused_token(response):
                    shown = httpx.Response(401, request=response.request)
            try:
                outgoing = await flow.asend(shown)
            except StopAsyncIteration:
                return


class SlackAuthenticator(ConnectorAuthenticator):
    """Revokes the access token only (see the module docstring)."""

    async def revoke(self, token: str, *, token_type_hint: str = "access_token") -> None:  # noqa: S107
        if token_type_hint == "refresh_token":
            return
        await super().revoke(token, token_type_hint=token_type_hint)
