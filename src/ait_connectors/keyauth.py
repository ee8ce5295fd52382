"""API-key connections: how a pasted key is checked, stored and sent.

A provider whose catalogue entry has an ``api_key`` block (``auth_mode = "api_key"``, or an
OAuth provider that also takes keys) is connected by pasting a key. The key is stored in the
token store as the connection's access token (same encryption, never in ``repr``, logs or API
answers) with ``token_type = "api_key"``; it never expires and is never refreshed: a 401 means
the key was revoked or rotated, and only a new key helps.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx

from .errors import AItError
from .http import parse_json
from .providers.spec import ApiKeySpec, ProviderSpec

__all__ = [
    "API_KEY_TOKEN_TYPE",
    "KEY_REFUSED_REASON",
    "InvalidApiKeyError",
    "check_api_key",
    "key_headers",
]

API_KEY_TOKEN_TYPE = "api_key"
KEY_REFUSED_REASON = (
    "the API refused the stored API key (revoked or rotated at the provider): paste a new key"
)
# A key is one line of printable ASCII; anything else is a paste mistake (or a header injection).
_PRINTABLE = re.compile(r"^[\x21-\x7e]{1,500}$")


class InvalidApiKeyError(AItError):
    """The pasted key is malformed or the provider refused it; nothing was stored."""

    def __init__(self, message: str) -> None:
        super().__init__("INVALID_API_KEY", message)


def _spec_of(provider: ProviderSpec) -> ApiKeySpec:
    if provider.api_key is None:
        raise InvalidApiKeyError(
            f"{provider.name} is not connected with an API key: use its OAuth Connect button."
        )
    return provider.api_key


def key_headers(provider: ProviderSpec, key: str) -> dict[str, str]:
    """The header(s) that carry ``key`` on every API request."""
    spec = _spec_of(provider)
    if spec.format == "basic":
        value = "Basic " + base64.b64encode(f"{key}:".encode()).decode("ascii")
    else:
        value = spec.format.replace("{key}", key)
    return {spec.header: value}


def validate_key(provider: ProviderSpec, key: str) -> str:
    """The key without surrounding whitespace, or why it cannot be one (no request sent)."""
    spec = _spec_of(provider)
    key = key.strip()
    if not key:
        raise InvalidApiKeyError(f"The {spec.label} is empty: paste the key itself.")
    if not _PRINTABLE.match(key):
        raise InvalidApiKeyError(
            f"The {spec.label} must be one line of printable characters without spaces."
        )
    if spec.key_pattern and not re.fullmatch(spec.key_pattern, key):
        raise InvalidApiKeyError(
            f"This does not look like a {provider.name} {spec.label} "
            f"(expected: {spec.help or spec.key_pattern}). Nothing was stored."
        )
    return key


async def check_api_key(
    provider: ProviderSpec,
    api_base_url: str | None,
    key: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Any:
    """Send the provider's cheap check request with ``key``; its JSON body (or ``None``).

    A 401/403 is a wrong key (:class:`InvalidApiKeyError`); any other failure is raised as the
    vendor error it is. The key is never part of a message.
    """
    spec = _spec_of(provider)
    if not api_base_url:
        raise InvalidApiKeyError(f"{provider.name} has no API base URL to check the key against.")
    sent = {**provider.api_headers, **(headers or {}), **key_headers(provider, key)}
    async with httpx.AsyncClient(base_url=api_base_url, timeout=timeout) as client:
        try:
            response = await client.get(spec.check_path, headers=sent)
        except httpx.HTTPError as exc:
            raise AItError(
                "API_KEY_CHECK_FAILED",
                f"Could not reach {provider.name} to check the {spec.label} "
                f"({type(exc).__name__}); nothing was stored. Try again.",
            ) from None
    if response.status_code in (401, 403):
        raise InvalidApiKeyError(
            f"{provider.name} refused this {spec.label} (HTTP {response.status_code}): check "
            "that it is complete, not revoked, and allowed to read. Nothing was stored."
        )
    if not 200 <= response.status_code < 300:
        raise AItError(
            "API_KEY_CHECK_FAILED",
            f"{provider.name} answered HTTP {response.status_code} to the {spec.label} check; "
            "nothing was stored. Try again later.",
        )
    if not response.content:
        return None
    return parse_json(response, provider)
