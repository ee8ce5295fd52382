"""SQLAlchemy models of the changes feed: ``changes`` and its counter row ``changes_feed``.

Created by migration ``0007_changes_feed``; written by :mod:`ait_connectors.sync.changes`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base
from .types import NullableJSON, UTCDateTime

__all__ = ["ChangeRow", "ChangesFeedRow"]


class ChangeRow(Base):
    """One write of the sync engine: an upsert (with the record) or a delete (a tombstone)."""

    __tablename__ = "changes"

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    connector_config_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str] = mapped_column(String(200))
    entity_type: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(512))
    operation: Mapped[str] = mapped_column(String(8))  # "upsert" | "delete"
    payload: Mapped[Any] = mapped_column(NullableJSON, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChangesFeedRow(Base):
    """The feed's single counter row (``id = 1``)."""

    __tablename__ = "changes_feed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger)
    pruned_through: Mapped[int] = mapped_column(BigInteger)
