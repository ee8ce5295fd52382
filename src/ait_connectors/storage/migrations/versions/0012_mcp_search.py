"""Full-text search over the synced records (the MCP server's search tool).

PostgreSQL: a GIN index on the tsvector of the payload's string values (``simple``
configuration: no stemming, the records are in any language); queries use the same expression.
SQLite: an FTS5 table ``records_fts`` (rowid = the record's rowid) holding the payload's string
values, kept by triggers on ``records`` so every writer (sync, purge, webhooks) keeps it current.

Revision ID: 0012_mcp_search
Revises: 0011_mcp_auth
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_mcp_search"
down_revision: str | None = "0011_mcp_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept identical to ait_connectors.mcp_server.search.PG_DOCUMENT: the index serves that expression.
PG_DOCUMENT = "jsonb_to_tsvector('simple'::regconfig, payload, '[\"string\"]'::jsonb)"
SQLITE_TEXT = "(SELECT group_concat(value, ' ') FROM json_tree({row}.payload) WHERE type = 'text')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_records_search ON records USING gin ({PG_DOCUMENT})")
        return
    op.execute("CREATE VIRTUAL TABLE records_fts USING fts5(body)")
    new = SQLITE_TEXT.format(row="NEW")
    op.execute(
        "CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN "
        f"INSERT INTO records_fts (rowid, body) VALUES (NEW.rowid, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER records_fts_update AFTER UPDATE OF payload ON records BEGIN "
        "DELETE FROM records_fts WHERE rowid = OLD.rowid; "
        f"INSERT INTO records_fts (rowid, body) VALUES (NEW.rowid, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN "
        "DELETE FROM records_fts WHERE rowid = OLD.rowid; END"
    )
    op.execute(
        "INSERT INTO records_fts (rowid, body) "
        f"SELECT rowid, {SQLITE_TEXT.format(row='records')} FROM records"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_records_search")
        return
    for trigger in ("records_fts_insert", "records_fts_update", "records_fts_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS records_fts")
