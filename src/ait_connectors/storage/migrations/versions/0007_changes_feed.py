"""The changes feed: ``changes``, its counter row ``changes_feed``, ``records.change_position``.

Revision ID: 0007_changes_feed
Revises: 0004_oauth_state_browser_binding
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007_changes_feed"
down_revision: str | None = "0005_connection_params"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    # No foreign key to connector_configs: a change outlives the config it came from (the
    # deletes of a purge must still reach consumers).
    op.create_table(
        "changes",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("connector_config_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("entity_type", sa.String(100), nullable=False),
        sa.Column("external_id", sa.String(512), nullable=False),
        sa.Column("operation", sa.String(8), nullable=False),
        sa.Column("payload", NULLABLE_JSON, nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "changes_feed",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        # The last position handed out (committed with the changes that took it).
        sa.Column("position", sa.BigInteger, nullable=False),
        # Every change at or below this position was pruned: older cursors answer 410.
        sa.Column("pruned_through", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO changes_feed (id, position, pruned_through) VALUES (1, 0, 0)")
    op.add_column("records", sa.Column("change_position", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_column("change_position")
    op.drop_table("changes_feed")
    op.drop_table("changes")
