"""The sync engine's bookkeeping: one ``sync_state`` row per entity type, one ``sync_runs`` row per
run (models in :mod:`ait_connectors.storage.sync_models`).

Every method runs in the caller's transaction, so the engine can commit a page's records and the
cursor that follows them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from .sync_models import DIED_MESSAGE, INTERRUPTED_CODE, NullableJSON, RunStatus
from .types import JSONType, UTCDateTime, new_id

__all__ = ["ConnectionKey", "RunCounts", "StateRow", "SyncStateStore"]


@dataclass(frozen=True)
class ConnectionKey:
    """Records of one entity type of one connection."""

    connector_config_id: str
    user_id: str
    entity_type: str

    def params(self) -> dict[str, str]:
        return {"c": self.connector_config_id, "u": self.user_id, "t": self.entity_type}


@dataclass(frozen=True)
class StateRow:
    """``sync_state`` as a run finds it (locked for the rest of the transaction)."""

    id: str
    generation: int
    completed_generation: int | None
    cursor: Any
    watermark: Any
    pending_watermark: Any
    pages_in_scan: int


@dataclass(frozen=True)
class RunCounts:
    """What a run did, the one count type of the library, the gateway, the CLI and the worker:
    pages fetched, entities added, updated, unchanged, and records marked deleted."""

    pages: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    @property
    def records(self) -> int:
        """Entities seen (new, changed and unchanged)."""
        return self.added + self.updated + self.unchanged

    @property
    def rows_written(self) -> int:
        """Records inserted, changed or marked deleted."""
        return self.added + self.updated + self.deleted

    def __add__(self, other: RunCounts) -> RunCounts:
        return RunCounts(
            pages=self.pages + other.pages,
            added=self.added + other.added,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            deleted=self.deleted + other.deleted,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "pages": self.pages,
            "records": self.records,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
        }


def _ts(name: str) -> BindParameter[Any]:
    return bindparam(name, type_=UTCDateTime())


def _json(name: str) -> BindParameter[Any]:
    return bindparam(name, type_=JSONType)


def _njson(name: str) -> BindParameter[Any]:
    return bindparam(name, type_=NullableJSON)


_SELECT_STATE = (
    "SELECT id, generation, completed_generation, cursor, watermark, pending_watermark, "
    "pages_in_scan FROM sync_state "
    "WHERE connector_config_id = :c AND user_id = :u AND entity_type = :t"
)


class SyncStateStore:
    """SQL for ``sync_state`` and ``sync_runs`` (the same on SQLite and PostgreSQL)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    async def lock_state(
        self, conn: AsyncConnection, key: ConnectionKey, now: datetime
    ) -> StateRow:
        """The entity type's state row, created if missing, locked until the transaction ends."""
        await conn.execute(
            text(
                "INSERT INTO sync_state (id, connector_config_id, user_id, entity_type, "
                "generation, pages_in_scan, status, created_at, updated_at) "
                "VALUES (:id, :c, :u, :t, 0, 0, :status, :now, :now) "
                "ON CONFLICT (connector_config_id, user_id, entity_type) DO NOTHING"
            ).bindparams(_ts("now")),
            {"id": new_id(), "status": RunStatus.IDLE, "now": now, **key.params()},
        )
        lock = " FOR UPDATE" if self.dialect == "postgresql" else ""
        row = (
            await conn.execute(
                text(_SELECT_STATE + lock).columns(
                    cursor=NullableJSON, watermark=NullableJSON, pending_watermark=NullableJSON
                ),
                key.params(),
            )
        ).one()
        return StateRow(
            id=str(row.id),
            generation=int(row.generation),
            completed_generation=row.completed_generation,
            cursor=row.cursor,
            watermark=row.watermark,
            pending_watermark=row.pending_watermark,
            pages_in_scan=int(row.pages_in_scan),
        )

    async def interrupt_stale_runs(
        self, conn: AsyncConnection, key: ConnectionKey, now: datetime, reason: str = DIED_MESSAGE
    ) -> int:
        """Mark ``interrupted`` the runs still ``running``: their process died (the caller
        holds the sync lock, so no live process owns them); how many."""
        result = await conn.execute(
            text(
                "UPDATE sync_runs SET status = :interrupted, finished_at = :now, "
                "error_code = :code, error = :reason "
                "WHERE connector_config_id = :c AND user_id = :u AND entity_type = :t "
                "AND status = :running"
            ).bindparams(_ts("now")),
            {
                "interrupted": RunStatus.INTERRUPTED,
                "running": RunStatus.RUNNING,
                "code": INTERRUPTED_CODE,
                "reason": reason,
                "now": now,
                **key.params(),
            },
        )
        return int(result.rowcount)

    async def drop_watermark(self, conn: AsyncConnection, state_id: str) -> None:
        """Forget the incremental watermark (it expired): the next scans are full ones."""
        await conn.execute(
            text("UPDATE sync_state SET watermark = NULL WHERE id = :s"), {"s": state_id}
        )

    async def set_watermark(
        self, conn: AsyncConnection, state_id: str, watermark: Any, now: datetime
    ) -> None:
        """Replace the watermark only (a limited run's new per-parent marks): the cursor, the
        pending watermark and the scan stay as they are."""
        await conn.execute(
            text(
                "UPDATE sync_state SET watermark = :wm, updated_at = :now WHERE id = :id"
            ).bindparams(_ts("now"), _njson("wm")),
            {"wm": watermark, "now": now, "id": state_id},
        )

    async def start_scan(
        self, conn: AsyncConnection, state_id: str, generation: int, now: datetime
    ) -> None:
        """Begin scan ``generation``: no cursor, no pending watermark, no page yet."""
        await conn.execute(
            text(
                "UPDATE sync_state SET generation = :g, pending_watermark = NULL, "
                "pages_in_scan = 0, scan_started_at = :now WHERE id = :id"
            ).bindparams(_ts("now")),
            {"g": generation, "now": now, "id": state_id},
        )

    async def mark_running(
        self, conn: AsyncConnection, state_id: str, run_id: str, now: datetime
    ) -> None:
        await conn.execute(
            text(
                "UPDATE sync_state SET status = :running, last_run_id = :run, "
                "last_run_at = :now, resume_at = NULL, updated_at = :now WHERE id = :id"
            ).bindparams(_ts("now")),
            {"running": RunStatus.RUNNING, "run": run_id, "now": now, "id": state_id},
        )

    async def save_progress(
        self,
        conn: AsyncConnection,
        state_id: str,
        *,
        cursor: Any,
        pending_watermark: Any,
        pages_in_scan: int,
        now: datetime,
    ) -> None:
        """The scan goes on: the request to make next and the watermark collected so far."""
        await conn.execute(
            text(
                "UPDATE sync_state SET cursor = :cursor, pending_watermark = :pending, "
                "pages_in_scan = :seq, updated_at = :now WHERE id = :id"
            ).bindparams(_ts("now"), _njson("cursor"), _njson("pending")),
            {
                "cursor": cursor,
                "pending": pending_watermark,
                "seq": pages_in_scan,
                "now": now,
                "id": state_id,
            },
        )

    async def complete_scan(
        self,
        conn: AsyncConnection,
        state_id: str,
        *,
        watermark: Any,
        completed_generation: int | None,
        pages_in_scan: int,
        now: datetime,
    ) -> None:
        """The scan completed: the next run starts a new one from ``watermark``."""
        await conn.execute(
            text(
                "UPDATE sync_state SET cursor = NULL, watermark = :wm, "
                "pending_watermark = NULL, completed_generation = :g, "
                "pages_in_scan = :seq, last_completed_at = :now, updated_at = :now "
                "WHERE id = :id"
            ).bindparams(_ts("now"), _njson("wm")),
            {
                "wm": watermark,
                "g": completed_generation,
                "seq": pages_in_scan,
                "now": now,
                "id": state_id,
            },
        )

    async def set_status(
        self,
        conn: AsyncConnection,
        state_id: str,
        status: str,
        resume_at: datetime | None,
        now: datetime,
    ) -> None:
        await conn.execute(
            text(
                "UPDATE sync_state SET status = :status, resume_at = :resume, "
                "updated_at = :now WHERE id = :id"
            ).bindparams(_ts("now"), _ts("resume")),
            {"status": status, "resume": resume_at, "now": now, "id": state_id},
        )

    # -- sync_runs ---------------------------------------------------------------------------

    async def insert_run(
        self,
        conn: AsyncConnection,
        run_id: str,
        key: ConnectionKey,
        generation: int | None,
        now: datetime,
        status: str,
    ) -> None:
        await conn.execute(
            text(
                "INSERT INTO sync_runs (id, connector_config_id, user_id, entity_type, generation, "
                "started_at, status, scan_completed, pages, added, updated, unchanged, deleted, "
                "warnings) VALUES (:id, :c, :u, :t, :g, :now, :status, :false, 0, 0, 0, 0, 0, "
                ":warnings)"
            ).bindparams(_ts("now"), _json("warnings")),
            {
                "id": run_id,
                "g": generation,
                "now": now,
                "status": status,
                "false": False,
                "warnings": [],
                **key.params(),
            },
        )

    async def record_skipped(
        self, conn: AsyncConnection, run_id: str, key: ConnectionKey, now: datetime, message: str
    ) -> None:
        """A run that did not start because another one holds the lock."""
        await self.insert_run(conn, run_id, key, None, now, RunStatus.SKIPPED)
        await conn.execute(
            text(
                "UPDATE sync_runs SET finished_at = :now, error_code = 'SYNC_BUSY', "
                "error = :msg WHERE id = :id"
            ).bindparams(_ts("now")),
            {"now": now, "msg": message, "id": run_id},
        )

    async def update_counts(
        self, conn: AsyncConnection, run_id: str, totals: RunCounts, scan_completed: bool
    ) -> None:
        await conn.execute(
            text(
                "UPDATE sync_runs SET pages = :p, added = :a, updated = :u, "
                "unchanged = :n, deleted = :d, scan_completed = :done WHERE id = :id"
            ),
            {
                "p": totals.pages,
                "a": totals.added,
                "u": totals.updated,
                "n": totals.unchanged,
                "d": totals.deleted,
                "done": scan_completed,
                "id": run_id,
            },
        )

    async def finish_run(
        self,
        conn: AsyncConnection,
        run_id: str,
        *,
        status: str,
        totals: RunCounts,
        scan_completed: bool,
        error_code: str | None,
        error: str | None,
        resume_at: datetime | None,
        warnings: list[str],
        now: datetime,
    ) -> None:
        await conn.execute(
            text(
                "UPDATE sync_runs SET status = :status, finished_at = :now, "
                "scan_completed = :done, pages = :pages, added = :added, "
                "updated = :updated, unchanged = :unchanged, deleted = :deleted, "
                "error_code = :code, error = :error, resume_at = :resume, "
                "warnings = :warnings WHERE id = :id"
            ).bindparams(_ts("now"), _ts("resume"), _json("warnings")),
            {
                "status": status,
                "now": now,
                "done": scan_completed,
                "pages": totals.pages,
                "added": totals.added,
                "updated": totals.updated,
                "unchanged": totals.unchanged,
                "deleted": totals.deleted,
                "code": error_code,
                "error": error,
                "resume": resume_at,
                "warnings": warnings,
                "id": run_id,
            },
        )
