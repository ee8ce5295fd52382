"""Alembic environment: run on the connection handed over by ``Database.migrate``."""

from __future__ import annotations

from alembic import context

from ait_connectors.storage.models import Base
from ait_connectors.storage.schema import target_metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline mode is not supported
    raise RuntimeError("run migrations through `ait-connectors db upgrade`")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

__all__ = ["Base"]
