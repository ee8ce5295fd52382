"""``QueueLauncher``: the run service's launcher that queues runs for ``ait-connectors worker``.

A queued run's progress is in ``sync_runs`` like any other process's run, so this launcher holds
no live state: the run service answers for it from the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import bindparam, text

from ..runtime import Connectors
from ..storage.types import UTCDateTime
from ..sync.runs import LiveRun, RunHandle, WaitingJob
from .enqueue import enqueue_sync_jobs, sync_lock

if TYPE_CHECKING:
    from ..sync.runs import SyncRuns

__all__ = ["QueueLauncher"]

# At most one job waits per key (its queueing lock), and one runs. The running one counts until
# its run's row shows (or it ends: it may find its request answered, see ``coalesce``).
_WAITING = (
    text(
        "SELECT id, queueing_lock, scheduled_at FROM procrastinate_jobs "
        "WHERE status IN ('todo', 'doing') AND queueing_lock IN :keys "
        "ORDER BY status = 'todo', id"
    )
    .bindparams(bindparam("keys", expanding=True))
    .columns(scheduled_at=UTCDateTime())
)


class QueueLauncher:
    """Queues one job per entity type (deduplicated while one waits)."""

    def __init__(self, connectors: Connectors) -> None:
        self.connectors = connectors

    def __repr__(self) -> str:
        return "QueueLauncher()"

    async def launch(self, runs: SyncRuns, handle: RunHandle, provider: str) -> bool:
        queued = await enqueue_sync_jobs(
            self.connectors,
            handle.connector_config_id,
            handle.user_id,
            handle.entity_types,
            parents=handle.parents,
        )
        return any(job_id is not None for job_id in queued.values())

    def live(self, run_id: str) -> LiveRun | None:
        return None

    def active_run_id(self, connector_config_id: str, user_id: str) -> str | None:
        return None  # a worker runs it; the rows say how far it got

    async def waiting_jobs(self, handle: RunHandle) -> dict[str, WaitingJob]:
        keys = {
            sync_lock(handle.connector_config_id, handle.user_id, t): t for t in handle.entity_types
        }
        async with self.connectors.database.connect() as conn:
            rows = (await conn.execute(_WAITING, {"keys": list(keys)})).all()
        # The waiting job (last) wins over the running one: it is the one that runs next.
        return {keys[lock]: WaitingJob(str(job_id), at) for job_id, lock, at in rows}

    async def wait(self, run_id: str) -> None:
        return None

    async def shutdown(self) -> None:
        return None
