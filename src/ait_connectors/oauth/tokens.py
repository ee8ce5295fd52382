"""The token set an OAuth token endpoint hands back, normalised across vendors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["TokenResponse"]


class TokenResponse(BaseModel):
    """A normalised token response; secrets are ``SecretStr`` so they never show in ``repr``.

    ``expires_at`` is absolute (UTC). ``None`` means the token does not expire (GitHub OAuth apps).
    ``metadata`` holds non-secret provider facts worth keeping (Slack team id, Notion workspace).
    """

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    token_type: str = "bearer"
    refresh_token: SecretStr | None = None
    expires_at: datetime | None = None
    scope: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    # The connection's own API base, when the provider's token response names it (Salesforce
    # ``instance_url``), already checked against the catalogue's allowed hosts.
    api_base_url: str | None = Field(default=None, repr=False)

    @classmethod
    def from_payload(
        cls,
        payload: dict[str, Any],
        *,
        now: datetime | None = None,
        metadata: dict[str, Any] | None = None,
        scope_separator: str = " ",
    ) -> TokenResponse:
        """Build from a standard RFC 6749 token payload (``expires_in`` is relative seconds)."""
        now = now or datetime.now(UTC)
        expires_at: datetime | None = None
        expires_in = payload.get("expires_in")
        if expires_in not in (None, ""):
            expires_at = now + timedelta(seconds=float(expires_in))
        elif isinstance(payload.get("expires_at"), int | float):
            expires_at = datetime.fromtimestamp(float(payload["expires_at"]), UTC)
        scope = payload.get("scope")
        if isinstance(scope, list):
            scope = scope_separator.join(str(s) for s in scope)
        refresh = payload.get("refresh_token")
        return cls(
            access_token=SecretStr(str(payload["access_token"])),
            token_type=str(payload.get("token_type") or "bearer"),
            refresh_token=SecretStr(str(refresh)) if refresh else None,
            expires_at=expires_at,
            scope=str(scope) if scope is not None else None,
            metadata=dict(metadata or {}),
        )
