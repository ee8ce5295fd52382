"""``SyncRuns``: the one sync-run service of the gateway, the CLI and the worker.

A *run* covers the entity types one request asked for; the engine records one ``sync_runs`` row
per entity type, updated after every committed page. The run id is a small self-describing
handle (connection, entity types, start time), so any process sharing the database answers for
a run from those rows, not only the one running it. Where a run executes is the launcher's
business (:class:`RunLauncher`): :class:`~ait_connectors.sync.launchers.InProcessLauncher` runs it
as an asyncio task of this process and adds what only it knows (rate-limit waits as they happen,
a failure before the engine started); ``ait_connectors.jobs.QueueLauncher`` queues it for
``ait-connectors worker`` processes.

::

    runs = SyncRuns(connectors)                       # in-process launcher
    view, started = await runs.start(config, "alice")  # RunView: status, entities, counts
    view = await runs.view(view.run_id)                # progress, from any process
    results = await runs.run(config.id, "alice")       # run to completion here (the worker)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, func, select

from ..errors import AItError, AuthorizationRequiredError, ConfigurationError
from ..registry import get_vendor
from ..runtime import Connectors
from ..storage.configs import ConnectorConfig
from ..storage.sync_models import RecordRow, RunStatus, SyncRunRow, SyncStateRow
from .config import RunCounts, SyncOptions, SyncRunResult

__all__ = [
    "PENDING",
    "EntityRun",
    "LiveRun",
    "RunHandle",
    "RunLauncher",
    "RunNotFoundError",
    "RunView",
    "SyncRuns",
    "UnknownEntityTypeError",
    "WaitingJob",
    "check_entity_types",
]

R = SyncRunRow.__table__
REC = RecordRow.__table__
ST = SyncStateRow.__table__
# Connections whose record counts are kept (the oldest is forgotten first).
_COUNTS_KEPT = 10_000
PENDING = "pending"
RUNNING = RunStatus.RUNNING
# Statuses after which the next run of the entity type carries on with the same scan.
_CONTINUED = (RunStatus.INTERRUPTED, RunStatus.RATE_LIMITED)
# A run nobody runs any more (its process died before starting some entity types) stops being
# reported as running after this long.
ABANDONED_AFTER = timedelta(minutes=30)


def _now() -> datetime:
    return datetime.now(UTC)


class RunNotFoundError(AItError):
    """No run has this id (malformed, or not a run of this deployment)."""

    def __init__(self) -> None:
        super().__init__("RUN_NOT_FOUND", "No sync run with this id.")


class UnknownEntityTypeError(ConfigurationError):
    """A run asked for entity types the vendor does not declare (or it declares none)."""

    def __init__(self, code: str, message: str) -> None:
        AItError.__init__(self, code, message)


@dataclass(frozen=True)
class RunHandle:
    """What a run id encodes: the connection, the entity types and when the run started."""

    connector_config_id: str
    user_id: str
    entity_types: tuple[str, ...]
    started_at: datetime
    #: Entity type → the only parents to read (not in the id: a run is followed per type).
    parents: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False)

    @property
    def run_id(self) -> str:
        body = {
            "c": self.connector_config_id,
            "u": self.user_id,
            "e": list(self.entity_types),
            "t": self.started_at.isoformat(),
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        return "run_" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def encode(self) -> str:
        return self.run_id

    @classmethod
    def decode(cls, run_id: str) -> RunHandle:
        if not run_id.startswith("run_") or len(run_id) > 2048:
            raise RunNotFoundError
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
            raise RunNotFoundError from None
        if not handle.entity_types:
            raise RunNotFoundError
        return handle


@dataclass
class EntityRun:
    """Where one entity type of a run stands."""

    entity_type: str
    status: str = PENDING
    counts: RunCounts = field(default_factory=RunCounts)
    rate_limit_waits: int = 0
    waited_seconds: float = 0.0
    waiting_until: datetime | None = None
    error: str | None = None
    resume_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    job_id: str | None = None  # the queued job that will run (or resume) this entity type
    scheduled_at: datetime | None = None  # when that job starts (None: as soon as a worker can)
    error_code: str | None = None

    @property
    def finished(self) -> bool:
        return self.status not in (PENDING, RUNNING) and not self.resuming

    @property
    def resuming(self) -> bool:
        """Interrupted, and a queued job resumes it from its last committed page."""
        return self.status == RunStatus.INTERRUPTED and self.job_id is not None

    @classmethod
    def from_row(cls, row: Any) -> EntityRun:
        """From a ``sync_runs`` row."""
        counts = RunCounts(
            pages=row.pages or 0,
            added=row.added or 0,
            updated=row.updated or 0,
            unchanged=row.unchanged or 0,
            deleted=row.deleted or 0,
        )
        return cls(
            entity_type=row.entity_type,
            status=row.status,
            counts=counts,
            error=row.error,
            resume_at=row.resume_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            error_code=row.error_code,
        )

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "entity_type": self.entity_type,
            "status": self.status,
            **self.counts.as_dict(),
            "rate_limit_waits": self.rate_limit_waits,
            "waited_seconds": round(self.waited_seconds, 3),
            "waiting_until": iso(self.waiting_until),
            "error": self.error,
            "resume_at": iso(self.resume_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "job_id": self.job_id,
            "scheduled_at": iso(self.scheduled_at),
        }


@dataclass(frozen=True)
class WaitingJob:
    """A job queued for one entity type (the queue launcher's), and when it starts."""

    job_id: str
    scheduled_at: datetime | None


@dataclass
class RunView:
    """A run as every face shows it."""

    run_id: str
    provider: str
    connector_config_id: str
    user_id: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    entities: list[EntityRun]
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status not in (PENDING, RUNNING)

    @property
    def counts(self) -> RunCounts:
        """The entity types' counts added up."""
        total = RunCounts()
        for entity in self.entities:
            total += entity.counts
        return total

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
class LiveRun:
    """What the process running a run knows beyond ``sync_runs``."""

    provider: str
    running: bool
    waits: dict[str, EntityRun] = field(default_factory=dict)
    error: str | None = None


class RunLauncher(Protocol):
    """Where runs execute. ``launch`` returns whether new work was started (or queued)."""

    async def launch(self, runs: SyncRuns, handle: RunHandle, provider: str) -> bool: ...

    def live(self, run_id: str) -> LiveRun | None: ...

    def active_run_id(self, connector_config_id: str, user_id: str) -> str | None: ...

    async def waiting_jobs(self, handle: RunHandle) -> dict[str, WaitingJob]:
        """Entity type → the job waiting to run it (launchers without a queue: none)."""
        ...

    async def wait(self, run_id: str) -> None: ...

    async def shutdown(self) -> None: ...


def _overall(entities: Sequence[EntityRun]) -> str:
    statuses = {e.status for e in entities}
    if statuses & {PENDING, RUNNING} or any(e.resuming for e in entities):
        return RUNNING
    for worst in (RunStatus.FAILED, RunStatus.INTERRUPTED, RunStatus.RATE_LIMITED):
        if worst in statuses:
            return worst
    if statuses == {RunStatus.SKIPPED}:
        return RunStatus.SKIPPED
    return RunStatus.SUCCEEDED


def check_entity_types(
    provider: str, declared: Sequence[str], wanted: Sequence[str] | None
) -> list[str]:
    """``wanted`` (default: every declared type), checked against what the vendor declares."""
    if not wanted:
        if not declared:
            raise UnknownEntityTypeError(
                "NO_ENTITY_TYPES", f"The {provider} vendor declares no entity types to sync."
            )
        return list(declared)
    unknown = [t for t in wanted if t not in declared]
    if unknown:
        raise UnknownEntityTypeError(
            "UNKNOWN_ENTITY_TYPE",
            f"Unknown entity type(s) {', '.join(map(repr, unknown))}; "
            f"{provider} has: {', '.join(declared) or 'none'}.",
        )
    return list(dict.fromkeys(wanted))


class SyncRuns:
    """Start runs, follow them, and report a connection's latest runs and record counts."""

    def __init__(self, connectors: Connectors, launcher: RunLauncher | None = None) -> None:
        if launcher is None:
            from .launchers import InProcessLauncher

            launcher = InProcessLauncher()
        self.connectors = connectors
        self.launcher = launcher
        # (config, user) -> (sync_state fingerprint, record counts): see record_counts.
        self._counts: dict[tuple[str, str], tuple[tuple[Any, ...], dict[str, int]]] = {}

    def __repr__(self) -> str:
        return f"SyncRuns(launcher={type(self.launcher).__name__})"

    def active_run_id(self, connector_config_id: str, user_id: str) -> str | None:
        """The run of this connection that this process is running, if any."""
        return self.launcher.active_run_id(connector_config_id, user_id)

    async def start(
        self,
        config: ConnectorConfig,
        user_id: str,
        entity_types: Sequence[str] | None = None,
        *,
        parents: Mapping[str, frozenset[str]] | None = None,
    ) -> tuple[RunView, bool]:
        """Start a run (or find the one running): ``(view, started)``. ``parents[t]`` limits
        entity type ``t`` to those parents (a walked type; others run whole).

        Raises :class:`UnknownEntityTypeError` and, for a connection without a usable token,
        :class:`AuthorizationRequiredError` (nothing is started then).
        """
        running = self.active_run_id(config.id, user_id)
        if running is not None:
            return await self.view(running, provider=config.provider), False
        declared = get_vendor(config.provider).entity_types
        types = check_entity_types(config.provider, declared, entity_types)
        await self._check_connected(config, user_id)
        limits = {t: frozenset(p) for t, p in (parents or {}).items() if t in types and p}
        handle = RunHandle(config.id, user_id, tuple(types), _now(), limits)
        started = await self.launcher.launch(self, handle, config.provider)
        return await self.view(handle.run_id, provider=config.provider), started

    async def _check_connected(self, config: ConnectorConfig, user_id: str) -> None:
        data = await self.connectors.tokens.get_oauth_data(config.id, user_id)
        if data is None:
            raise AuthorizationRequiredError(
                f"{config.provider} is not connected for this user: connect it first.",
                reason="not_connected",
            )
        if data.status != "active":
            reason = data.status_reason or data.status
            raise AuthorizationRequiredError(
                f"{config.provider} needs the user to reconnect: {reason}.", reason=reason
            )

    async def run(
        self,
        connector_config_id: str,
        user_id: str,
        entity_types: Sequence[str] | None = None,
        *,
        options: SyncOptions | None = None,
        parents: Mapping[str, frozenset[str]] | None = None,
    ) -> list[SyncRunResult]:
        """Run a sync to completion in this process (the worker, ``sync()``); one result per
        entity type, failures inside the results (configuration errors are raised)."""
        factory = self.connectors.factory
        service = await factory.get_service_by_config(connector_config_id, user_id)
        try:
            return await service.sync(entity_types, options=options, parents=parents)
        finally:
            await service.aclose()
            # Retention of the changes feed: after syncs, at most every few minutes a process.
            await self.connectors.feed.prune_if_due()

    async def view(self, run_id: str, *, provider: str | None = None) -> RunView:
        """The progress of a run, from ``sync_runs`` plus this process's live details."""
        handle = RunHandle.decode(run_id)
        live = self.launcher.live(run_id)
        rows = await self._rows_since(handle)
        entities = []
        for entity_type in handle.entity_types:
            found = rows.get(entity_type)
            entity = EntityRun.from_row(found) if found is not None else EntityRun(entity_type)
            wait = live.waits.get(entity_type) if live else None
            if wait is not None:
                entity.rate_limit_waits = wait.rate_limit_waits
                entity.waited_seconds = wait.waited_seconds
                entity.waiting_until = wait.waiting_until
            entities.append(entity)
        _attach_jobs(entities, await self.launcher.waiting_jobs(handle), _now())
        if live is None:
            await self._answered_before(handle, entities)
        _settle(entities, handle, live)
        status = _overall(entities)
        finished = [e.finished_at for e in entities if e.finished_at is not None]
        return RunView(
            run_id=run_id,
            provider=provider or (live.provider if live else ""),
            connector_config_id=handle.connector_config_id,
            user_id=handle.user_id,
            status=status,
            started_at=handle.started_at,
            finished_at=max(finished) if status not in (PENDING, RUNNING) and finished else None,
            entities=entities,
            error=live.error if live else None,
        )

    async def _rows_since(self, handle: RunHandle) -> dict[str, Any]:
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
        async with self.connectors.database.read() as conn:
            rows = (await conn.execute(query)).all()
        shown: dict[str, Any] = {}
        for row in rows:
            # The run's own row, or the run that resumed it after an interruption or a limit.
            found = shown.get(row.entity_type)
            if found is None or found.status in _CONTINUED:
                shown[row.entity_type] = row
        return shown

    async def _answered_before(self, handle: RunHandle, entities: list[EntityRun]) -> None:
        """Entity types that no run started for since the request and no job waits for: the run
        that was starting when the request came and succeeded after it answered it (the job
        queued for the request found it done and ended: ``ait_connectors.jobs.coalesce``)."""
        missing = {e.entity_type: i for i, e in enumerate(entities) if e.status == PENDING}
        missing = {t: i for t, i in missing.items() if entities[i].job_id is None}
        if not missing:
            return
        query = (
            select(R)
            .where(
                R.c.connector_config_id == handle.connector_config_id,
                R.c.user_id == handle.user_id,
                R.c.entity_type.in_(list(missing)),
                R.c.status == RunStatus.SUCCEEDED,
                R.c.started_at < handle.started_at,
                R.c.finished_at >= handle.started_at,
            )
            .order_by(R.c.started_at)
        )
        async with self.connectors.database.connect() as conn:
            rows = (await conn.execute(query)).all()
        for row in rows:
            entities[missing[row.entity_type]] = EntityRun.from_row(row)

    async def latest(self, connector_config_id: str, user_id: str) -> list[EntityRun]:
        """The most recent run of each entity type of one connection."""
        newest = (
            select(R.c.entity_type, func.max(R.c.started_at).label("started_at"))
            .where(R.c.connector_config_id == connector_config_id, R.c.user_id == user_id)
            .group_by(R.c.entity_type)
            .subquery()
        )
        query = (
            select(R)
            .join(
                newest,
                and_(
                    R.c.entity_type == newest.c.entity_type, R.c.started_at == newest.c.started_at
                ),
            )
            .where(R.c.connector_config_id == connector_config_id, R.c.user_id == user_id)
            .order_by(R.c.entity_type)
        )
        async with self.connectors.database.read() as conn:
            rows = (await conn.execute(query)).all()
        seen: dict[str, EntityRun] = {}
        for row in rows:  # equal start times are possible in theory: keep one
            seen.setdefault(row.entity_type, EntityRun.from_row(row))
        return list(seen.values())

    async def record_counts(self, connector_config_id: str, user_id: str) -> dict[str, int]:
        """Live (not deleted) records per entity type of one connection.

        Counting is a scan of the connection's records, so the result is kept until the
        connection's ``sync_state`` rows change: every committed page, sweep and purge changes
        them (in the same transaction as the records), in whichever process it ran.
        """
        key = (connector_config_id, user_id)
        async with self.connectors.database.read() as conn:
            marks = await conn.execute(
                select(ST.c.entity_type, ST.c.generation, ST.c.pages_in_scan, ST.c.updated_at)
                .where(ST.c.connector_config_id == connector_config_id, ST.c.user_id == user_id)
                .order_by(ST.c.entity_type)
            )
            # Read before counting: a page committed in between makes the next call count again.
            fingerprint = tuple(tuple(row) for row in marks.all())
            cached = self._counts.get(key)
            if cached is not None and cached[0] == fingerprint:
                return dict(cached[1])
            query = (
                select(REC.c.entity_type, func.count())
                .where(
                    REC.c.connector_config_id == connector_config_id,
                    REC.c.user_id == user_id,
                    REC.c.deleted_at.is_(None),
                )
                .group_by(REC.c.entity_type)
            )
            rows = (await conn.execute(query)).all()
        counts = {str(entity): int(count) for entity, count in rows}
        if len(self._counts) >= _COUNTS_KEPT:
            self._counts.pop(next(iter(self._counts)))
        self._counts[key] = (fingerprint, counts)
        return dict(counts)

    async def wait(self, run_id: str) -> None:
        """Until this process's run finished (tests and the CLI)."""
        await self.launcher.wait(run_id)

    async def shutdown(self) -> None:
        """Stop this process's runs (the engine records them as interrupted; the next resumes)."""
        await self.launcher.shutdown()


def _attach_jobs(entities: list[EntityRun], waiting: dict[str, WaitingJob], now: datetime) -> None:
    """The job waiting for each entity type; one scheduled later waits for a rate limit."""
    for entity in entities:
        job = waiting.get(entity.entity_type)
        if job is None or entity.status not in (PENDING, *_CONTINUED):
            continue
        entity.job_id, entity.scheduled_at = job.job_id, job.scheduled_at
        if job.scheduled_at is not None and job.scheduled_at > now:
            entity.status, entity.resume_at = RunStatus.RATE_LIMITED, job.scheduled_at


def _settle(entities: list[EntityRun], handle: RunHandle, live: LiveRun | None) -> None:
    """Entity types that will not start any more stop showing as pending or running."""
    error = live.error if live else None
    if live is not None and not live.running:
        for i, entity in enumerate(entities):
            if entity.status == PENDING:
                status = RunStatus.FAILED if error else RunStatus.SKIPPED
                entities[i] = replace(entity, status=status, error=entity.error or error)
    elif live is None and _now() - handle.started_at > ABANDONED_AFTER:
        for i, entity in enumerate(entities):
            if entity.status in (PENDING, RUNNING) and entity.finished_at is None:
                entities[i] = replace(entity, status=RunStatus.INTERRUPTED)
