"""Client ID metadata documents: a ``client_id`` that is an https URL of the client's metadata.

The MCP authorization specification (2025-11-25) prefers them to dynamic registration: the
client publishes a JSON document at a URL it controls and uses the URL as its ``client_id``.
The gateway fetches it with the outgoing webhooks' target checks (public addresses only, the
connection pinned to the checked address, no redirects, a size cap and a timeout), requires
the document to name itself (``client_id`` equal to the URL) and to list ``redirect_uris``,
and treats the client as public (``token_endpoint_auth_method`` ``none``; PKCE protects it).
Answers are remembered for a few minutes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import ValidationError

from ...outgoing.targets import Resolver, TargetRefusedError, resolve_target, system_resolver
from ...storage.recent import Recent

__all__ = ["ClientMetadataError", "ClientMetadataFetcher", "is_metadata_url"]

MAX_DOCUMENT_BYTES = 5 * 1024
CACHE_SECONDS = 300.0


class ClientMetadataError(Exception):
    """The document cannot be used; the message says why (safe to show to the user)."""


def is_metadata_url(client_id: str) -> bool:
    """Whether ``client_id`` has the form of a metadata document URL (not a registered id)."""
    return client_id.startswith(("https://", "http://"))


class ClientMetadataFetcher:
    """Fetches and validates client ID metadata documents.

    ``allow_private`` and ``allow_http`` exist for tests on loopback; a deployment leaves them
    off, so a ``client_id`` can make the gateway fetch only a public https URL.
    """

    def __init__(
        self,
        *,
        default_scope: str,
        timeout: float = 5.0,
        allow_private: bool = False,
        allow_http: bool = False,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default_scope = default_scope
        self.timeout = timeout
        self.allow_private = allow_private
        self.allow_http = allow_http
        self.resolver = resolver
        self._cache: Recent[str, OAuthClientInformationFull] = Recent(CACHE_SECONDS, clock=clock)

    def __repr__(self) -> str:
        return f"ClientMetadataFetcher(allow_private={self.allow_private})"

    async def client(self, url: str) -> OAuthClientInformationFull:
        """The client the document at ``url`` describes; :class:`ClientMetadataError` if none."""
        found = await self._cache.get(url, lambda: self._fetch(url))
        assert found is not None  # _fetch raises rather than answer None
        return found

    async def _fetch(self, url: str) -> OAuthClientInformationFull:
        self._check_form(url)
        try:
            target = await resolve_target(
                url, allow_private=self.allow_private, resolver=self.resolver
            )
        except TargetRefusedError as exc:
            raise ClientMetadataError(exc.message.replace("webhook", "client metadata")) from None
        extensions = {"sni_hostname": target.server_name} if target.server_name else {}
        headers = {"host": target.host_header, "accept": "application/json"}
        async with httpx.AsyncClient(
            timeout=self.timeout, follow_redirects=False, trust_env=False
        ) as http:
            try:
                async with http.stream(
                    "GET", target.url, headers=headers, extensions=extensions
                ) as response:
                    body = await _read_capped(response)
            except httpx.HTTPError as exc:
                raise ClientMetadataError(
                    f"The client metadata document could not be fetched ({type(exc).__name__})."
                ) from None
        if response.status_code != 200:
            raise ClientMetadataError(
                f"The client metadata document answered HTTP {response.status_code}, not 200."
            )
        return self._validate(url, body)

    def _check_form(self, url: str) -> None:
        parts = urlsplit(url)
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            raise ClientMetadataError("A client_id URL must be an https:// URL.")
        if parts.path in ("", "/") or parts.fragment or parts.username or parts.password:
            raise ClientMetadataError(
                "A client_id URL must have a path, and no fragment or credentials."
            )

    def _validate(self, url: str, body: bytes) -> OAuthClientInformationFull:
        try:
            document: Any = json.loads(body)
        except ValueError:
            raise ClientMetadataError("The client metadata document is not JSON.") from None
        if not isinstance(document, dict):
            raise ClientMetadataError("The client metadata document is not a JSON object.")
        if document.get("client_id") != url:
            raise ClientMetadataError(
                "The client metadata document's client_id is not the URL it was fetched from."
            )
        if "client_secret" in document or document.get("token_endpoint_auth_method", "none") != (
            "none"
        ):
            raise ClientMetadataError(
                "A client metadata document describes a public client: "
                'token_endpoint_auth_method must be "none", and no client_secret.'
            )
        uris = document.get("redirect_uris")
        if not isinstance(uris, list) or not uris:
            raise ClientMetadataError("The client metadata document must list its redirect_uris.")
        document.setdefault("scope", self.default_scope)
        document["token_endpoint_auth_method"] = "none"
        try:
            return OAuthClientInformationFull.model_validate(document)
        except ValidationError as exc:
            fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
            raise ClientMetadataError(
                f"The client metadata document is not valid client metadata ({fields})."
            ) from None


async def _read_capped(response: httpx.Response) -> bytes:
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ClientMetadataError(
                f"The client metadata document is larger than {MAX_DOCUMENT_BYTES} bytes."
            )
    return body
