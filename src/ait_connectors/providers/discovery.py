"""``providers import-discovery``: an RFC 8414 / OpenID Connect discovery document turned into
a catalogue entry draft (TOML text to review, then paste into ``catalogue/<category>.toml``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx

from ait_connectors.errors import ConfigurationError

__all__ = ["draft_entry", "fetch_discovery"]

# Asked for by default when the server supports them (login, profile, a refresh token).
_SUGGESTED_SCOPES = ("openid", "profile", "email", "offline_access")


async def fetch_discovery(url: str, *, timeout: float = 15.0) -> dict[str, Any]:
    """The discovery document at ``url`` (a JSON object naming the two OAuth endpoints)."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ConfigurationError(f"{url}: no answer ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise ConfigurationError(f"{url}: HTTP {response.status_code}, not a discovery document")
    try:
        document = response.json()
    except ValueError:
        raise ConfigurationError(f"{url}: the answer is not JSON") from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{url}: the document is not a JSON object")
    return document


def _string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


def _strings(values: list[str]) -> str:
    return "[" + ", ".join(_string(v) for v in values) + "]"


def _pkce(document: Mapping[str, Any]) -> str:
    methods = document.get("code_challenge_methods_supported") or []
    return "supported" if "S256" in methods else "unsupported"


def _client_auth(document: Mapping[str, Any]) -> str:
    # RFC 8414: client_secret_basic when the list is omitted.
    methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    for method in ("client_secret_basic", "client_secret_post"):
        if method in methods:
            return method
    return "none" if "none" in methods else "client_secret_basic"


def _slug_of(issuer: str) -> str:
    host = urlsplit(issuer).hostname or "provider"
    parts = [p for p in host.split(".") if p not in ("www", "com", "org", "net", "io")]
    slug = re.sub(r"[^a-z0-9_-]+", "-", (parts[0] if parts else host).lower()).strip("-")
    return slug if re.fullmatch(r"[a-z][a-z0-9_-]*", slug) else f"p-{slug or 'provider'}"


def draft_entry(
    document: Mapping[str, Any],
    source_url: str,
    *,
    category: str,
    checked: date,
    slug: str | None = None,
    name: str | None = None,
) -> str:
    """The ``[providers.<slug>]`` tables for ``document`` (fetched from ``source_url``)."""
    missing = [k for k in ("authorization_endpoint", "token_endpoint") if not document.get(k)]
    if missing:
        raise ConfigurationError(
            f"{source_url}: the discovery document has no {' or '.join(missing)}: it does not "
            "describe an OAuth authorization-code server"
        )
    issuer = str(document.get("issuer") or source_url)
    slug = slug or _slug_of(issuer)
    name = name or (urlsplit(issuer).hostname or slug)
    grants = document.get("grant_types_supported") or ["authorization_code", "implicit"]
    scopes = [str(s) for s in document.get("scopes_supported") or []]
    urls = {
        "authorize_url": str(document["authorization_endpoint"]),
        "token_url": str(document["token_endpoint"]),
    }
    if document.get("revocation_endpoint"):
        urls["revoke_url"] = str(document["revocation_endpoint"])
    docs = str(document.get("service_documentation") or source_url)
    lines = [
        f"# Draft from {source_url} (review every line before adding it to a catalogue file).",
        f"[providers.{slug}]",
        f"name = {_string(name)}",
        f"category = {_string(category)}",
        f"docs_url = {_string(docs)}",
        *(f"{field} = {_string(url)}" for field, url in urls.items()),
        f"api_base_url = {_string(issuer)}",
    ]
    if not urls.get("revoke_url"):
        lines.append("# No revocation_endpoint in the document: disconnect cannot revoke.")
    if scopes:
        lines.append(f"# scopes_supported: {' '.join(scopes)}")
    suggested = [s for s in _SUGGESTED_SCOPES if s in scopes]
    lines += [
        f"default_scopes = {_strings(suggested)}",
        'scope_separator = " "',
        f"pkce = {_string(_pkce(document))}  # code_challenge_methods_supported",
        f"client_auth_method = {_string(_client_auth(document))}"
        "  # token_endpoint_auth_methods_supported",
    ]
    plain = [u for u in (*urls.values(), issuer, docs, source_url) if u.startswith("http:")]
    if plain:
        lines.append("allow_http = true  # served over http: a test server, never a catalogue file")
    lines += [
        "",
        f"[providers.{slug}.refresh]",
        f"offered = {'true' if 'refresh_token' in grants else 'false'}  # grant_types_supported",
        'rotation = "sometimes"  # not in the document: check the provider\'s documentation',
        "omits_refresh_token = false",
        "",
        f"[providers.{slug}.provenance]",
        'method = "discovery"',
        f"url = {_string(source_url)}",
        f"checked = {checked.isoformat()}",
    ]
    return "\n".join(lines) + "\n"
