"""``ProviderSpec``: the declarative OAuth and API facts of one provider."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from .params import ApiBaseFromToken, ConnectionParam, placeholders

__all__ = [
    "CATEGORIES",
    "ApiBaseFromToken",
    "ApiKeySpec",
    "AuthMode",
    "Category",
    "ClientAuthMethod",
    "ConnectionParam",
    "Provenance",
    "ProviderSpec",
    "RateLimitHeaders",
    "RefreshSpec",
    "RevokeSpec",
    "TokenLifetimeUnit",
]

# Names the URLs or the gateway's /auth route use themselves.
_RESERVED_PARAMS = frozenset({"client_id", "user_id", "redirect", "config_id", "token"})

ClientAuthMethod = Literal[
    "client_secret_basic",  # HTTP Basic client_id:client_secret, form body
    "client_secret_post",  # client_id + client_secret in the form body
    "client_secret_basic_json",  # HTTP Basic + JSON body (Notion)
    "none",  # public client: client_id in the body, PKCE
]


class RateLimitHeaders(BaseModel):
    """Where a provider says how long to wait (names are case-insensitive)."""

    model_config = ConfigDict(frozen=True)

    retry_after: str | None = "retry-after"
    remaining: str | None = None
    reset: str | None = None
    reset_unit: Literal["epoch_s", "epoch_ms", "seconds"] = "epoch_s"


class RevokeSpec(BaseModel):
    """How the provider's revocation endpoint wants its request; RFC 7009 by default.

    One generic code path sends every provider's revocation from these facts, so a vendor's
    quirk (GitHub's ``DELETE`` with a JSON body, Slack's bearer token, Google's unauthenticated
    form) is catalogue data rather than a branch in the OAuth client.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    http_method: Literal["POST", "DELETE"] = "POST"
    # "token_endpoint": authenticate as at the token endpoint (``client_auth_method``);
    # "none": send no client credentials at all (not even the client id).
    client_auth: Literal["token_endpoint", "client_secret_basic", "client_secret_post", "none"] = (
        "token_endpoint"
    )
    # "body": in the request body under ``token_field``; "bearer": as ``Authorization: Bearer``.
    token_in: Literal["body", "bearer"] = "body"
    token_field: str = "token"
    body_format: Literal["form", "json"] = "form"
    send_token_type_hint: bool = True
    send_api_headers: bool = False  # add ``api_headers`` (GitHub's API version header)
    # Which of the user's tokens disconnect revokes, in this order (Notion documents the
    # access token only; revoking it ends the connection).
    tokens: tuple[Literal["refresh_token", "access_token"], ...] = (
        "refresh_token",
        "access_token",
    )
    # Revoke only the first of ``tokens`` the connection holds (Salesforce: revoking the refresh
    # token ends its sessions too; without one, the access token is revoked instead).
    first_held_only: bool = False


AuthMode = Literal["oauth2", "api_key"]

Category = Literal[
    "source_control",
    "developer",
    "chat",
    "project_management",
    "documents",
    "storage",
    "design",
    "video",
    "calendar_mail",
    "crm",
    "payments",
    "accounting",
    "social",
    "marketing",
    "support",
    "hr",
    "ecommerce",
    "analytics",
    "identity",
    "health",
    "productivity",
]
CATEGORIES: tuple[str, ...] = get_args(Category)

TokenLifetimeUnit = Literal["seconds", "minutes", "hours", "days", "milliseconds"]
#: Seconds per unit of a provider's ``expires_in``.
LIFETIME_SECONDS: dict[str, float] = {
    "seconds": 1,
    "minutes": 60,
    "hours": 3600,
    "days": 86400,
    "milliseconds": 0.001,
}


class RefreshSpec(BaseModel):
    """What the provider does with refresh tokens; the OAuth client applies it.

    - ``offered = false``: no refresh token is ever kept or presented; an expired access token
      means the user reconnects (``needs_reauth``), a token without ``expires_in`` lives on.
    - ``rotation``: whether a refresh returns a new refresh token (stored when it does).
    - ``omits_refresh_token``: a refresh response may lack ``refresh_token``; the one presented
      is kept (the client always does so: declared so the entry says what to expect).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    offered: bool = True
    rotation: Literal["always", "never", "sometimes"] = "sometimes"
    omits_refresh_token: bool = False


class Provenance(BaseModel):
    """Where an entry's facts come from and when they were last checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["documentation", "discovery"]
    url: HttpUrl
    checked: date


