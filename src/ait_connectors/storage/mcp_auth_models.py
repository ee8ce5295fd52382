"""SQLAlchemy models of the MCP authorization server (migration ``0011_mcp_auth``).

Authorization codes and tokens are stored as hex SHA-256 digests only; a registered client's
secret is a ciphertext (the SDK's client authentication compares it in clear).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base
from .types import JSONType, UTCDateTime, utcnow

__all__ = ["McpAuthorizationRow", "McpClientRow", "McpTokenRow"]


class McpClientRow(Base):
    """A client registered through RFC 7591 dynamic registration."""

    __tablename__ = "mcp_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    info: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the metadata, without the secret
    client_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class McpAuthorizationRow(Base):
    """An authorization request waiting for consent; once allowed, it holds the code's digest
    and the user; ``used_at`` marks the code exchanged."""

    __tablename__ = "mcp_authorizations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    resource: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(Text)
    redirect_uri_explicit: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    user_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    family_id: Mapped[str] = mapped_column(String(36))  # the grant: its tokens share it
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class McpTokenRow(Base):
    """An access or refresh token (``kind``), by digest, bound to one user and one resource."""

    __tablename__ = "mcp_tokens"
    __table_args__ = (Index("ix_mcp_tokens_family", "family_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "access" | "refresh"
    family_id: Mapped[str] = mapped_column(String(36))
    client_id: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    resource: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # rotated
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
