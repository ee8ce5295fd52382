"""One OAuth app registration (client id/secret, redirect URI) and its catalogue overrides."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from pydantic import SecretStr

from ait_connectors.errors import ConfigurationError
from ait_connectors.providers.params import fill_params, placeholders
from ait_connectors.providers.spec import ProviderSpec

__all__ = ["OAuthClientConfig", "ResolvedOAuthConfig"]

# Catalogue URLs may hold "{client_id}" (GitHub's revoke URL); pydantic's HttpUrl stores the
# braces percent-encoded, so both spellings are accepted.
_CLIENT_ID_PLACEHOLDER = re.compile(r"\{client_id\}|%7Bclient_id%7D", re.IGNORECASE)


_ENDPOINT_OVERRIDES = ("authorize_url", "token_url", "revoke_url", "api_base_url")


@dataclass(frozen=True)
class ResolvedOAuthConfig:
    """The effective endpoints and scopes of one config against one provider spec.

    ``revoke_url`` is ``None`` when the provider cannot revoke, or when revoking would send
    credentials to a host the config did not name; ``revoke_skipped`` then says why.
    """

    authorize_url: str
    token_url: str
    revoke_url: str | None
    api_base_url: str | None
    scopes: tuple[str, ...]
    revoke_skipped: str | None = None

    def require_params(self, provider: str, url: str) -> None:
        """Refuse to send anything to a URL that still holds a ``{placeholder}`` (a connection
        parameter this connector was built without)."""
        missing = sorted(placeholders(url) - {"client_id"})
        if missing:
            raise ConfigurationError(
                f"{provider}: the connection parameter(s) {', '.join(missing)} are not known "
                "for this connection: connect it again and supply them",
                {"provider": provider},
            )


@dataclass(frozen=True)
class OAuthClientConfig:
    """An OAuth app registration. ``repr``/``str`` never show the secret (it is a ``SecretStr``).

    ``scopes`` replaces the provider's default scopes (``()`` asks for none); ``resource`` is
    the RFC 8707 resource indicator of every request, when set. The URL overrides
    serve GitHub Enterprise Server and tests against local servers; any of them may contain
    ``{client_id}``.
    """

    client_id: str
    client_secret: SecretStr | None  # None for public clients (PKCE, client_id in the body)
    redirect_uri: str
    scopes: tuple[str, ...] | None = None
    # RFC 8707 resource indicator, sent on the authorization, token and refresh requests (a
    # remote MCP server's canonical URL: its tokens are issued for that server only).
    resource: str | None = None
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
        if self.resource is not None:
            _check_url("resource", self.resource)
        for name in _ENDPOINT_OVERRIDES:
            value = getattr(self, name)
            if value is not None:
                _check_url(name, value)

    @property
    def is_public(self) -> bool:
        """True for a public client (no secret)."""
        return self.client_secret is None

    def resolve(
        self, spec: ProviderSpec, params: Mapping[str, str] | None = None
    ) -> ResolvedOAuthConfig:
        """Effective URLs (config override, else catalogue) and scopes for ``spec``, with the
        connection's parameter values (already validated) substituted."""
        values = dict(params or {})

        def pick(override: str | None, default: object | None) -> str | None:
            value = override if override is not None else default
            if value is None:
                return None
            return self._fill(str(value), values)

        revoke_url, skipped = self._revoke_url(spec, values)
        return ResolvedOAuthConfig(
            # An API-key provider has no OAuth endpoints: "" (nothing is ever sent there).
            authorize_url=pick(self.authorize_url, spec.authorize_url) or "",
            token_url=pick(self.token_url, spec.token_url) or "",
            revoke_url=revoke_url,
            api_base_url=pick(self.api_base_url, spec.api_base_url),
            scopes=self.scopes if self.scopes is not None else tuple(spec.default_scopes),
            revoke_skipped=skipped,
        )

    def _revoke_url(
        self, spec: ProviderSpec, values: Mapping[str, str]
    ) -> tuple[str | None, str | None]:
        """``(url, None)``, or ``(None, why revocation is skipped)``.

        Revocation carries the client secret and the user's token, so it goes only to a host the
        config names once the config points anywhere but the catalogue's hosts: an explicit
        ``revoke_url``; else the catalogue's revoke URL moved onto an overridden ``api_base_url``
        when it sits under the catalogue's API base (GitHub Enterprise Server:
        ``https://HOST/api/v3/applications/{client_id}/token``); else only when its host is one
        the config overrides name. Otherwise it is skipped, never sent to the catalogue's host.
        """
        if self.revoke_url is not None:
            return self._fill(self.revoke_url, values), None
        if spec.revoke_url is None:
            return None, None
        catalogue_url = fill_params(str(spec.revoke_url), values)
        overrides = [
            value for name in _ENDPOINT_OVERRIDES if (value := getattr(self, name)) is not None
        ]
        if not overrides:
            return self._fill(catalogue_url, values), None
        if self.api_base_url is not None and spec.api_base_url is not None:
            moved = _rebase(
                catalogue_url,
                fill_params(str(spec.api_base_url), values),
                fill_params(self.api_base_url, values),
            )
            if moved is not None:
                return self._fill(moved, values), None
        named_hosts = {_origin(fill_params(value, values)) for value in overrides}
        if _origin(catalogue_url) in named_hosts:
            return self._fill(catalogue_url, values), None
        return None, (
            f"this config overrides the provider's URLs but not revoke_url, and the catalogue's "
            f"revocation endpoint ({_origin(catalogue_url)}) is not a host the config names: "
            "set the config's revoke_url to revoke tokens at the provider"
        )

    def _fill(self, url: str, values: Mapping[str, str]) -> str:
        url = fill_params(url, values)
        return _CLIENT_ID_PLACEHOLDER.sub(lambda _: quote(self.client_id, safe=""), url)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _rebase(url: str, old_base: str, new_base: str) -> str | None:
    """``url`` moved from under ``old_base`` to under ``new_base``; ``None`` if not under it."""
    old = urlsplit(old_base)
    target = urlsplit(url)
    prefix = old.path.rstrip("/") + "/"
    if _origin(url) != _origin(old_base) or not (target.path + "/").startswith(prefix):
        return None
    rest = target.path[len(prefix) :] if len(target.path) >= len(prefix) else ""
    query = f"?{target.query}" if target.query else ""
    return f"{new_base.rstrip('/')}/{rest}{query}"


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"OAuth client config: {name} must be an absolute http(s) URL, got {value!r}"
        )
