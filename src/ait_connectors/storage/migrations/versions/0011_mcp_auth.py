"""The MCP authorization server: registered clients, authorization requests and codes, tokens.

Revision ID: 0011_mcp_auth
Revises: 0010_calendar_channels
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0011_mcp_auth"
down_revision: str | None = "0010_calendar_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "mcp_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("info", JSON, nullable=False),
        sa.Column("client_secret_enc", sa.Text, nullable=True),
        ts("created_at", nullable=False),
    )
    op.create_table(
        "mcp_authorizations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("redirect_uri_explicit", sa.Boolean, nullable=False),
        sa.Column("state", sa.Text, nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("user_id", sa.String(200), nullable=True),
        sa.Column("family_id", sa.String(36), nullable=False),
        ts("expires_at", nullable=False),
        ts("used_at"),
        ts("created_at", nullable=False),
    )
    op.create_table(
        "mcp_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        ts("expires_at", nullable=False),
        ts("used_at"),
        ts("revoked_at"),
        ts("created_at", nullable=False),
    )
    op.create_index("ix_mcp_tokens_family", "mcp_tokens", ["family_id"])


def downgrade() -> None:
    op.drop_index("ix_mcp_tokens_family", table_name="mcp_tokens")
    for table in ("mcp_tokens", "mcp_authorizations", "mcp_clients"):
        op.drop_table(table)
