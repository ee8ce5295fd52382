"""Job settings: inline or queued syncs, cadence tiers, extra modules, the libpq conninfo."""

from __future__ import annotations

import importlib
from typing import Literal, get_args

from psycopg.conninfo import make_conninfo
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from ..errors import ConfigurationError
from ..settings import Settings, get_settings, normalise_database_url

__all__ = [
    "SQLITE_MESSAGE",
    "JobSettings",
    "Tier",
    "cadence_of",
    "conninfo_from_url",
    "import_extra_modules",
    "jobs_enabled",
    "load_job_settings",
]

Tier = Literal["hourly", "daily", "off"]
TIERS: tuple[str, ...] = get_args(Tier)
DAY = 24 * 3600.0
SQLITE_MESSAGE = "the worker needs PostgreSQL; on the embedded default syncs run in the gateway"


class JobSettings(BaseSettings):
    """The ``AIT_*`` variables of the job queue (read on each use; they are few and cheap).

    - ``AIT_JOBS``: ``queue`` or ``inline``; unset = queue on PostgreSQL, inline on SQLite.
    - ``AIT_SYNC_CADENCE``: the periodic tier of every connection (``hourly``, ``daily``, ``off``).
    - ``AIT_SYNC_CADENCES``: per-provider tiers overriding it, e.g. ``github=hourly,spotify=off``.
    - ``AIT_IMPORT``: comma-separated modules ``serve`` and the worker import at start (vendors
      registered in code rather than through the ``ait_connectors.vendors`` entry point, tests).
    - ``AIT_WORKER_HEARTBEAT``: seconds between a worker's heartbeats, and between its checks
      for dead workers.
    - ``AIT_WORKER_DEAD_AFTER``: a worker without a heartbeat for this long is dead: its jobs
      are queued again (within ``dead_after + heartbeat`` seconds of its death, 25 s by default).
    - ``AIT_PERIODIC_CATCH_UP``: a worker starting up runs the last missed tick of each periodic
      schedule (tier syncs, keep-alive) if it is at most this many seconds old.
    - ``AIT_WORKER_POLL``: seconds between a worker's looks for scheduled jobs that came due
      (webhook retries, rate-limit resumptions); new jobs are noticed at once.
    """

    model_config = SettingsConfigDict(env_prefix="AIT_", extra="ignore", frozen=True)

    jobs: Literal["inline", "queue"] | None = None
    sync_cadence: Tier = "daily"
    sync_cadences: str = ""
    import_modules: str = Field(default="", validation_alias="AIT_IMPORT")
    worker_heartbeat: float = Field(default=5.0, gt=0, le=60)
    worker_dead_after: float = Field(default=20.0, gt=0, le=3600)
    periodic_catch_up: float = Field(default=DAY, ge=0)
    worker_poll: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _dead_after_heartbeats(self) -> JobSettings:
        if self.worker_dead_after <= self.worker_heartbeat:
            raise ValueError(
                "AIT_WORKER_DEAD_AFTER must be longer than AIT_WORKER_HEARTBEAT (a live worker "
                "would be taken for dead); e.g. 4 heartbeats"
            )
        return self

    def provider_tiers(self) -> dict[str, str]:
        """``AIT_SYNC_CADENCES`` parsed; a malformed entry is a configuration error."""
        tiers: dict[str, str] = {}
        for entry in filter(None, (part.strip() for part in self.sync_cadences.split(","))):
            slug, sep, tier = (s.strip() for s in entry.partition("="))
            if not sep or not slug or tier not in TIERS:
                raise ConfigurationError(
                    f"AIT_SYNC_CADENCES: {entry!r} is not provider=tier with tier one of "
                    f"{', '.join(TIERS)}"
                )
            tiers[slug] = tier
        return tiers


def load_job_settings() -> JobSettings:
    """The job settings from the environment, checked (a bad value is a one-line error)."""
    try:
        job_settings = JobSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"AIT_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            if err["loc"]
            else str(err["msg"]).removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise ConfigurationError(f"Invalid configuration: {problems}") from None
    job_settings.provider_tiers()
    return job_settings


def cadence_of(provider: str, job_settings: JobSettings | None = None) -> str:
    """The cadence tier of a provider's connections."""
    job_settings = job_settings or load_job_settings()
    return job_settings.provider_tiers().get(provider, job_settings.sync_cadence)


def jobs_enabled(settings: Settings | None = None) -> bool:
    """True when syncs go through the job queue (PostgreSQL unless ``AIT_JOBS=inline``)."""
    settings = settings or get_settings()
    mode = load_job_settings().jobs
    if mode == "inline":
        return False
    if settings.is_sqlite:
        if mode == "queue":
            raise ConfigurationError(f"AIT_JOBS=queue: {SQLITE_MESSAGE}")
        return False
    return True


def conninfo_from_url(url: str) -> str:
    """The libpq conninfo of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://…``)."""
    parsed = make_url(normalise_database_url(url))
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(SQLITE_MESSAGE)
    params: dict[str, str | int | None] = {
        "host": parsed.host,
        "port": parsed.port,
        "dbname": parsed.database,
        "user": parsed.username,
        "password": parsed.password,
    }
    # Query parameters of a psycopg URL are libpq parameters (sslmode, host=/socket/dir…).
    for key, value in parsed.query.items():
        params[key] = ",".join(value) if isinstance(value, tuple) else value
    return make_conninfo("", **{k: v for k, v in params.items() if v not in (None, "")})


def import_extra_modules(job_settings: JobSettings | None = None) -> list[str]:
    """Import the ``AIT_IMPORT`` modules (for their registrations); their names."""
    job_settings = job_settings or load_job_settings()
    names = [n.strip() for n in job_settings.import_modules.split(",") if n.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigurationError(f"AIT_IMPORT: cannot import {name!r}: {exc}") from None
    return names
