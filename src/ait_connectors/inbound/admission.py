"""The ack path's statements: admit a batch of deliveries, count outcomes, forget expired ids.

Plain functions over a synchronous SQLAlchemy connection, so that one piece of code serves both
ledgers (``ledger.py``): inside an async transaction through ``AsyncConnection.run_sync``, or on
the SQLite ledger's own thread. ``ledger`` holds the delivery ids and counters, ``routes`` the
routing keys: the same connection, except for a SQLite file's ledger.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Executable, Table, bindparam, delete, select
from sqlalchemy.engine import Connection

from ..storage.types import dialect_insert
from .models import InboundCounterRow, InboundDeliveryRow, InboundRouteRow

__all__ = [
    "Admission",
    "Admit",
    "Outcome",
    "Route",
    "admit_rows",
    "count_rows",
    "counter_rows",
    "prune_rows",
]

R = cast(Table, InboundRouteRow.__table__)
D = cast(Table, InboundDeliveryRow.__table__)
N = cast(Table, InboundCounterRow.__table__)


class Outcome:
    """What became of a request (the counters' names, and the ``outcome`` label of
    ``ait_webhook_deliveries_total``: ``metrics.WEBHOOK_OUTCOMES`` holds the same values)."""

    ACCEPTED = "accepted"  # routed to at least one connection; syncs requested
    DUPLICATE = "duplicate"  # a delivery id seen before
    UNROUTED = "unrouted"  # no known connection carries its keys
    IGNORED = "ignored"  # about nothing we sync
    REJECTED = "rejected"  # signature, freshness or shape refused
    HANDSHAKE = "handshake"  # a verification request the vendor sends, answered
    HOOK_FAILED = "hook_failed"  # routing keys or subscriptions could not be set up on connect


@dataclass(frozen=True)
class Route:
    """A connection a delivery is for."""

    connector_config_id: str
    user_id: str


@dataclass(frozen=True)
class Admit:
    """One delivery to admit (or, with ``outcome``, an outcome to count only)."""

    vendor: str
    delivery_id: str = ""
    keys: tuple[str, ...] = ()
    config_id: str | None = None
    relevant: bool = True
    outcome: str | None = None


@dataclass(frozen=True)
class Admission:
    """What admitting a delivery decided."""

    outcome: str
    routes: tuple[Route, ...] = ()


def admit_rows(
    ledger: Connection,
    routes: Connection,
    requests: Sequence[Admit],
    now: datetime,
    ttl: timedelta,
) -> list[Admission]:
    """Record the batch's delivery ids (a duplicate goes no further), find the connections the
    new ones' keys name, count the outcomes; in order, a handful of statements whatever the
    batch's size (the ack path's cost is the commit)."""
    new = _first_seen(ledger, requests, now, ttl)
    wanted = [a for i, a in enumerate(requests) if i in new and a.relevant and a.keys]
    found_routes = _routes_of(routes, wanted)
    found = [_decide(i, asked, new, found_routes) for i, asked in enumerate(requests)]
    counts = Counter((a.vendor, f.outcome) for a, f in zip(requests, found, strict=True))
    count_rows(ledger, counts, now)
    return found


def count_rows(conn: Connection, counts: Mapping[tuple[str, str], int], now: datetime) -> None:
    """Add ``counts`` ((vendor, outcome) → how many) to the counters."""
    rows = [
        {"vendor": vendor, "outcome": outcome, "count": count, "updated_at": now}
        for (vendor, outcome), count in sorted(counts.items())
    ]
    if rows:
        conn.execute(_statements(conn.dialect.name).count, rows)


def counter_rows(conn: Connection, vendor: str | None) -> dict[str, dict[str, int]]:
    """Vendor → outcome → count."""
    query = select(N.c.vendor, N.c.outcome, N.c.count).order_by(N.c.vendor, N.c.outcome)
    if vendor is not None:
        query = query.where(N.c.vendor == vendor)
    found: dict[str, dict[str, int]] = {}
    for vendor_slug, outcome, count in conn.execute(query):
        found.setdefault(str(vendor_slug), {})[str(outcome)] = int(count)
    return found


def prune_rows(conn: Connection, now: datetime) -> int:
    """Forget expired delivery ids; how many."""
    result = conn.execute(delete(D).where(D.c.expires_at <= now))
    return int(result.rowcount or 0)


# Built once: SQLAlchemy then reuses their compiled form and cache key (a statement built per
# call, with its values inline, costs more than the database's work on this path).
_ROUTES = select(R.c.vendor, R.c.routing_key, R.c.connector_config_id, R.c.user_id).where(
    R.c.vendor.in_(bindparam("vendors", expanding=True)),
    R.c.routing_key.in_(bindparam("keys", expanding=True)),
)


@dataclass(frozen=True)
class _Statements:
    first_seen: Executable  # the rows inserted: rowcount varies by driver
    count: Executable


@functools.cache
def _statements(dialect: str) -> _Statements:
    insert = dialect_insert(dialect)
    first_seen = (
        insert(D)
        .on_conflict_do_nothing(index_elements=[D.c.vendor, D.c.delivery_id])
        .returning(D.c.vendor, D.c.delivery_id)
    )
    count = insert(N)
    count = count.on_conflict_do_update(
        index_elements=[N.c.vendor, N.c.outcome],
        set_={"count": N.c.count + count.excluded.count, "updated_at": count.excluded.updated_at},
    )
    return _Statements(first_seen, count)


def _first_seen(
    conn: Connection, requests: Sequence[Admit], now: datetime, ttl: timedelta
) -> set[int]:
    """Insert the batch's delivery ids; the indexes of the requests seen for the first time
    (a repeat within the batch is a duplicate of its first occurrence)."""
    first: dict[tuple[str, str], int] = {}
    for i, asked in enumerate(requests):
        if asked.outcome is None:
            first.setdefault((asked.vendor, asked.delivery_id), i)
    if not first:
        return set()
    rows = [
        {"vendor": v, "delivery_id": d, "received_at": now, "expires_at": now + ttl}
        for v, d in first
    ]
    statement = _statements(conn.dialect.name).first_seen
    inserted = {(str(v), str(d)) for v, d in conn.execute(statement, rows)}
    return {i for key, i in first.items() if key in inserted}


def _routes_of(
    conn: Connection, requests: Sequence[Admit]
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(vendor, key) → the connections (config id, user id) recorded for it."""
    keys = {(a.vendor, k) for a in requests for k in a.keys}
    if not keys:
        return {}
    params = {"vendors": sorted({v for v, _ in keys}), "keys": sorted({k for _, k in keys})}
    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for vendor, key, config_id, user_id in conn.execute(_ROUTES, params):
        found.setdefault((str(vendor), str(key)), []).append((str(config_id), str(user_id)))
    return found


def _decide(
    index: int,
    asked: Admit,
    new: set[int],
    routes: dict[tuple[str, str], list[tuple[str, str]]],
) -> Admission:
    if asked.outcome is not None:  # decided already (a rejection): only counted
        return Admission(asked.outcome)
    if index not in new:
        return Admission(Outcome.DUPLICATE)
    if not asked.relevant:
        return Admission(Outcome.IGNORED)
    found = {
        Route(config_id, user_id)
        for key in asked.keys
        for config_id, user_id in routes.get((asked.vendor, key), ())
        if asked.config_id is None or config_id == asked.config_id
    }
    ordered = tuple(sorted(found, key=lambda r: (r.connector_config_id, r.user_id)))
    return Admission(Outcome.ACCEPTED if ordered else Outcome.UNROUTED, ordered)
