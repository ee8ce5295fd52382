"""What the Connect page shows for one connection: one explicit state, the one problem to act on
(a one-line reason and what to do), and one line per entity type.

States: ``not_connected``, ``needs_reconnect`` (the provider refused the tokens), ``syncing``
(with each entity type's progress), ``failed`` (the last sync of an entity type did not finish)
and ``connected``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..storage.sync_models import RunStatus
from ..sync.runs import ABANDONED_AFTER, PENDING, RUNNING, EntityRun, RunView
from .common import ConnectionInfo

__all__ = ["LABELS", "Card", "EntityLine", "Problem", "build_card", "one_line", "sync_problem"]

LABELS = {
    "not_connected": "Not connected",
    "needs_reconnect": "Needs reconnect",
    "syncing": "Syncing",
    "failed": "Last sync failed",
    "connected": "Connected",
}
_REFUSED = ("needs_reauth", "revoked", "error")
_UNFINISHED = (RunStatus.FAILED, RunStatus.INTERRUPTED, RunStatus.RATE_LIMITED)
_UNREACHABLE = {
    "VENDOR_NETWORK_ERROR",
    "VENDOR_TIMEOUT",
    "OAUTH_NETWORK",
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
}
_TIME = "%Y-%m-%d %H:%M UTC"


@dataclass(frozen=True)
class Problem:
    reason: str
    todo: str


@dataclass(frozen=True)
class EntityLine:
    entity_type: str
    stored: int
    status: str  # never, pending, running, or a finished run's status
    text: str


@dataclass
class Card:
    info: ConnectionInfo
    state: str
    problem: Problem | None
    entities: list[EntityLine]
    previews: list[Any] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS[self.state]

    @property
    def slug(self) -> str:
        return self.info.config.provider


def one_line(text: str | None, limit: int = 140) -> str:
    """The first line of ``text``, whitespace collapsed, at most ``limit`` characters."""
    lines = (text or "").strip().splitlines()
    line = " ".join(lines[0].split()) if lines else ""
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def sync_problem(name: str, slug: str, failed: Sequence[EntityRun]) -> Problem | None:
    """Why the last sync did not finish (the first entity type that did not), and what the user
    can do about it."""
    if not failed:
        return None
    run = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    what = f"the {run.entity_type} sync{more}"
    capital = what[0].upper() + what[1:]
    resume = "it continues where it stopped"
    if run.status == RunStatus.RATE_LIMITED:
        when = f"after {run.resume_at:%H:%M} UTC" if run.resume_at else "in a few minutes"
        return Problem(f"{name}'s rate limit stopped {what}.", f"Click Sync now {when}: {resume}.")
    if run.status == RunStatus.INTERRUPTED:
        return Problem(
            f"{capital} was interrupted (the gateway stopped).", f"Click Sync now: {resume}."
        )
    code = run.error_code or ""
    if code in _UNREACHABLE:
        return Problem(
            f"{name} could not be reached during {what}.",
            f"Check that this machine reaches {name}, then click Sync now: {resume}.",
        )
    if code == "VENDOR_SERVER_ERROR":
        return Problem(
            f"{name} kept answering with server errors during {what}.",
            f"Click Sync now a little later: {resume}.",
        )
    if code == "AUTHORIZATION_REQUIRED":
        return Problem(f"{name} refused this connection during {what}.", "Click Reconnect.")
    detail = one_line(run.error) or code or "no reason recorded"
    return Problem(
        f"{capital} failed: {detail}",
        f"Click Sync now to retry ({resume}); if it fails again, "
        f"`ait-connectors sync {slug}` shows the details.",
    )


def _line(entity: str, stored: int, run: EntityRun | None) -> EntityLine:
    if run is None:
        return EntityLine(entity, stored, "never", "not synced yet")
    if run.status == PENDING:
        return EntityLine(entity, stored, PENDING, "waiting to start")
    counts = run.counts
    if run.status == RUNNING:
        text = f"syncing · {counts.pages:,} pages · {counts.records:,} records"
        if run.waiting_until is not None:
            text += " · waiting for the rate limit"
        return EntityLine(entity, stored, RUNNING, text)
    when = f" {run.finished_at:{_TIME}}" if run.finished_at else ""
    if run.status == RunStatus.SUCCEEDED:
        text = (
            f"synced{when} · +{counts.added:,} new, {counts.updated:,} changed, "
            f"{counts.deleted:,} deleted"
        )
    elif run.status == RunStatus.SKIPPED:
        text = f"skipped{when}: another sync was running"
    else:
        text = f"{run.status.replace('_', ' ')}{when}"
    return EntityLine(entity, stored, run.status, text)


def _running(latest: Sequence[EntityRun], now: datetime) -> bool:
    """A run of another process (a worker, the CLI) still going, by its rows."""
    return any(
        e.status == RUNNING and e.started_at is not None and now - e.started_at < ABANDONED_AFTER
        for e in latest
    )


def build_card(
    info: ConnectionInfo, run: RunView | None, declared: Sequence[str], now: datetime
) -> Card:
    """The card of one connection; ``run`` is the run this gateway is running, if any."""
    latest = {e.entity_type: e for e in info.last_sync}
    current = dict(latest)
    if run is not None:
        current.update({e.entity_type: e for e in run.entities})
    names = list(dict.fromkeys([*declared, *sorted(info.records), *sorted(current)]))
    lines = [_line(n, info.records.get(n, 0), current.get(n)) for n in names]
    failed = [latest[n] for n in names if n in latest and latest[n].status in _UNFINISHED]
    problem = None
    if info.status == "not_connected":
        state = "not_connected"
    elif info.status in _REFUSED:
        state = "needs_reconnect"
        problem = Problem(
            f"{info.provider_name} stopped accepting this connection: "
            f"{one_line(info.reason) or info.status}.",
            "Click Reconnect to sign in again; your synced data is kept.",
        )
    elif run is not None or _running(info.last_sync, now):
        state = "syncing"
    elif failed:
        state = "failed"
        problem = sync_problem(info.provider_name, info.config.provider, failed)
    else:
        state = "connected"
    return Card(info, state, problem, lines)
