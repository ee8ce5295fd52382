"""``ProviderSpec``: the declarative OAuth and API facts of one provider."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

__all__ = ["ClientAuthMethod", "ProviderSpec", "RateLimitHeaders"]

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


class ProviderSpec(BaseModel):
    """Facts about a provider; one catalogue entry. Vendor code never hard-codes these."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slug: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    authorize_url: HttpUrl
    token_url: HttpUrl
    revoke_url: HttpUrl | None = None
    revoke_method: Literal["rfc7009", "github", "slack", "google"] = "rfc7009"
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
