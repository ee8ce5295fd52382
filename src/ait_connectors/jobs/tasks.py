"""The Procrastinate app and its tasks: syncs, cadence tiers, token keep-alive, housekeeping.

Tasks (all named explicitly, so that queued jobs survive module moves):

- ``ait_connectors.sync_connection(config_id, user_id, entity_types[, parents])``: one entity
  type per job (``parents``: only those, a webhook named them; see ``sync.limited``),
  with ``lock`` = ``queueing_lock`` = the (connection, entity type) key: a second job is not
  queued while one waits, and two never run at once. A job ends without calling the vendor when
  a run that started after its request succeeded (``coalesce``). A rate-limited result queues the
  next job at the vendor's reset time (``schedule_at``); a worker shutting down queues it again at
  once (both on behalf of the same request).
- ``ait_connectors.sync_tier(tier)``, periodic: ``hourly`` at minute 5, ``daily`` at 03:15 (UTC);
  queues a sync of every entity type of every active connection whose provider is in that tier
  (``AIT_SYNC_CADENCE`` / ``AIT_SYNC_CADENCES``; default ``daily``).
- ``ait_connectors.keep_alive``, daily at 04:45: refreshes the tokens of idle connections that
  expire within a day, so refresh tokens that die unused stay alive and revoked grants are found
  (``needs_reauth``) before a user needs the connection.
- ``ait_connectors.renew_subscriptions``, hourly at minute 25: renews the push subscriptions
  the framework made at vendors (Google Calendar watch channels) that expire within a day.
- ``ait_connectors.maintenance``, every 10 minutes: deletes finished jobs after a week, and
  recovers the jobs of dead workers (each worker does that every heartbeat: see ``recovery``),
  and forgets expired provider-webhook delivery ids.

Periodic jobs are deduplicated by Procrastinate across workers (one job per task and tick), and
carry a queueing lock so a backlog never holds two of the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import cast

from procrastinate import App, JobContext, PsycopgConnector
from procrastinate.job_context import AbortReason
from sqlalchemy import Table, func, select

from ..errors import AItError, AuthorizationRequiredError
from ..inbound.renewal import renew_subscriptions
from ..inbound.store import InboundStore
from ..registry import get_vendor
from ..runtime import Connectors
from ..settings import Settings, get_settings
from ..storage.models import ConnectorConfigRow, OAuthTokenRow, TokenStatus
from ..storage.sync_models import RunStatus
from ..sync.config import SyncRunResult
from ..sync.runs import SyncRuns
from .coalesce import covering_run, parse_mark
from .config import TIERS, conninfo_from_url, load_job_settings
from .context import connectors_of
from .enqueue import HOUSEKEEPING_PRIORITY, SYNC_QUEUE, SYNC_TASK, defer_sync
from .ratelimits import postpone_sync, rate_limited_until
from .recovery import recover_stalled_jobs
from .webhooks import register_webhook_tasks

__all__ = [
    "COVERED",
    "CRONS",
    "KEEPALIVE_TASK",
    "MAINTENANCE_TASK",
    "RENEW_TASK",
    "TIER_TASK",
    "build_app",
    "enqueue_tier",
    "keep_alive",
    "maintenance",
    "run_sync_job",
]

logger = logging.getLogger(__name__)

TIER_TASK = "ait_connectors.sync_tier"
KEEPALIVE_TASK = "ait_connectors.keep_alive"
MAINTENANCE_TASK = "ait_connectors.maintenance"
RENEW_TASK = "ait_connectors.renew_subscriptions"

CRONS = {"hourly": "5 * * * *", "daily": "15 3 * * *"}
KEEPALIVE_CRON = "45 4 * * *"
MAINTENANCE_CRON = "*/10 * * * *"
RENEW_CRON = "25 * * * *"

# A rate limit without a reset time (rare: the engine has one from the headers or Retry-After).
RATE_LIMIT_FALLBACK = timedelta(minutes=15)
# Keep-alive: tokens expiring before the next daily run, of connections nothing refreshed (or
# connected) for 20 h — less than a day, so that a daily run's own refresh never hides the next.
KEEPALIVE_WINDOW = timedelta(hours=24)
KEEPALIVE_IDLE = timedelta(hours=20)
KEEP_FINISHED_JOBS_HOURS = 7 * 24

# A job's outcome for an entity type that a run started after the request already synced.
COVERED = "covered"

T = cast(Table, OAuthTokenRow.__table__)
C = cast(Table, ConnectorConfigRow.__table__)


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------- syncs


async def run_sync_job(
    connectors: Connectors,
    config_id: str,
    user_id: str,
    entity_types: list[str],
    *,
    mark: datetime | None = None,
    now: datetime | None = None,
    parents: frozenset[str] | None = None,
) -> dict[str, str]:
    """Sync, then queue what a rate limit postponed; entity type → run status.

    An entity type still rate-limited (by an earlier run) is not run: it waits for its reset
    time, whoever queued this job. One that a run started after ``mark`` (the request's
    ``runs_seen_until``) synced successfully is not run either: that run answered the request.
    """
    now = now or _now()
    database = connectors.database
    limited = await rate_limited_until(database, config_id, user_id, entity_types, now)
    outcome: dict[str, str] = {}
    for entity_type, resume_at in limited.items():
        await postpone_sync(
            database, config_id, user_id, entity_type, resume_at, mark=mark, parents=parents
        )
        outcome[entity_type] = RunStatus.RATE_LIMITED
        logger.info(
            "%s of %s is rate limited until %s: not run before",
            entity_type,
            config_id,
            resume_at.isoformat(),
        )
    wanted = []
    for entity_type in (t for t in entity_types if t not in limited):
        covered = None
        if mark is not None:
            covered = await covering_run(database, config_id, user_id, entity_type, mark)
        if covered is None:
            wanted.append(entity_type)
            continue
        outcome[entity_type] = COVERED
        logger.info(
            "%s of %s for %s: run %s started after the request and succeeded; not run again",
            entity_type,
            config_id,
            user_id,
            covered,
        )
    if not wanted:
        return outcome
    try:
        limits = {t: parents for t in wanted} if parents else None
        results = await SyncRuns(connectors).run(config_id, user_id, wanted, parents=limits)
    except AItError as exc:
        # Deleted or disabled config, not connected, no implementation: nothing to retry; the
        # next periodic run tries again if the connection comes back.
        logger.warning("sync of %s for user %s not run: %s", config_id, user_id, exc.message)
        return {**outcome, **{t: f"not run: {exc.code}" for t in wanted}}
    for result in results:
        outcome[result.entity_type] = result.status
        _log_result(config_id, user_id, result)
        if result.status != RunStatus.RATE_LIMITED:
            continue
        resume_at = result.resume_at or _now() + RATE_LIMIT_FALLBACK
        job_id = await postpone_sync(
            database, config_id, user_id, result.entity_type, resume_at, mark=mark, parents=parents
        )
        logger.info(
            "%s of %s rate limited: resumes at %s (%s)",
            result.entity_type,
            config_id,
            resume_at.isoformat(),
            f"job {job_id}" if job_id is not None else "the job already waiting moved there",
        )
    return outcome


def _log_result(config_id: str, user_id: str, result: SyncRunResult) -> None:
    logger.info(
        "sync of %s for %s/%s: %s (%d pages, %d added, %d updated, %d deleted)%s",
        result.entity_type,
        config_id,
        user_id,
        result.status,
        result.pages,
        result.added,
        result.updated,
        result.deleted,
        f": {result.error}" if result.error else "",
    )


async def _sync_connection(
    context: JobContext,
    config_id: str,
    user_id: str,
    entity_types: list[str],
    runs_seen_until: str | None = None,  # jobs queued before coalescing existed have none
    parents: list[str] | None = None,  # only these parents (a webhook named them)
) -> dict[str, str]:
    connectors = connectors_of(context)
    mark = parse_mark(runs_seen_until)
    limit = frozenset(parents) if parents else None
    try:
        return await run_sync_job(
            connectors, config_id, user_id, entity_types, mark=mark, parents=limit
        )
    except asyncio.CancelledError:
        if context.abort_reason() is AbortReason.SHUTDOWN:
            # The engine recorded the run as interrupted at its last committed page: queue it
            # again so that another worker (or this one, restarted) resumes from there.
            for entity_type in entity_types:
                await asyncio.shield(
                    defer_sync(
                        connectors.database,
                        config_id,
                        user_id,
                        entity_type,
                        mark=mark,
                        parents=limit,
                    )
                )
        raise


# ------------------------------------------------------------------------------ cadence tiers


async def enqueue_tier(connectors: Connectors, tier: str) -> int:
    """Queue syncs of every active connection in ``tier``; how many jobs were queued."""
    job_settings = load_job_settings()
    provider_tiers = job_settings.provider_tiers()
    query = (
        select(T.c.connector_config_id, T.c.user_id, C.c.provider)
        .join(C, C.c.id == T.c.connector_config_id)
        .where(T.c.status == TokenStatus.ACTIVE, C.c.enabled.is_(True))
        .order_by(T.c.created_at)
    )
    async with connectors.database.connect() as conn:
        rows = (await conn.execute(query)).all()
    types_of: dict[str, tuple[str, ...]] = {}
    queued = 0
    for config_id, user_id, provider in rows:
        if provider_tiers.get(provider, job_settings.sync_cadence) != tier:
            continue
        if provider not in types_of:
            # Declared at class level: no connection is built to find them.
            try:
                types_of[provider] = get_vendor(provider).entity_types
            except AItError as exc:
                logger.warning("no periodic sync of %s: %s", provider, exc.message)
                types_of[provider] = ()
        for entity_type in types_of[provider]:
            if await defer_sync(connectors.database, config_id, user_id, entity_type):
                queued += 1
    logger.info("%s syncs: %d jobs queued", tier, queued)
    return queued


async def _sync_tier(context: JobContext, timestamp: int, tier: str) -> int:
    return await enqueue_tier(connectors_of(context), tier)


# --------------------------------------------------------------------------------- keep-alive


async def keep_alive(connectors: Connectors, *, now: datetime | None = None) -> dict[str, int]:
    """Refresh the tokens of idle connections that expire within a day.

    Counts: ``checked``, ``refreshed``, ``needs_reauth`` (the provider refused the refresh: the
    connection is marked and waits for the user), ``failed`` (network, provider errors).
    """
    now = now or _now()
    last_activity = func.coalesce(T.c.last_refreshed_at, T.c.updated_at)
    query = (
        select(T.c.connector_config_id, T.c.user_id, T.c.expires_at)
        .join(C, C.c.id == T.c.connector_config_id)
        .where(
            T.c.status == TokenStatus.ACTIVE,
            T.c.refresh_token_enc.is_not(None),
            T.c.expires_at.is_not(None),
            T.c.expires_at <= now + KEEPALIVE_WINDOW,
            last_activity <= now - KEEPALIVE_IDLE,
            C.c.enabled.is_(True),
        )
        .order_by(T.c.expires_at)
    )
    async with connectors.database.connect() as conn:
        rows = (await conn.execute(query)).all()
    counts: Counter[str] = Counter(checked=0, refreshed=0, needs_reauth=0, failed=0)
    for config_id, user_id, expires_at in rows:
        counts["checked"] += 1
        try:
            connector = await connectors.factory.get_connector(config_id, user_id)
            # get_access_token() refreshes tokens expiring within ``skew``: stretch it to the
            # token seen here, so a newer one (another process just refreshed) is left alone.
            connector.skew = max(connector.skew, (expires_at - now).total_seconds() + 1)
            await connector.get_access_token()
        except AuthorizationRequiredError as exc:
            counts["needs_reauth"] += 1
            logger.info("keep-alive: %s for user %s: %s", config_id, user_id, exc.message)
        except Exception as exc:  # one connection's failure must not stop the others
            counts["failed"] += 1
            logger.warning(
                "keep-alive: refreshing %s for user %s failed: %s", config_id, user_id, exc
            )
        else:
            counts["refreshed"] += 1
    logger.info("keep-alive: %s", dict(counts))
    return dict(counts)


async def _keep_alive(context: JobContext, timestamp: int) -> dict[str, int]:
    return await keep_alive(connectors_of(context))


# -------------------------------------------------------------------------------- housekeeping


async def maintenance(app: App, connectors: Connectors) -> int:
    """Recover the jobs of dead workers (every worker also does it every heartbeat: this is
    the backstop) and delete old finished jobs; how many stalled jobs were recovered."""
    dead_after = load_job_settings().worker_dead_after
    recovered = await recover_stalled_jobs(app, connectors, dead_after=dead_after)
    await app.job_manager.delete_old_jobs(
        nb_hours=KEEP_FINISHED_JOBS_HOURS,
        include_failed=True,
        include_cancelled=True,
        include_aborted=True,
    )
    await InboundStore(connectors.database, connectors.cipher).prune()
    return recovered


async def _maintenance(context: JobContext, timestamp: int) -> int:
    return await maintenance(context.app, connectors_of(context))


async def _renew_subscriptions(context: JobContext, timestamp: int) -> dict[str, int]:
    return await renew_subscriptions(connectors_of(context))


# ---------------------------------------------------------------------------------------- app


def register_tasks(app: App) -> None:
    """Add the tasks and their periodic schedules to ``app``."""
    app.task(name=SYNC_TASK, pass_context=True, queue=SYNC_QUEUE)(_sync_connection)
    tier_task = app.task(name=TIER_TASK, pass_context=True, priority=HOUSEKEEPING_PRIORITY)(
        _sync_tier
    )
    for tier in TIERS:
        if tier in CRONS:
            app.periodic(
                cron=CRONS[tier],
                periodic_id=tier,
                queueing_lock=f"ait-tier/{tier}",
                task_kwargs={"tier": tier},
            )(tier_task)
    keepalive_task = app.task(
        name=KEEPALIVE_TASK,
        pass_context=True,
        priority=HOUSEKEEPING_PRIORITY,
        queueing_lock=KEEPALIVE_TASK,
    )(_keep_alive)
    app.periodic(cron=KEEPALIVE_CRON)(keepalive_task)
    maintenance_task = app.task(
        name=MAINTENANCE_TASK,
        pass_context=True,
        priority=HOUSEKEEPING_PRIORITY,
        queueing_lock=MAINTENANCE_TASK,
    )(_maintenance)
    app.periodic(cron=MAINTENANCE_CRON)(maintenance_task)
    renew_task = app.task(
        name=RENEW_TASK,
        pass_context=True,
        priority=HOUSEKEEPING_PRIORITY,
        queueing_lock=RENEW_TASK,
    )(_renew_subscriptions)
    app.periodic(cron=RENEW_CRON)(renew_task)
    register_webhook_tasks(app)


def build_app(settings: Settings | None = None, *, pool_size: int = 4) -> App:
    """A Procrastinate app on the ``AIT_DATABASE_URL`` database, with every task registered.

    Not opened: the worker opens it (``async with app.open_async()``).
    """
    settings = settings or get_settings()
    connector = PsycopgConnector(
        conninfo=conninfo_from_url(settings.resolved_database_url),
        min_size=1,
        max_size=pool_size,
    )
    # A worker starting after a missed tick (none ran at 03:15) still runs it.
    catch_up = load_job_settings().periodic_catch_up
    app = App(connector=connector, periodic_defaults={"max_delay": catch_up})
    register_tasks(app)
    return app
