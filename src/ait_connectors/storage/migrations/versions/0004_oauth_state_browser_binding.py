"""oauth_states.browser_nonce_hash: the flow is bound to the browser that started it.

Revision ID: 0004_oauth_state_browser_binding
Revises: 0003_refresh_started_at
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_oauth_state_browser_binding"
down_revision: str | None = "0003_refresh_started_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "oauth_states", sa.Column("browser_nonce_hash", sa.String(length=64), nullable=True)
    )


def downgrade() -> None:
    # SQLite cannot drop a column in place: batch mode copies the table.
    with op.batch_alter_table("oauth_states") as batch:
        batch.drop_column("browser_nonce_hash")
