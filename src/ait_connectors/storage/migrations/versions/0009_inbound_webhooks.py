"""Provider webhooks: signing secrets per config (current and pending), routing keys, delivery
ids, counters.

Revision ID: 0009_inbound_webhooks
Revises: 0008_outgoing_webhooks
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_inbound_webhooks"
down_revision: str | None = "0008_outgoing_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def config_fk(table: str, primary_key: bool = True) -> sa.Column[object]:
    return sa.Column(
        "connector_config_id",
        sa.String(36),
        sa.ForeignKey(
            "connector_configs.id",
            ondelete="CASCADE",
            name=f"fk_{table}_connector_config_id_connector_configs",
        ),
        primary_key=primary_key,
    )


def upgrade() -> None:
    op.create_table(
        "inbound_secrets",
        config_fk("inbound_secrets"),
        sa.Column("secret_enc", sa.Text, nullable=False),
        sa.Column("previous_secret_enc", sa.Text, nullable=True),
        ts("previous_until"),
        ts("updated_at", nullable=False),
    )
    op.create_table(
        "inbound_pending",
        config_fk("inbound_pending"),
        sa.Column("secret_enc", sa.Text, nullable=False),
        ts("received_at", nullable=False),
    )
    op.create_table(
        "inbound_routes",
        config_fk("inbound_routes"),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("routing_key", sa.String(255), primary_key=True),
        sa.Column("vendor", sa.String(64), nullable=False),
        ts("created_at", nullable=False),
    )
    op.create_index("ix_inbound_routes_key", "inbound_routes", ["vendor", "routing_key"])
    op.create_table(
        "inbound_deliveries",
        sa.Column("vendor", sa.String(64), primary_key=True),
        sa.Column("delivery_id", sa.String(255), primary_key=True),
        ts("received_at", nullable=False),
        ts("expires_at", nullable=False),
    )
    op.create_index("ix_inbound_deliveries_expires_at", "inbound_deliveries", ["expires_at"])
    op.create_table(
        "inbound_counters",
        sa.Column("vendor", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.String(32), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        ts("updated_at", nullable=False),
    )


def downgrade() -> None:
    for table in ("inbound_counters", "inbound_deliveries", "inbound_routes"):
        op.drop_table(table)
    op.drop_table("inbound_pending")
    op.drop_table("inbound_secrets")
