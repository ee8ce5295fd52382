"""SQLAlchemy models of the core tables (see DESIGN.md, Data model)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import JSONType, NullableJSON, UTCDateTime, new_id, utcnow

__all__ = [
    "ApiKey",
    "Base",
    "ConnectorConfigRow",
    "OAuthStateRow",
    "OAuthTokenRow",
    "ProviderRow",
    "TokenStatus",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TokenStatus:
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    REVOKED = "revoked"
    ERROR = "error"


class ProviderRow(Base):
    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ConnectorConfigRow(Base):
    """An OAuth app registration. Credentials are ciphertexts bound to (column, id)."""

    __tablename__ = "connector_configs"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_connector_configs_owner_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(64), index=True)
    owner: Mapped[str] = mapped_column(String(200), default="default")
    name: Mapped[str] = mapped_column(String(200))
    client_id_enc: Mapped[str] = mapped_column(Text)
    client_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    redirect_uri_enc: Mapped[str] = mapped_column(Text)
    scopes_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    overrides: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(32), default="active")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OAuthTokenRow(Base):
    """One connection: a user's tokens for one connector config."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (
        UniqueConstraint(
            "connector_config_id", "user_id", name="uq_oauth_tokens_connector_config_id_user_id"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    connector_config_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("connector_configs.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(200))
    access_token_enc: Mapped[str] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    token_type: Mapped[str] = mapped_column(String(32), default="bearer")
    scope: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    provider_metadata: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(32), default=TokenStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    last_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set (and committed) before a refresh request leaves, cleared when its result is stored:
    # still set later means that refresh was interrupted (the process died mid-refresh).
    refresh_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: What the user supplied when connecting (Salesforce login host): validated, not secret.
    connection_params: Mapped[dict[str, str] | None] = mapped_column(NullableJSON, nullable=True)
    #: The connection's own API base from the token response (Salesforce ``instance_url``).
    api_base_url_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OAuthStateRow(Base):
    """A one-time OAuth ``state``: only its SHA-256 is stored; the PKCE verifier is encrypted."""

    __tablename__ = "oauth_states"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(200))
    connector_config_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("connector_configs.id", ondelete="CASCADE")
    )
    code_verifier_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    redirect_after: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: SHA-256 of the nonce in the starting browser's cookie (``None``: not browser-bound).
    browser_nonce_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: The connection parameters the flow was started with (validated), for the callback.
    connection_params: Mapped[dict[str, str] | None] = mapped_column(NullableJSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_oauth_states_expires_at", "expires_at"),)


class ApiKey(Base):
    """A gateway API key; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
