"""Connection parameters (with the OAuth state, then with the connection) and the connection's
own API base named by the token response (encrypted with the tokens).

Revision ID: 0005_connection_params
Revises: 0004_oauth_state_browser_binding
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005_connection_params"
down_revision: str | None = "0004_oauth_state_browser_binding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("oauth_states", sa.Column("connection_params", JSON, nullable=True))
    op.add_column("oauth_tokens", sa.Column("connection_params", JSON, nullable=True))
    op.add_column("oauth_tokens", sa.Column("api_base_url_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite cannot drop a column in place: batch mode copies the table.
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.drop_column("api_base_url_enc")
        batch.drop_column("connection_params")
    with op.batch_alter_table("oauth_states") as batch:
        batch.drop_column("connection_params")