class ApiKeySpec(BaseModel):
    """How a provider takes a pasted API key, and the cheap request that checks one.

    ``header`` carries ``format`` with ``{key}`` replaced (``Authorization: Bearer {key}``);
    ``format = "basic"`` sends HTTP Basic with the key as user name and an empty password.
    ``check_path`` (relative to ``api_base_url``) is requested with the key before it is
    stored: a 401/403 there means the key is wrong and nothing is stored.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    header: str = "Authorization"
    format: str = "Bearer {key}"
    check_path: str
    key_pattern: str | None = None  # a regex the key must match (checked before any request)
    label: str = "API key"
    help: str | None = None  # one line the Connect page shows under the field

    @model_validator(mode="after")
    def _has_key(self) -> ApiKeySpec:
        if self.format != "basic" and "{key}" not in self.format:
            raise ValueError('api_key.format must contain "{key}" (or be "basic")')
        return self


class ProviderSpec(BaseModel):
    """Facts about a provider; one catalogue entry. Vendor code never hard-codes these."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slug: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    # "api_key": connected by pasting a key (``api_key``); no OAuth endpoints needed. An
    # "oauth2" provider may also take keys (an ``api_key`` block): Stripe's own-account keys.
    auth_mode: AuthMode = "oauth2"
    api_key: ApiKeySpec | None = None
    authorize_url: HttpUrl | None = None
    token_url: HttpUrl | None = None
    revoke_url: HttpUrl | None = None
    revoke: RevokeSpec = Field(default_factory=RevokeSpec)
    api_base_url: HttpUrl | None = None
    default_scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    scope_param: str = "scope"  # Slack user tokens: "user_scope"
    pkce: Literal["required", "supported", "unsupported"] = "supported"
    client_auth_method: ClientAuthMethod = "client_secret_post"
    extra_authorize_params: dict[str, str] = Field(default_factory=dict)
    token_request_headers: dict[str, str] = Field(default_factory=dict)
    token_path: str | None = None  # dotted path to the user's token set, e.g. "authed_user"
    error_in_body: Literal["oauth_error", "slack_ok"] | None = None
    metadata_fields: dict[str, str] = Field(default_factory=dict)  # name -> dotted path
    api_headers: dict[str, str] = Field(default_factory=dict)
    rate_limit: RateLimitHeaders = Field(default_factory=RateLimitHeaders)
    docs_url: HttpUrl | None = None
    category: Category | None = None
    # The unit of the token response's ``expires_in`` (a few providers count minutes or ms).
    token_lifetime_unit: TokenLifetimeUnit = "seconds"
    refresh: RefreshSpec = Field(default_factory=RefreshSpec)
    # Required in catalogue files (``CatalogueEntry``); optional for specs built in code.
    provenance: Provenance | None = None
    # Fields the user or app supplies when connecting, substituted as ``{name}`` into the URLs.
    connection_params: dict[str, ConnectionParam] = Field(default_factory=dict)
    # The token response names the connection's API host (Salesforce ``instance_url``).
    api_base_from_token: ApiBaseFromToken | None = None

    @model_validator(mode="after")
    def _placeholders_declared(self) -> ProviderSpec:
        """Every ``{name}`` in a URL is a declared connection parameter (or ``client_id``)."""
        for name in self.connection_params:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in _RESERVED_PARAMS:
                raise ValueError(
                    f"connection parameter name {name!r} must be snake_case and none of "
                    f"{', '.join(sorted(_RESERVED_PARAMS))}"
                )
        for field in ("authorize_url", "token_url", "revoke_url", "api_base_url"):
            value = getattr(self, field)
            unknown = placeholders(str(value)) - set(self.connection_params) - {"client_id"}
            if value is not None and unknown:
                raise ValueError(
                    f"{field} uses {', '.join(sorted(unknown))}, which connection_params "
                    "does not declare"
                )
        return self

    @model_validator(mode="after")
    def _auth_mode_complete(self) -> ProviderSpec:
        if self.auth_mode == "api_key" and self.api_key is None:
            raise ValueError('auth_mode "api_key" needs an [providers.<slug>.api_key] table')
        if self.auth_mode == "oauth2" and (self.authorize_url is None or self.token_url is None):
            raise ValueError("an OAuth provider needs authorize_url and token_url")
        return self

    @property
    def accepts_api_keys(self) -> bool:
        """Whether a user may connect by pasting an API key."""
        return self.api_key is not None

    @property
    def uses_oauth(self) -> bool:
        return self.auth_mode == "oauth2"

    @model_validator(mode="before")
    @classmethod
    def _legacy_revoke_method(cls, data: Any) -> Any:
        """Accept the former ``revoke_method = "rfc7009"`` (the default) and drop it.

        The other former presets named vendors; they are now ``[providers.<slug>.revoke]``.
        """
        if isinstance(data, dict) and "revoke_method" in data:
            data = dict(data)
            method = data.pop("revoke_method")
            if method != "rfc7009":
                raise ValueError(
                    f"revoke_method {method!r} is no longer supported: describe the request in "
                    "a [providers.<slug>.revoke] table (see RevokeSpec)"
                )
        return data
