"""Outgoing webhooks: endpoints, the message outbox, deliveries and their attempts.

Revision ID: 0008_outgoing_webhooks
Revises: 0004_oauth_state_browser_binding
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008_outgoing_webhooks"
down_revision: str | None = "0007_changes_feed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def fk(column: str, target: str, table: str, length: int) -> sa.Column[object]:
    return sa.Column(
        column,
        sa.String(length),
        sa.ForeignKey(
            target, ondelete="CASCADE", name=f"fk_{table}_{column}_{target.split('.')[0]}"
        ),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("secret_enc", sa.Text, nullable=False),
        sa.Column("previous_secret_enc", sa.Text, nullable=True),
        ts("previous_secret_until"),
        sa.Column("enabled", sa.Boolean, nullable=False),
        ts("disabled_at"),
        sa.Column("disabled_reason", sa.Text, nullable=True),
        ts("failing_since"),
        ts("created_at", nullable=False),
        ts("updated_at", nullable=False),
    )
    op.create_table(
        "webhook_messages",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        ts("created_at", nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        fk("message_id", "webhook_messages.id", "webhook_deliveries", 40),
        fk("endpoint_id", "webhook_endpoints.id", "webhook_deliveries", 36),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        ts("next_attempt_at"),
        ts("first_attempt_at"),
        ts("last_attempt_at"),
        ts("lease_until"),
        ts("created_at", nullable=False),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id", "created_at"]
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.String(36), primary_key=True),
        fk("delivery_id", "webhook_deliveries.id", "webhook_attempts", 36),
        sa.Column("attempt", sa.Integer, nullable=False),
        ts("started_at", nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Integer, nullable=True),
        sa.Column("response_excerpt", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "attempt"])


def downgrade() -> None:
    for table in ("webhook_attempts", "webhook_deliveries", "webhook_messages"):
        op.drop_table(table)
    op.drop_table("webhook_endpoints")
