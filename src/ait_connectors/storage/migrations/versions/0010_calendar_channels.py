"""Push channels created at a vendor per connection (Google Calendar watch channels).

Revision ID: 0010_calendar_channels
Revises: 0009_inbound_webhooks
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_calendar_channels"
down_revision: str | None = "0009_inbound_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_channels",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "connector_config_id",
            sa.String(36),
            sa.ForeignKey(
                "connector_configs.id",
                ondelete="CASCADE",
                name="fk_calendar_channels_connector_config_id_connector_configs",
            ),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("resource_id", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_calendar_channels_connection", "calendar_channels", ["connector_config_id", "user_id"]
    )
    op.create_index("ix_calendar_channels_expires_at", "calendar_channels", ["expires_at"])


def downgrade() -> None:
    op.drop_table("calendar_channels")
