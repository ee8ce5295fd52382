"""Syncs started through the gateway: run in-process, followed through ``sync_runs``.

A gateway *sync run* covers the entity types one request asked for; the engine records one
``sync_runs`` row per entity type, updated after every committed page. The run id handed to the
client is a small self-describing handle (connection, entity types, start time), so any gateway
process sharing the database answers ``GET …/sync/{run_id}`` from those rows — not only the one
running it. The process that runs it adds what only it knows: rate-limit waits as they happen and
a failure before the engine started.

On the embedded SQLite default syncs run as asyncio tasks of the gateway's event loop. On
PostgreSQL (``queue=True``) they are Procrastinate jobs that ``ait-connectors worker`` processes
run (see ``ait_connectors.jobs``). One run per connection at a time per process; the engine itself
refuses a second concurrent run of an entity type across processes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from ..errors import AItError
from ..runtime import Connectors
from ..service import ConnectorService
from ..storage.configs import ConnectorConfig
from ..storage.sync_models import RecordRow, RunStatus, SyncRunRow
from ..sync.config import SyncOptions, SyncRunResult
from .errors import GatewayError

__all__ = ["EntityProgress", "RunHandle", "RunView", "SyncManager", "latest_runs", "record_counts"]

logger = logging.getLogger(__name__)

R = SyncRunRow.__table__
REC = RecordRow.__table__
PENDING = "pending"
RUNNING = RunStatus.RUNNING
# A run nobody runs any more (its process died before starting some entity types) stops being
# reported as running after this long.
ABANDONED_AFTER = timedelta(minutes=30)
_FINISHED = {
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.RATE_LIMITED,
    RunStatus.INTERRUPTED,
    RunStatus.SKIPPED,
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunHandle:
    """What a run id encodes: the connection, the entity types and when the run started."""

    connector_config_id: str
    user_id: str
    entity_types: tuple[str, ...]
    started_at: datetime

    def encode(self) -> str:
        body = {
            "c": self.connector_config_id,
            "u": self.user_id,
            "e": list(self.entity_types),
            "t": self.started_at.isoformat(),
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        return "run_" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, run_id: str) -> RunHandle:
        unknown = GatewayError(404, "RUN_NOT_FOUND", "No sync run with this id.")
        if not run_id.startswith("run_") or len(run_id) > 2048:
            raise unknown
        text = run_id[4:]
        try:
            body = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            started = datetime.fromisoformat(str(body["t"]))
            handle = cls(
                connector_config_id=str(body["c"]),
                user_id=str(body["u"]),
                entity_types=tuple(str(e) for e in body["e"]),
                started_at=started if started.tzinfo else started.replace(tzinfo=UTC),
            )
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            raise unknown from None
        if not handle.entity_types:
            raise unknown
        return handle


@dataclass
class EntityProgress:
    """Where one entity type of a run stands."""

    entity_type: str
    status: str = PENDING
    pages: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rate_limit_waits: int = 0
    waited_seconds: float = 0.0
    waiting_until: datetime | None = None
    error: str | None = None
    resume_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def records(self) -> int:
        """Records seen so far (new, changed and unchanged)."""
        return self.added + self.updated + self.unchanged

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity_type": self.entity_type,
            "status": self.status,
            "pages": self.pages,
            "records": self.records,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "rate_limit_waits": self.rate_limit_waits,
            "waited_seconds": round(self.waited_seconds, 3),
            "waiting_until": self.waiting_until.isoformat() if self.waiting_until else None,
            "error": self.error,
            "resume_at": self.resume_at.isoformat() if self.resume_at else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


@dataclass
class RunView:
    """A run as the API shows it."""

    run_id: str
    provider: str
    connector_config_id: str
    user_id: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    entities: list[EntityProgress]
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status not in (PENDING, RUNNING)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "provider": self.provider,
            "connector_config_id": self.connector_config_id,
            "user_id": self.user_id,
            "status": self.status,
            "done": self.done,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
            "entities": [e.as_dict() for e in self.entities],
        }


@dataclass
class _Job:
    handle: RunHandle
    provider: str
    task: asyncio.Task[None] | None = None
    waits: dict[str, EntityProgress] = field(default_factory=dict)
    results: dict[str, SyncRunResult] = field(default_factory=dict)
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


def _overall(entities: Sequence[EntityProgress]) -> str:
    statuses = {e.status for e in entities}
    if statuses & {PENDING, RUNNING}:
        return RUNNING
    for worst in (RunStatus.FAILED, RunStatus.INTERRUPTED, RunStatus.RATE_LIMITED):
        if worst in statuses:
            return worst
    if statuses == {RunStatus.SKIPPED}:
        return RunStatus.SKIPPED
    return RunStatus.SUCCEEDED


def _progress_from_row(row: Any) -> EntityProgress:
    return EntityProgress(
        entity_type=row.entity_type,
        status=row.status,
        pages=row.pages or 0,
        added=row.added or 0,
        updated=row.updated or 0,
        unchanged=row.unchanged or 0,
        deleted=row.deleted or 0,
        error=row.error,
        resume_at=row.resume_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


async def record_counts(
    connectors: Connectors, connector_config_id: str, user_id: str
) -> dict[str, int]:
    """Live (not deleted) records per entity type of one connection."""
    query = (
        select(REC.c.entity_type, func.count())
        .where(
            REC.c.connector_config_id == connector_config_id,
            REC.c.user_id == user_id,
            REC.c.deleted_at.is_(None),
        )
        .group_by(REC.c.entity_type)
    )
    async with connectors.database.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {str(entity): int(count) for entity, count in rows}


async def latest_runs(
    connectors: Connectors, connector_config_id: str, user_id: str
) -> list[EntityProgress]:
    """The most recent ``sync_runs`` row of each entity type of one connection."""
    latest = (
        select(R.c.entity_type, func.max(R.c.started_at).label("started_at"))
        .where(R.c.connector_config_id == connector_config_id, R.c.user_id == user_id)
        .group_by(R.c.entity_type)
        .subquery()
    )
    query = (
        select(R)
        .join(
            latest,
            and_(R.c.entity_type == latest.c.entity_type, R.c.started_at == latest.c.started_at),
        )
        .where(R.c.connector_config_id == connector_config_id, R.c.user_id == user_id)
        .order_by(R.c.entity_type)
    )
    async with connectors.database.connect() as conn:
        rows = (await conn.execute(query)).all()
    seen: dict[str, EntityProgress] = {}
    for row in rows:  # equal start times are possible in theory: keep one
        seen.setdefault(row.entity_type, _progress_from_row(row))
    return list(seen.values())


class SyncManager:
    """Starts syncs as tasks of this process and reports on runs of any process."""

    def __init__(self, connectors: Connectors, *, queue: bool = False) -> None:
        self.connectors = connectors
        self.queue = queue  # True: workers run the syncs (PostgreSQL); see ait_connectors.jobs
        self._jobs: dict[str, _Job] = {}
        self._by_connection: dict[tuple[str, str], str] = {}

    def __repr__(self) -> str:
        return f"SyncManager(jobs={len(self._jobs)})"

    def active_run_id(self, connector_config_id: str, user_id: str) -> str | None:
        """The run of this connection this process is running, if any."""
        run_id = self._by_connection.get((connector_config_id, user_id))
        job = self._jobs.get(run_id) if run_id else None
        return run_id if job is not None and job.running else None

    async def start(
        self,
        config: ConnectorConfig,
        user_id: str,
        entity_types: Sequence[str] | None = None,
    ) -> tuple[RunView, bool]:
        """Start a sync run (or return the one running); ``(view, started)``."""
        running = self.active_run_id(config.id, user_id)
        if running is not None:
            return await self.view(running), False
        service = await self.connectors.factory.get_service_by_config(config.id, user_id)
        try:
            types = _check_entity_types(service, entity_types)
            await self._check_connected(config, user_id)
        except BaseException:
            await service.aclose()
            raise
        handle = RunHandle(config.id, user_id, tuple(types), _now())
        run_id = handle.encode()
        if self.queue:
            # A worker runs it; its progress is in sync_runs, like any other process's run.
            await service.aclose()
            from ..jobs import enqueue_sync_jobs

            queued = await enqueue_sync_jobs(self.connectors, config.id, user_id, types)
            started = any(job_id is not None for job_id in queued.values())
            return await self.view(run_id, provider=config.provider), started
        job = _Job(handle=handle, provider=config.provider)
        job.waits = {t: EntityProgress(t) for t in types}
        self._jobs[run_id] = job
        self._by_connection[(config.id, user_id)] = run_id
        job.task = asyncio.create_task(self._run(job, service), name=f"sync {config.provider}")
        logger.debug("sync of %s for user %s started: %s", config.provider, user_id, types)
        return await self.view(run_id), True

    async def _check_connected(self, config: ConnectorConfig, user_id: str) -> None:
        data = await self.connectors.tokens.get_oauth_data(config.id, user_id)
        if data is None:
            raise GatewayError(
                409,
                "AUTHORIZATION_REQUIRED",
                f"{config.provider} is not connected for this user: connect it first.",
                reason="not_connected",
            )
        if data.status != "active":
            raise GatewayError(
                409,
                "AUTHORIZATION_REQUIRED",
                f"{config.provider} needs the user to reconnect: "
                f"{data.status_reason or data.status}.",
                reason=data.status_reason or data.status,
            )

    async def _run(self, job: _Job, service: ConnectorService[Any]) -> None:
        try:
            for entity_type in job.handle.entity_types:
                options = SyncOptions(sleep=self._sleeper(job.waits[entity_type]))
                for result in await service.sync([entity_type], options=options):
                    job.results[result.entity_type] = result
        except asyncio.CancelledError:
            job.error = "The gateway stopped during the sync; the next run resumes it."
            raise
        except AItError as exc:
            job.error = exc.message
            logger.warning("sync of %s stopped: %s", job.provider, exc.message)
        except Exception:
            job.error = "The sync failed unexpectedly; see the gateway's logs."
            logger.exception("sync of %s failed", job.provider)
        finally:
            await service.aclose()
            self._prune()

    @staticmethod
    def _sleeper(progress: EntityProgress) -> Any:
        async def sleep(seconds: float) -> None:
            # The engine sleeps only to wait out a rate limit: count it for the progress views.
            progress.rate_limit_waits += 1
            progress.waiting_until = _now() + timedelta(seconds=seconds)
            try:
                await asyncio.sleep(seconds)
            finally:
                progress.waited_seconds += seconds
                progress.waiting_until = None

        return sleep

    def _prune(self) -> None:
        # Keep finished runs' live details for a while (the rows in sync_runs stay forever).
        if len(self._jobs) <= 200:
            return
        for run_id in [r for r, j in self._jobs.items() if not j.running][:100]:
            job = self._jobs.pop(run_id)
            key = (job.handle.connector_config_id, job.handle.user_id)
            if self._by_connection.get(key) == run_id:
                del self._by_connection[key]

    async def view(self, run_id: str, *, provider: str | None = None) -> RunView:
        """The progress of a run, from ``sync_runs`` plus this process's live details."""
        handle = RunHandle.decode(run_id)
        job = self._jobs.get(run_id)
        query = (
            select(R)
            .where(
                R.c.connector_config_id == handle.connector_config_id,
                R.c.user_id == handle.user_id,
                R.c.entity_type.in_(handle.entity_types),
                R.c.started_at >= handle.started_at,
            )
            .order_by(R.c.started_at)
        )
        async with self.connectors.database.connect() as conn:
            rows = (await conn.execute(query)).all()
        first: dict[str, Any] = {}
        for row in rows:
            first.setdefault(row.entity_type, row)
        entities = []
        for entity_type in handle.entity_types:
            found = first.get(entity_type)
            progress = (
                _progress_from_row(found) if found is not None else EntityProgress(entity_type)
            )
            live = job.waits.get(entity_type) if job else None
            if live is not None:
                progress.rate_limit_waits = live.rate_limit_waits
                progress.waited_seconds = live.waited_seconds
                progress.waiting_until = live.waiting_until
            entities.append(progress)
        error = job.error if job else None
        if job is not None and not job.running:
            # Whatever never started will not start any more.
            for progress in entities:
                if progress.status == PENDING:
                    progress.status = RunStatus.FAILED if error else RunStatus.SKIPPED
                    progress.error = progress.error or error
        elif job is None and _now() - handle.started_at > ABANDONED_AFTER:
            for progress in entities:
                if progress.status in (PENDING, RUNNING) and progress.finished_at is None:
                    progress.status = RunStatus.INTERRUPTED
        status = _overall(entities)
        finished = [e.finished_at for e in entities if e.finished_at is not None]
        return RunView(
            run_id=run_id,
            provider=provider or (job.provider if job else ""),
            connector_config_id=handle.connector_config_id,
            user_id=handle.user_id,
            status=status,
            started_at=handle.started_at,
            finished_at=max(finished) if status not in (PENDING, RUNNING) and finished else None,
            entities=entities,
            error=error,
        )

    async def wait(self, run_id: str) -> None:
        """Until this process's run finished (tests and the CLI)."""
        job = self._jobs.get(run_id)
        if job is not None and job.task is not None:
            await asyncio.shield(job.task)

    async def shutdown(self) -> None:
        """Cancel running syncs (the engine records them as interrupted; the next run resumes)."""
        tasks = [job.task for job in self._jobs.values() if job.task and not job.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _check_entity_types(
    service: ConnectorService[Any], entity_types: Sequence[str] | None
) -> list[str]:
    registered = service.entity_types
    if not entity_types:
        if not registered:
            raise GatewayError(400, "NO_ENTITY_TYPES", "This provider has no entity types to sync.")
        return list(registered)
    unknown = [t for t in entity_types if t not in registered]
    if unknown:
        raise GatewayError(
            400,
            "UNKNOWN_ENTITY_TYPE",
            f"Unknown entity type(s) {', '.join(map(repr, unknown))}; "
            f"this provider has: {', '.join(registered) or 'none'}.",
        )
    return list(dict.fromkeys(entity_types))
