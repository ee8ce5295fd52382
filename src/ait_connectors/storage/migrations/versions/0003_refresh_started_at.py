"""oauth_tokens.refresh_started_at: a refresh in flight, committed before its network call.

Revision ID: 0003_refresh_started_at
Revises: 0002_sync
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_refresh_started_at"
down_revision: str | None = "0002_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "oauth_tokens",
        sa.Column("refresh_started_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    # SQLite cannot drop a column in place: batch mode copies the table.
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.drop_column("refresh_started_at")
