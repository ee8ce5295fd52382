"""Sync tables: records, sync_state, sync_runs, sync_pages.

Revision ID: 0002_sync
Revises: 0001_core
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0002_sync"
down_revision: str | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def config_fk(table: str) -> sa.Column[object]:
    return sa.Column(
        "connector_config_id",
        sa.String(36),
        sa.ForeignKey(
            "connector_configs.id",
            ondelete="CASCADE",
            name=f"fk_{table}_connector_config_id_connector_configs",
        ),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "records",
        config_fk("records"),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("entity_type", sa.String(100), nullable=False),
        sa.Column("external_id", sa.String(512), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("scan_generation", sa.Integer, nullable=False),
        ts("first_seen_at"),
        ts("last_seen_at"),
        ts("updated_at"),
        ts("deleted_at", nullable=True),
        sa.PrimaryKeyConstraint(
            "connector_config_id", "user_id", "entity_type", "external_id", name="pk_records"
        ),
    )
    op.create_table(
        "sync_state",
        sa.Column("id", sa.String(36), primary_key=True),
        config_fk("sync_state"),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("entity_type", sa.String(100), nullable=False),
        sa.Column("cursor", NULLABLE_JSON, nullable=True),
        sa.Column("watermark", NULLABLE_JSON, nullable=True),
        sa.Column("pending_watermark", NULLABLE_JSON, nullable=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("completed_generation", sa.Integer, nullable=True),
        sa.Column("pages_in_scan", sa.Integer, nullable=False),
        ts("scan_started_at", nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("last_run_id", sa.String(36), nullable=True),
        ts("last_run_at", nullable=True),
        ts("last_completed_at", nullable=True),
        ts("resume_at", nullable=True),
        ts("created_at"),
        ts("updated_at"),
        sa.UniqueConstraint(
            "connector_config_id",
            "user_id",
            "entity_type",
            name="uq_sync_state_connector_config_id_user_id_entity_type",
        ),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        config_fk("sync_runs"),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("entity_type", sa.String(100), nullable=False),
        sa.Column("generation", sa.Integer, nullable=True),
        ts("started_at"),
        ts("finished_at", nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("scan_completed", sa.Boolean, nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("unchanged", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Integer, nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        ts("resume_at", nullable=True),
        sa.Column("warnings", JSON, nullable=False),
    )
    op.create_index(
        "ix_sync_runs_connection", "sync_runs", ["connector_config_id", "user_id", "started_at"]
    )
    op.create_table(
        "sync_pages",
        sa.Column(
            "state_id",
            sa.String(36),
            sa.ForeignKey(
                "sync_state.id", ondelete="CASCADE", name="fk_sync_pages_state_id_sync_state"
            ),
            nullable=False,
        ),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("keys", JSON, nullable=False),
        sa.PrimaryKeyConstraint("state_id", "generation", "seq", name="pk_sync_pages"),
    )
    op.create_index("ix_sync_pages_fingerprint", "sync_pages", ["state_id", "fingerprint"])


def downgrade() -> None:
    # Views over ``records`` are created by the engine at registration time; drop them first.
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        rows = bind.execute(
            sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'v' AND n.nspname = current_schema() "
                "AND obj_description(c.oid, 'pg_class') LIKE 'ait-connectors view %'"
            )
        ).scalars()
    else:
        rows = bind.execute(
            sa.text("SELECT name FROM sqlite_master WHERE type = 'view' AND sql LIKE '%/* ait:%'")
        ).scalars()
    for name in list(rows):
        op.execute(sa.text(f'DROP VIEW IF EXISTS "{name}"'))
    for table in ("sync_pages", "sync_runs", "sync_state", "records"):
        op.drop_table(table)
