"""One OAuth app registration (client id/secret, redirect URI) and its catalogue overrides."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from pydantic import SecretStr

from ait_connectors.errors import ConfigurationError
from ait_connectors.providers.spec import ProviderSpec

__all__ = ["OAuthClientConfig", "ResolvedOAuthConfig"]

# Catalogue URLs may hold "{client_id}" (GitHub's revoke URL); pydantic's HttpUrl stores the
# braces percent-encoded, so both spellings are accepted.
_CLIENT_ID_PLACEHOLDER = re.compile(r"\{client_id\}|%7Bclient_id%7D", re.IGNORECASE)


@dataclass(frozen=True)
class ResolvedOAuthConfig:
    """The effective endpoints and scopes of one config against one provider spec."""

    authorize_url: str
    token_url: str
    revoke_url: str | None
    api_base_url: str | None
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class OAuthClientConfig:
    """An OAuth app registration. ``repr``/``str`` never show the secret (it is a ``SecretStr``).

    ``scopes`` replaces the provider's default scopes (``()`` asks for none). The URL overrides
    serve GitHub Enterprise Server and tests against local servers; any of them may contain
    ``{client_id}``.
    """

    client_id: str
    client_secret: SecretStr | None  # None for public clients (PKCE, client_id in the body)
    redirect_uri: str
    scopes: tuple[str, ...] | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    revoke_url: str | None = None
    api_base_url: str | None = None

    def __post_init__(self) -> None:
        secret: object = self.client_secret
        if isinstance(secret, str):
            # A plain string would show in repr(); wrap it rather than trust every caller.
            object.__setattr__(self, "client_secret", SecretStr(secret))
        elif secret is not None and not isinstance(secret, SecretStr):
            raise ConfigurationError("client_secret must be a SecretStr or None")
        if self.client_secret is not None and not self.client_secret.get_secret_value():
            object.__setattr__(self, "client_secret", None)
        if not self.client_id:
            raise ConfigurationError("OAuth client config: client_id is empty")
        if self.scopes is not None:
            if isinstance(self.scopes, str):
                raise ConfigurationError(
                    "OAuth client config: scopes must be a tuple of scope names, not a string"
                )
            object.__setattr__(self, "scopes", tuple(self.scopes))
        _check_url("redirect_uri", self.redirect_uri)
        for name in ("authorize_url", "token_url", "revoke_url", "api_base_url"):
            value = getattr(self, name)
            if value is not None:
                _check_url(name, value)

    @property
    def is_public(self) -> bool:
        """True for a public client (no secret)."""
        return self.client_secret is None

    def resolve(self, spec: ProviderSpec) -> ResolvedOAuthConfig:
        """Effective URLs (config override, else catalogue) and scopes for ``spec``."""

        def pick(override: str | None, default: object | None) -> str | None:
            value = override if override is not None else default
            if value is None:
                return None
            return self._fill(str(value))

        return ResolvedOAuthConfig(
            authorize_url=self._fill(self.authorize_url or str(spec.authorize_url)),
            token_url=self._fill(self.token_url or str(spec.token_url)),
            revoke_url=pick(self.revoke_url, spec.revoke_url),
            api_base_url=pick(self.api_base_url, spec.api_base_url),
            scopes=self.scopes if self.scopes is not None else tuple(spec.default_scopes),
        )

    def _fill(self, url: str) -> str:
        return _CLIENT_ID_PLACEHOLDER.sub(lambda _: quote(self.client_id, safe=""), url)


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"OAuth client config: {name} must be an absolute http(s) URL, got {value!r}"
        )
