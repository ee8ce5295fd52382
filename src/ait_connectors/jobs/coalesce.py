"""Coalescing sync requests: a request that a run started after it already answers is not run.

Each sync job carries ``runs_seen_until``: the start time of the newest ``sync_runs`` row of its
(connection, entity type) when the request was made (the earliest time when none). A run that
*started after* that and *succeeded* read the vendor after the request, so it covers it: the
job ends without calling the vendor. The time comes from the run rows themselves, not from the
requesting process's clock: a request that arrives while a worker has taken a job but not yet
begun its run sees the previous run as newest, and that run (which starts later) covers it.

A request folded into a job already waiting raises that job's mark to its own (never lowers
it), so the waiting job answers for the latest request it stands for. The row is locked while
doing so (Procrastinate's fetch skips locked rows): either the worker takes the job with the new
mark, or it took it before and the request queues a job of its own.

A job may be limited to some parents (``parents`` in its args: a webhook named them). Only a run
that completed a scan covers a request; a limited run covers none. Folding keeps the waiting
job at least as wide as every request it stands for (:func:`merge_parents`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.db import Database
from ..storage.sync_models import RunStatus
from ..storage.types import UTCDateTime
from ..sync.limited import MAX_PARENTS

__all__ = [
    "MARK",
    "NO_RUN",
    "PARENTS",
    "covering_run",
    "fold_into_waiting",
    "merge_parents",
    "newest_run_start",
    "parse_mark",
]

MARK = "runs_seen_until"
PARENTS = "parents"  # a job limited to some parents lists them; a whole-type job has none
NO_RUN = datetime.min.replace(tzinfo=UTC)  # no run yet: any run that succeeds covers it

_KEY = "connector_config_id = :c AND user_id = :u AND entity_type = :t"
_NEWEST = text(f"SELECT max(started_at) AS at FROM sync_runs WHERE {_KEY}").columns(
    at=UTCDateTime()
)
# Only a run that completed a scan covers: one limited to some parents read only those.
_COVERING = text(
    f"SELECT id FROM sync_runs WHERE {_KEY} AND status = :succeeded AND started_at > :mark "
    "AND scan_completed ORDER BY started_at LIMIT 1"
).bindparams(bindparam("mark", type_=UTCDateTime()))
_WAITING = text(
    "SELECT id, args ->> :field AS mark, args -> :parents AS parents FROM procrastinate_jobs "
    "WHERE queueing_lock = :key AND status = 'todo' FOR UPDATE"
)
_WHOLE = text("UPDATE procrastinate_jobs SET args = args - :parents WHERE id = :id")
_LIMIT = text(
    "UPDATE procrastinate_jobs SET args = jsonb_set(args, ARRAY[:parents], "
    "CAST(:value AS jsonb)) WHERE id = :id"
)
_RAISE = text(
    "UPDATE procrastinate_jobs SET args = jsonb_set(args, ARRAY[:field], to_jsonb(CAST(:mark AS "
    "text))) WHERE id = :id"
)


def _params(config_id: str, user_id: str, entity_type: str) -> dict[str, Any]:
    return {"c": config_id, "u": user_id, "t": entity_type}


def parse_mark(value: object) -> datetime | None:
    """A job's mark; ``None`` for jobs queued without one (they always run)."""
    if not isinstance(value, str):
        return None
    mark = datetime.fromisoformat(value)
    return mark if mark.tzinfo else mark.replace(tzinfo=UTC)


async def newest_run_start(
    conn: AsyncConnection, config_id: str, user_id: str, entity_type: str
) -> datetime:
    """The mark of a request made now."""
    at = (await conn.execute(_NEWEST, _params(config_id, user_id, entity_type))).scalar()
    return at if isinstance(at, datetime) else NO_RUN


async def covering_run(
    database: Database, config_id: str, user_id: str, entity_type: str, mark: datetime
) -> str | None:
    """The id of a succeeded run that started after ``mark``, if any."""
    params = {**_params(config_id, user_id, entity_type), "succeeded": RunStatus.SUCCEEDED}
    async with database.connect() as conn:
        found = (await conn.execute(_COVERING, {**params, "mark": mark})).scalar()
    return str(found) if found is not None else None


def merge_parents(waiting: object, asked: frozenset[str] | None) -> list[str] | None:
    """The parents a waiting job reads once a request for ``asked`` folded into it (``None``:
    the whole type). A whole-type job covers any request; a limited one takes the union, and
    becomes a whole-type one for a whole-type request or past ``MAX_PARENTS``."""
    if not isinstance(waiting, list) or asked is None:
        return None
    union = sorted({str(p) for p in waiting} | asked)
    return union if len(union) <= MAX_PARENTS else None


async def fold_into_waiting(
    conn: AsyncConnection, key: str, mark: datetime, parents: frozenset[str] | None = None
) -> int | None:
    """Fold a request (for ``parents`` only, or the whole type) into the job waiting for
    ``key``: its mark rises to ``mark``, its parents as :func:`merge_parents` says. The job's
    id (``None``: none waits any more, the worker took it)."""
    found = {"field": MARK, "key": key, "parents": PARENTS}
    row = (await conn.execute(_WAITING, found)).first()
    if row is None:
        return None
    current = parse_mark(row.mark)
    if current is not None and current < mark:
        await conn.execute(_RAISE, {"field": MARK, "mark": mark.isoformat(), "id": row.id})
    merged = merge_parents(row.parents, parents)
    if merged is None and row.parents is not None:
        await conn.execute(_WHOLE, {"parents": PARENTS, "id": row.id})
    elif merged is not None and merged != row.parents:
        value = json.dumps(merged)
        await conn.execute(_LIMIT, {"parents": PARENTS, "value": value, "id": row.id})
    return int(row.id)
