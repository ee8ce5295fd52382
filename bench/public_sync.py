"""The framework measured the way a user runs it: settings, the stored connector config and
token, the shipped GitHub vendor (its own mapping and pacing), ``service.sync()``.

:func:`prepare` stores the config (``api_base_url`` pointed at the mock) and the user's token, as
``ait-connectors configs add`` and a completed Connect flow would; :func:`run` is one measured
sync in a process of its own.
"""

from __future__ import annotations

import cProfile
import os
import time
from typing import Any

from .measure import cpu_seconds, peak_rss_mb
from .mock_github import TOKEN

USER = "bench-user"
PROFILE = "AIT_BENCH_PROFILE"  # a directory: each sync writes its cProfile stats there


def _profiler() -> cProfile.Profile | None:
    if not os.environ.get(PROFILE):
        return None
    profile = cProfile.Profile()
    profile.enable()
    return profile


def _settings(database_url: str, key: str, *, metrics: bool = True) -> Any:
    from ait_connectors import Settings

    return Settings(database_url=database_url, encryption_key=key, metrics=metrics)


async def prepare(database_url: str, key: str, api_base_url: str) -> str:
    """Migrate, store a GitHub connector config and the user's token; return the config id."""
    from pydantic import SecretStr

    from ait_connectors import Connectors, TokenResponse

    async with await Connectors.open(_settings(database_url, key), auto_migrate=True) as c:
        config = await c.configs.create(
            "github",
            client_id="bench-client",
            client_secret="bench-secret",
            redirect_uri="http://127.0.0.1:8765/api/github/auth/callback",
            overrides={"api_base_url": api_base_url},
        )
        await c.tokens.save_oauth_data(
            config.id, USER, TokenResponse(access_token=SecretStr(TOKEN))
        )
        return config.id


async def run(
    database_url: str,
    key: str,
    config_id: str,
    spawned_at: float,
    *,
    feed: bool = True,
    metrics: bool = True,
) -> dict[str, Any]:
    """One ``service.sync()`` of GitHub repositories; start-up is measured from the spawn.
    ``feed=False``: without the changes feed (``bench/changes_bench.py`` measures its cost);
    ``metrics=False``: with ``AIT_METRICS=false`` (``bench/metrics_overhead.py``)."""
    from ait_connectors import Connectors
    from ait_connectors.sync import SyncOptions

    settings = _settings(database_url, key, metrics=metrics)
    async with await Connectors.open(settings) as connectors:
        service = await connectors.factory.get_service_by_config(config_id, USER)
        startup = time.time() - spawned_at
        rss_at_start = peak_rss_mb()  # imports, settings, database pool, vendor: before any page
        profile = _profiler()
        started, cpu = time.perf_counter(), cpu_seconds()
        options = None if feed else SyncOptions(changes_feed=False)
        (result,) = await service.sync(["repositories"], options=options)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        if profile is not None:
            profile.disable()
            profile.dump_stats(f"{os.environ[PROFILE]}/sync-{os.getpid()}.prof")
    return {
        "seconds": seconds,
        "startup": startup,
        "cpu_seconds": cpu,
        "records": result.added + result.updated + result.unchanged,
        "written": result.added + result.updated,
        "status": result.status,
        "error": result.error,
        "updated": result.updated,
        "pages": result.pages,
        "pages_skipped": result.pages_skipped,
        "peak_rss_mb": peak_rss_mb(),
        "rss_at_start_mb": rss_at_start,
    }
