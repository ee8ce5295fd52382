"""SQLAlchemy models of the sync tables: ``records``, ``sync_state``, ``sync_runs``, ``sync_pages``.

A *connection* is (connector config id, user id). Every table below is keyed by a connection and an
entity type. The migration that creates them is ``0002_sync``; the sync engine writes them with
dialect-specific bulk statements (see ``ait_connectors.sync.writer``), the models exist for
metadata, ad-hoc queries and the reader.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base
from .types import JSONType, NullableJSON, UTCDateTime, new_id, utcnow

__all__ = [
    "NullableJSON",
    "RecordRow",
    "RunStatus",
    "SyncPageRow",
    "SyncRunRow",
    "SyncStateRow",
]


_CONFIG_FK = "connector_configs.id"


class RunStatus:
    """Values of ``sync_runs.status`` and ``sync_state.status``."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"  # the scan completed (deletions were swept if enabled)
    FAILED = "failed"  # an error stopped the run; committed pages are kept
    RATE_LIMITED = "rate_limited"  # stopped cleanly; ``resume_at`` says when to run again
    INTERRUPTED = "interrupted"  # the process died mid-run; set by the next run
    SKIPPED = "skipped"  # another process was already syncing this entity type
    IDLE = "idle"  # sync_state only: never ran


# ``sync_runs.error_code`` of every interrupted run, whatever stopped it (a signal, a kill, a
# crash); ``error`` says which.
INTERRUPTED_CODE = "SYNC_INTERRUPTED"
STOPPED_MESSAGE = (
    "the sync was stopped before it finished (its process shut down); the next run resumes "
    "from its last committed page"
)
DIED_MESSAGE = (
    "the process running this sync stopped before it finished; the next run resumes from its "
    "last committed page"
)


class RecordRow(Base):
    """One synced entity: its normalised JSON payload and the SHA-256 checksum of it."""

    __tablename__ = "records"
    __table_args__ = (
        PrimaryKeyConstraint(
            "connector_config_id", "user_id", "entity_type", "external_id", name="pk_records"
        ),
    )

    connector_config_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(_CONFIG_FK, ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(200))
    entity_type: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(512))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    checksum: Mapped[str] = mapped_column(String(64))
    # Generation of the scan that last inserted, changed or restored this row. Unchanged rows are
    # never rewritten (that is the point of the checksum), so "seen in scan N" lives in
    # ``sync_pages``, not here.
    scan_generation: Mapped[int] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the row was last written because the entity was new, changed or came back.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Position in the changes feed of the change that gave the row its current state (NULL: the
    # row predates the feed); a snapshot at position P holds the rows at or below P.
    change_position: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SyncStateRow(Base):
    """Where the sync of one entity type of one connection stands."""

    __tablename__ = "sync_state"
    __table_args__ = (
        UniqueConstraint(
            "connector_config_id",
            "user_id",
            "entity_type",
            name="uq_sync_state_connector_config_id_user_id_entity_type",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    connector_config_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(_CONFIG_FK, ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(200))
    entity_type: Mapped[str] = mapped_column(String(100))
    # The request to make next in the scan in progress; NULL = the next run starts a new scan.
    cursor: Mapped[Any] = mapped_column(NullableJSON, nullable=True)
    # The incremental handle (since / after / syncToken) from the last *completed* scan.
    watermark: Mapped[Any] = mapped_column(NullableJSON, nullable=True)
    # The handle the scan in progress will leave behind if it completes.
    pending_watermark: Mapped[Any] = mapped_column(NullableJSON, nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    completed_generation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pages_in_scan: Mapped[int] = mapped_column(Integer, default=0)
    scan_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(32), default=RunStatus.IDLE)
    last_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SyncRunRow(Base):
    """One run of the sync of one entity type: counts, outcome, when to resume."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_connection", "connector_config_id", "user_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    connector_config_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(_CONFIG_FK, ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(200))
    entity_type: Mapped[str] = mapped_column(String(100))
    generation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(32), default=RunStatus.RUNNING)
    scan_completed: Mapped[bool] = mapped_column(Boolean, default=False)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    warnings: Mapped[list[str]] = mapped_column(JSONType, default=list)


class SyncPageRow(Base):
    """The external ids one page of a scan held (mark-and-sweep), and a fingerprint of the page.

    Pages of the scan in progress and of the last completed scan are kept. A page whose
    fingerprint (hash of request + body + mapper version) equals one of the last completed scan
    holds exactly the same entities, so the engine skips parsing and comparing it.
    """

    __tablename__ = "sync_pages"
    __table_args__ = (
        PrimaryKeyConstraint("state_id", "generation", "seq", name="pk_sync_pages"),
        Index("ix_sync_pages_fingerprint", "state_id", "fingerprint"),
    )

    state_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sync_state.id", ondelete="CASCADE")
    )
    generation: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    item_count: Mapped[int] = mapped_column(Integer)
    keys: Mapped[list[str]] = mapped_column(JSONType)
