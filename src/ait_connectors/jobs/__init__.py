"""Distributed syncs on PostgreSQL: Procrastinate jobs run by ``ait-connectors worker``.

On the embedded SQLite default there is no queue: syncs run in the gateway or CLI process. On
PostgreSQL (unless ``AIT_JOBS=inline``) the gateway's run service queues them through
:class:`QueueLauncher` and workers run the jobs: on-demand syncs, periodic syncs per cadence
tier, a daily keep-alive refresh of idle tokens, and resumption after a rate limit at the
reported reset time; one sync per connection and entity type at a time. The job tables live
in the same database (:func:`apply_job_schema`, also run by ``ait-connectors db upgrade`` and
by each worker at start). See ``tasks`` for the tasks and schedules, ``config`` for the
``AIT_*`` variables.
"""

from .config import JobSettings, conninfo_from_url, jobs_enabled
from .enqueue import enqueue_sync, enqueue_sync_jobs, sync_lock
from .launcher import QueueLauncher
from .schema import apply_job_schema
from .tasks import build_app, enqueue_tier, keep_alive, maintenance
from .worker import run_worker

__all__ = [
    "JobSettings",
    "QueueLauncher",
    "apply_job_schema",
    "build_app",
    "conninfo_from_url",
    "enqueue_sync",
    "enqueue_sync_jobs",
    "enqueue_tier",
    "jobs_enabled",
    "keep_alive",
    "maintenance",
    "run_worker",
    "sync_lock",
]
