"""``sync.finished`` and ``changes.available``: emitted in the transaction that records how an
engine run ended (the sync engine's finisher), so they commit with the run's final state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.sync_state import ConnectionKey, RunCounts
from .events import CHANGES_AVAILABLE, SYNC_FINISHED, emit

__all__ = ["FinishedRun", "emit_run_finished"]


@dataclass(frozen=True)
class FinishedRun:
    """How one run of one entity type ended."""

    provider: str
    key: ConnectionKey
    run_id: str
    status: str
    counts: RunCounts
    started_at: datetime
    finished_at: datetime
    error_code: str | None = None
    #: The changes-feed positions the run's commits appended, first and last. A run resumed
    #: after a crash reports the part this process wrote; the feed itself holds every change.
    positions: tuple[int, int] | None = None


async def emit_run_finished(conn: AsyncConnection, run: FinishedRun) -> None:
    """``sync.finished`` always; ``changes.available`` too when the run wrote records."""
    counts = {
        "added": run.counts.added,
        "updated": run.counts.updated,
        "unchanged": run.counts.unchanged,
        "deleted": run.counts.deleted,
    }
    common: dict[str, Any] = {
        "provider": run.provider,
        "connector_config_id": run.key.connector_config_id,
        "user_id": run.key.user_id,
        "entity_type": run.key.entity_type,
        "run_id": run.run_id,
    }
    await emit(
        conn,
        SYNC_FINISHED,
        {
            **common,
            "status": run.status,
            "counts": counts,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat(),
            "error_code": run.error_code,
        },
        now=run.finished_at,
    )
    if run.counts.rows_written == 0:
        return
    positions = (
        {"from": run.positions[0], "to": run.positions[1]} if run.positions is not None else None
    )
    await emit(
        conn,
        CHANGES_AVAILABLE,
        {**common, "counts": counts, "positions": positions},
        now=run.finished_at,
    )
