"""Core tables: providers, connector configs, OAuth tokens and states, API keys.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001_core"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "providers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("spec", JSON, nullable=False),
        ts("created_at"),
        ts("updated_at"),
        sa.UniqueConstraint("slug", name="uq_providers_slug"),
    )
    op.create_table(
        "connector_configs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("client_id_enc", sa.Text, nullable=False),
        sa.Column("client_secret_enc", sa.Text, nullable=True),
        sa.Column("redirect_uri_enc", sa.Text, nullable=False),
        sa.Column("scopes_enc", sa.Text, nullable=True),
        sa.Column("overrides", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        ts("created_at"),
        ts("updated_at"),
        sa.UniqueConstraint("owner", "name", name="uq_connector_configs_owner_name"),
    )
    op.create_index("ix_connector_configs_provider", "connector_configs", ["provider"])
    op.create_table(
        "oauth_tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "connector_config_id",
            sa.String(36),
            sa.ForeignKey(
                "connector_configs.id",
                ondelete="CASCADE",
                name="fk_oauth_tokens_connector_config_id_connector_configs",
            ),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("access_token_enc", sa.Text, nullable=False),
        sa.Column("refresh_token_enc", sa.Text, nullable=True),
        sa.Column("token_type", sa.String(32), nullable=False),
        sa.Column("scope", sa.Text, nullable=True),
        ts("expires_at", nullable=True),
        sa.Column("provider_metadata", JSON, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        ts("last_refreshed_at", nullable=True),
        ts("created_at"),
        ts("updated_at"),
        sa.UniqueConstraint(
            "connector_config_id", "user_id", name="uq_oauth_tokens_connector_config_id_user_id"
        ),
    )
    op.create_table(
        "oauth_states",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column(
            "connector_config_id",
            sa.String(36),
            sa.ForeignKey(
                "connector_configs.id",
                ondelete="CASCADE",
                name="fk_oauth_states_connector_config_id_connector_configs",
            ),
            nullable=False,
        ),
        sa.Column("code_verifier_enc", sa.Text, nullable=True),
        sa.Column("redirect_after", sa.Text, nullable=True),
        ts("created_at"),
        ts("expires_at"),
        ts("used_at", nullable=True),
        sa.UniqueConstraint("state_hash", name="uq_oauth_states_state_hash"),
    )
    op.create_index("ix_oauth_states_expires_at", "oauth_states", ["expires_at"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        ts("created_at"),
        ts("last_used_at", nullable=True),
        ts("revoked_at", nullable=True),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )


def downgrade() -> None:
    for table in ("api_keys", "oauth_states", "oauth_tokens", "connector_configs", "providers"):
        op.drop_table(table)
