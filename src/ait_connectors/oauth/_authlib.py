"""Authlib, imported only when an OAuth request is built (a sync with a valid token never is).

Authlib's ``AsyncOAuth2Client`` builds the authorization URL, token and refresh bodies, client
authentication and PKCE parameters for :class:`~ait_connectors.oauth.client.ConnectorOAuth`;
this module adds what Authlib cannot express (HTTP Basic + JSON body at the token endpoint) and
routes its requests through the client ``ConnectorOAuth`` uses.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
from authlib.oauth2.auth import encode_client_secret_basic

with warnings.catch_warnings():
    # Authlib >= 1.7 nudges towards the "httpx2" fork; this project is built on httpx (DESIGN.md),
    # which Authlib still supports, so the warning is noise for our users.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2ClientAuth

if not issubclass(OAuth2ClientAuth, httpx.Auth):  # pragma: no cover - environment check
    # With the "httpx2" package installed, Authlib switches to it and its auth objects no longer
    # fit our httpx clients: fail at import with the fix rather than on the first request.
    raise ImportError(
        "Authlib is bound to the 'httpx2' package, but ait-connectors uses httpx: "
        "uninstall httpx2 (or pin Authlib to a release that uses httpx)"
    )

__all__ = ["JSON_BASIC_AUTH", "authlib_client"]

#: The client-auth method name Authlib knows Notion's HTTP Basic + JSON body by.
JSON_BASIC_AUTH = "client_secret_basic_json"


def _encode_client_secret_basic_json(
    client: Any, method: str, uri: str, headers: Any, body: bytes | str | None
) -> tuple[str, Any, str]:
    """HTTP Basic credentials and the grant parameters as a JSON object (Notion does this)."""
    uri, headers, body = encode_client_secret_basic(client, method, uri, headers, body)
    raw = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
    headers["Content-Type"] = "application/json"
    return uri, headers, json.dumps(dict(parse_qsl(raw, keep_blank_values=True)))


class _AuthlibClient(AsyncOAuth2Client):  # type: ignore[misc]  # Authlib is untyped
    """Authlib's client, with all HTTP sent through the httpx client ``ConnectorOAuth`` uses.

    ``AsyncOAuth2Client`` *is* an ``httpx.AsyncClient``; routing its requests through the given
    client lets callers inject their own (connection pool, proxies, respx in tests).
    """

    def __init__(self, http: httpx.AsyncClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._http = http

    async def request(
        self,
        method: str,
        url: Any,
        withhold_token: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        **kwargs: Any,
    ) -> httpx.Response:
        # Authlib always passes its client-auth object here; there is no session token to add.
        return await self._http.request(method, url, auth=auth, **kwargs)


def authlib_client(
    http: httpx.AsyncClient,
    *,
    on_exchange: Callable[[httpx.Response], httpx.Response],
    on_refresh: Callable[[httpx.Response], httpx.Response],
    **kwargs: Any,
) -> Any:
    """Authlib's client on ``http``, with the JSON-body client auth and our response hooks."""
    client = _AuthlibClient(http, code_challenge_method="S256", **kwargs)
    client.register_client_auth_method((JSON_BASIC_AUTH, _encode_client_secret_basic_json))
    client.register_compliance_hook("access_token_response", on_exchange)
    client.register_compliance_hook("refresh_token_response", on_refresh)
    return client
