"""The schema revision the code needs and the one the database holds, without importing Alembic.

Alembic (and Mako, which it imports) is loaded only to migrate. Checking that a database is
up to date — what every process does on start — compares :data:`HEAD_REVISION` with the
``alembic_version`` row, read with one query.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

__all__ = ["HEAD_REVISION", "stored_revision"]

# The head of migrations/versions/. A new migration updates it; tests/core/test_revisions.py
# fails until it equals Alembic's own head.
HEAD_REVISION = "0010_calendar_channels"


def stored_revision(conn: Connection) -> str | None:
    """The revision in the database's ``alembic_version`` table (``None``: never migrated)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
