"""The gauges ``/metrics`` reads from the database at scrape time, on SQLite and PostgreSQL:
connections by state, sync lag by vendor (the oldest, and counts over thresholds), the job queue
by queue and status; and their cardinality, which many users do not change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import bindparam, text

from ait_connectors.crypto import Cipher
from ait_connectors.jobs import apply_job_schema
from ait_connectors.metrics.scrape import render
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.settings import Settings
from ait_connectors.storage.configs import ConnectorConfigStore
from ait_connectors.storage.db import Database
from ait_connectors.storage.models import TokenStatus
from ait_connectors.storage.tokens import TokenStore
from ait_connectors.storage.types import UTCDateTime, new_id

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
GAUGES = ("ait_connections", "ait_sync_lag_seconds_max", "ait_sync_lagging", "ait_job_queue_jobs")


async def gauges(database: Database) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The scrape-time gauges: name → labels → value."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families((await render(database, now=NOW)).decode()):
        if family.name in GAUGES:
            found[family.name] = {tuple(sorted(s.labels.items())): s.value for s in family.samples}
    return found


async def connect(database: Database, cipher: Cipher, config_id: str, user: str) -> None:
    token = TokenResponse(access_token=SecretStr("a"), refresh_token=SecretStr("r"))
    await TokenStore(database, cipher).save_oauth_data(config_id, user, token)


async def sync_state(
    database: Database,
    config_id: str,
    user: str,
    completed_hours_ago: float | None,
    created_hours_ago: float = 48,
) -> None:
    completed = (
        NOW - timedelta(hours=completed_hours_ago) if completed_hours_ago is not None else None
    )
    async with database.transaction() as conn:
        await conn.execute(
            text(
                "INSERT INTO sync_state (id, connector_config_id, user_id, entity_type, "
                "generation, pages_in_scan, status, last_completed_at, created_at, updated_at) "
                "VALUES "
                "(:id, :c, :u, 'repositories', 1, 0, 'idle', :done, :created, :created)"
            ).bindparams(
                bindparam("done", type_=UTCDateTime()), bindparam("created", type_=UTCDateTime())
            ),
            {
                "id": new_id(),
                "c": config_id,
                "u": user,
                "done": completed,
                "created": NOW - timedelta(hours=created_hours_ago),
            },
        )


def L(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


async def test_connections_lag_and_their_bounded_labels(database: Database, cipher: Cipher) -> None:
    configs = ConnectorConfigStore(database, cipher)
    github = await configs.create(
        "github", client_id="c", client_secret="s", redirect_uri="http://x/cb"
    )
    await connect(database, cipher, github.id, "u1")
    await connect(database, cipher, github.id, "u2")
    await connect(database, cipher, github.id, "u3")
    await TokenStore(database, cipher).set_status(github.id, "u3", TokenStatus.NEEDS_REAUTH, "x")
    await sync_state(database, github.id, "u1", completed_hours_ago=2)
    await sync_state(database, github.id, "u2", completed_hours_ago=None, created_hours_ago=30)
    await sync_state(database, github.id, "u3", completed_hours_ago=100)  # not active: ignored

    found = await gauges(database)
    assert found["ait_connections"] == {
        L(vendor="github", state="active"): 2,
        L(vendor="github", state="needs_reauth"): 1,
    }
    assert found["ait_sync_lag_seconds_max"] == {L(vendor="github"): 30 * 3600}
    assert found["ait_sync_lagging"] == {
        L(vendor="github", over="1h"): 2,
        L(vendor="github", over="6h"): 1,
        L(vendor="github", over="24h"): 1,
    }

    # Many more users, and a provider nobody registered: the same series, plus "other".
    for i in range(12):
        await connect(database, cipher, github.id, f"many-{i}")
        await sync_state(database, github.id, f"many-{i}", completed_hours_ago=2.5 * i)
    async with database.transaction() as conn:
        await conn.execute(
            text("UPDATE connector_configs SET provider = 'user-7-private' WHERE id = :id"),
            {"id": github.id},
        )
    found = await gauges(database)
    assert set(found["ait_connections"]) == {
        L(vendor="other", state="active"),
        L(vendor="other", state="needs_reauth"),
    }
    assert found["ait_connections"][L(vendor="other", state="active")] == 14
    assert set(found["ait_sync_lagging"]) == {
        L(vendor="other", over=o) for o in ("1h", "6h", "24h")
    }
    assert found["ait_sync_lagging"][L(vendor="other", over="24h")] == 1 + 2  # u2, many-10 and 11
    assert found["ait_sync_lag_seconds_max"] == {L(vendor="other"): 30 * 3600}  # u2


async def test_the_job_queue_by_queue_and_status(database: Database, db_url: str) -> None:
    if database.dialect != "postgresql":
        assert (await gauges(database)).get("ait_job_queue_jobs", {}) == {}  # no queue here
        return
    await apply_job_schema(Settings(database_url=db_url))
    async with database.transaction() as conn:
        for queue, status in [
            ("sync", "todo"),
            ("sync", "todo"),
            ("sync", "doing"),
            ("webhooks", "failed"),
        ]:
            await conn.execute(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
                    "VALUES (:q, 't', '{}', :s)"
                ),
                {"q": queue, "s": status},
            )
    assert (await gauges(database))["ait_job_queue_jobs"] == {
        L(queue="sync", status="todo"): 2,
        L(queue="sync", status="doing"): 1,
        L(queue="webhooks", status="failed"): 1,
    }
