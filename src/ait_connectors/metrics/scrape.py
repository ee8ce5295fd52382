"""What ``/metrics`` answers: the recorded series plus gauges read from the database at scrape.

The gauges are computed per scrape with a few grouped queries (no per-connection series):

- ``ait_connections{vendor,state}``: stored connections by status;
- ``ait_sync_lag_seconds_max{vendor}`` and ``ait_sync_lagging{vendor,over}``: for the entity
  types of active connections, the age of the last completed scan (or of the sync state, for
  one never completed): the oldest, and how many are older than 1 h / 6 h / 24 h;
- ``ait_job_queue_jobs{queue,status}``: Procrastinate's jobs, when its schema is installed.

The recorded series come from this process, or with ``PROMETHEUS_MULTIPROC_DIR`` set, from the
files every process of the host (gateways, workers) writes there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Table, and_, case, func, select, text

from ..storage.db import Database
from ..storage.models import ConnectorConfigRow, OAuthTokenRow, TokenStatus
from ..storage.sync_models import SyncStateRow
from .definitions import REGISTRY
from .labels import OTHER, vendor_label

__all__ = ["CONTENT_TYPE", "LAG_THRESHOLDS", "render", "serve_process_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: ``over`` label of ``ait_sync_lagging`` → seconds.
LAG_THRESHOLDS = {"1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600}
_JOB_STATUSES = frozenset(
    {"todo", "doing", "succeeded", "failed", "cancelled", "aborting", "aborted"}
)
_MAX_QUEUES = 20

C = cast(Table, ConnectorConfigRow.__table__)
T = cast(Table, OAuthTokenRow.__table__)
S = cast(Table, SyncStateRow.__table__)
_HAS_QUEUE = text("SELECT to_regclass('procrastinate_jobs')")
_QUEUE_DEPTH = text(
    "SELECT queue_name, status, count(*) FROM procrastinate_jobs GROUP BY queue_name, status"
)


class _Families:
    """A collector over metric families built beforehand (the database is read async)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


async def render(database: Database | None, *, now: datetime | None = None) -> bytes:
    """The Prometheus text exposition of every series (database gauges when ``database``)."""
    registry = CollectorRegistry(auto_describe=False)
    if database is not None:
        registry.register(_Families(await read_gauges(database, now or datetime.now(UTC))))
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY) + generate_latest(registry)


def serve_process_metrics(port: int, host: str = "127.0.0.1") -> Callable[[], None]:
    """Serve this process's recorded series (no database gauges: the gateway's ``/metrics``
    has those) on ``host:port`` from a thread, without a credential: a worker on a host without
    a gateway (``ait-connectors worker --metrics-port``). Returns what stops it."""
    registry: CollectorRegistry = REGISTRY
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


async def read_gauges(database: Database, now: datetime) -> list[Metric]:
    async with database.read() as conn:
        connections = (
            await conn.execute(
                select(C.c.provider, T.c.status, func.count())
                .select_from(T.join(C, C.c.id == T.c.connector_config_id))
                .group_by(C.c.provider, T.c.status)
            )
        ).all()
        lag = (await conn.execute(_lag_query(now))).all()
        jobs = await _queue_depth(conn) if database.dialect == "postgresql" else []
    return [_connections(connections), *_lag(lag, now), _jobs(jobs)]


def _connections(rows: Iterable[Any]) -> Metric:
    family = GaugeMetricFamily(
        "ait_connections", "Stored connections by state.", labels=("vendor", "state")
    )
    totals: dict[tuple[str, str], int] = {}
    for provider, status, count in rows:
        state = status if status in _TOKEN_STATES else OTHER
        key = (vendor_label(provider), state)
        totals[key] = totals.get(key, 0) + int(count)
    for (vendor, state), count in sorted(totals.items()):
        family.add_metric((vendor, state), count)
    return family


_TOKEN_STATES = frozenset(
    {TokenStatus.ACTIVE, TokenStatus.NEEDS_REAUTH, TokenStatus.REVOKED, TokenStatus.ERROR}
)


def _lag_query(now: datetime) -> Any:
    # A sync state never completed lags since it was created.
    since = func.coalesce(S.c.last_completed_at, S.c.created_at)
    over = [
        func.sum(case((since < now - timedelta(seconds=s), 1), else_=0))
        for s in LAG_THRESHOLDS.values()
    ]
    joined = S.join(C, C.c.id == S.c.connector_config_id).join(
        T, and_(T.c.connector_config_id == S.c.connector_config_id, T.c.user_id == S.c.user_id)
    )
    return (
        select(C.c.provider, func.min(since), *over)
        .select_from(joined)
        .where(T.c.status == TokenStatus.ACTIVE)
        .group_by(C.c.provider)
    )


def _lag(rows: Iterable[Any], now: datetime) -> list[Metric]:
    oldest = GaugeMetricFamily(
        "ait_sync_lag_seconds_max",
        "Age of the oldest last completed scan among active connections' entity types.",
        labels=("vendor",),
    )
    lagging = GaugeMetricFamily(
        "ait_sync_lagging",
        "Entity types of active connections whose last completed scan is older than `over`.",
        labels=("vendor", "over"),
    )
    ages: dict[str, float] = {}
    counts: dict[tuple[str, str], int] = {}
    for provider, since, *over in rows:
        vendor = vendor_label(provider)
        age = max(0.0, (now - since).total_seconds()) if since is not None else 0.0
        ages[vendor] = max(ages.get(vendor, 0.0), age)
        for name, count in zip(LAG_THRESHOLDS, over, strict=True):
            counts[(vendor, name)] = counts.get((vendor, name), 0) + int(count or 0)
    for vendor, age in sorted(ages.items()):
        oldest.add_metric((vendor,), age)
    for labels, count in sorted(counts.items()):
        lagging.add_metric(labels, count)
    return [oldest, lagging]


async def _queue_depth(conn: Any) -> list[Any]:
    if (await conn.execute(_HAS_QUEUE)).scalar() is None:
        return []
    return list((await conn.execute(_QUEUE_DEPTH)).all())


def _jobs(rows: Iterable[Any]) -> Metric:
    family = GaugeMetricFamily(
        "ait_job_queue_jobs",
        "Jobs in the job queue by queue and status.",
        labels=("queue", "status"),
    )
    totals: dict[tuple[str, str], int] = {}
    queues: set[str] = set()
    for queue, status, count in rows:
        if queue not in queues and len(queues) >= _MAX_QUEUES:
            queue = OTHER
        queues.add(queue)
        key = (str(queue), str(status) if status in _JOB_STATUSES else OTHER)
        totals[key] = totals.get(key, 0) + int(count)
    for labels, count in sorted(totals.items()):
        family.add_metric(labels, count)
    return family
