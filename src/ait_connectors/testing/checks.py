"""The conformance checks: each takes a :class:`Harness` and one entity type of its vendor.

They only use what every vendor has (the sync, the stored records, the token, the proxy's log),
so the same check runs for GitHub, Spotify, the sandbox and any third-party vendor.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..sync import SyncOptions, SyncRunResult
from .harness import Harness, cursor_probe
from .polling import await_until, wait_until
from .proxy import Exchange, Recorder, Upstreamed
from .worker import ForkServer, alive

__all__ = ["CHECKS"]

JSON = ("Content-Type", "application/json")
UNAUTHORIZED = Upstreamed(
    401,
    [JSON, ("WWW-Authenticate", 'Bearer error="invalid_token"')],
    b'{"error": "invalid_token", "message": "The access token expired"}',
)
HTML = Upstreamed(
    200,
    [("Content-Type", "text/html; charset=utf-8")],
    b"<!doctype html><html><body><h1>Down for maintenance</h1></body></html>",
)


def rate_limited(seconds: int) -> Upstreamed:
    return Upstreamed(429, [JSON, ("Retry-After", str(seconds))], b'{"error": "rate_limited"}')


def _ok(result: SyncRunResult) -> SyncRunResult:
    assert result.ok and result.scan_completed, f"{result.status}: {result.error}"
    return result


async def _exact(h: Harness, entity_type: str) -> set[str]:
    """The live stored records are exactly the source's records."""
    stored = await h.stored(entity_type)
    expected = len(h.entity(entity_type).items(h.data))
    assert len(stored) == expected, f"stored {len(stored)} records, the source has {expected}"
    assert stored == await h.source_ids(entity_type)
    return stored


async def _sweeps(h: Harness, entity_type: str) -> bool:
    """Whether a complete scan of this type marks unseen records deleted."""
    config = await h.entity_config(entity_type)
    return config.detect_deletions and config.incremental is None


async def _reports_removal(h: Harness, entity_type: str) -> bool:
    """Whether a completed scan shows a removal: a full scan sweeps it, an incremental feed
    that reports deletions (``Incremental(deletions=True)``) applies it."""
    config = await h.entity_config(entity_type)
    if config.incremental is None:
        return config.detect_deletions
    return config.incremental.deletions


async def _fault_at(h: Harness, entity_type: str) -> int:
    """Which request of a re-scan to break: the second (half way) of a full re-scan; the first
    of an incremental one, which may need a single request."""
    return 2 if await _sweeps(h, entity_type) else 1


async def full_unchanged_changed(h: Harness, entity_type: str) -> None:
    first = _ok(await h.sync(entity_type))
    stored = await _exact(h, entity_type)
    assert first.added == len(stored)
    unchanged = _ok(await h.sync(entity_type))
    assert unchanged.rows_written == 0, unchanged
    h.entity(entity_type).change(h.data)
    changed = _ok(await h.sync(entity_type))
    assert changed.rows_written == 1, changed
    await _exact(h, entity_type)


async def removal_swept_after_complete_scan(h: Harness, entity_type: str) -> None:
    _ok(await h.sync(entity_type))
    before = await h.stored(entity_type)
    h.entity(entity_type).remove(h.data)
    h.proxy.arm(answers={await _fault_at(h, entity_type): "truncate"})  # this scan fails
    partial = await h.sync(entity_type)
    assert not partial.ok, "the scan was meant to fail"
    assert partial.deleted == 0 and await h.stored(entity_type, deleted=True) == set()
    h.proxy.arm()
    done = _ok(await h.sync(entity_type))
    deleted = await h.stored(entity_type, deleted=True)
    if await _reports_removal(h, entity_type):
        assert done.deleted == 1 and len(deleted) == 1 and deleted <= before
        await _exact(h, entity_type)
    else:  # an incremental scan without a deletions feed cannot tell "removed" from "unchanged"
        assert done.deleted == 0 and deleted == set()
        assert await h.stored(entity_type) == before


def _retry_of(log: list[Exchange], faulted: Exchange) -> Exchange:
    later = log[log.index(faulted) + 1 :]
    same = [e for e in later if (e.path, e.query) == (faulted.path, faulted.query)]
    assert same, f"{faulted.path} was not retried after its 401"
    return same[0]


async def unauthorized_refreshes_once(h: Harness, entity_type: str) -> None:
    mark = len(h.proxy.log)
    h.proxy.arm(answers={2: UNAUTHORIZED})
    _ok(await h.sync(entity_type))
    assert len(h.proxy.token_requests(mark)) == 1
    api = h.proxy.api_log(mark)
    (faulted,) = [e for e in api if e.fault]
    retry = _retry_of(api, faulted)
    assert retry.status != 401 and retry.authorization != faulted.authorization
    await _exact(h, entity_type)


async def token_without_expiry_until_401(h: Harness, entity_type: str) -> None:
    """A token stored without an expiry (no ``expires_in``) is used as is, never refreshed
    ahead of time; the API's 401 then gets one refresh and one retry."""
    await h.connect(no_expiry=True)
    mark = len(h.proxy.log)
    _ok(await h.sync(entity_type))
    assert h.proxy.token_requests(mark) == [], "a token without expiry was refreshed ahead"
    mark = len(h.proxy.log)
    h.proxy.arm(answers={1: UNAUTHORIZED})
    _ok(await h.sync(entity_type))
    assert len(h.proxy.token_requests(mark)) == 1
    api = h.proxy.api_log(mark)
    (faulted,) = [e for e in api if e.fault]
    assert _retry_of(api, faulted).status != 401
    assert (await h.token()).status == "active"


async def second_unauthorized_needs_reauth(h: Harness, entity_type: str) -> None:
    mark = len(h.proxy.log)
    h.proxy.arm(answers={2: UNAUTHORIZED}, sticky=True)  # the retry is refused too
    result = await h.sync(entity_type)
    assert result.status == "failed" and result.error_code == "AUTHORIZATION_REQUIRED", result
    assert len(h.proxy.token_requests(mark)) == 1, "refreshed more than once"
    assert len([e for e in h.proxy.api_log(mark) if e.fault]) == 2, "not one retry"
    assert (await h.token()).status == "needs_reauth"


async def unauthorized_needs_reconnect(h: Harness, entity_type: str) -> None:
    """A vendor without refresh (``VendorKit.refreshes`` false): a 401 asks for a reconnect at
    once, saying why, with no token request and no retry; the next sync calls nobody."""
    mark = len(h.proxy.log)
    h.proxy.arm(answers={1: UNAUTHORIZED})
    result = await h.sync(entity_type)
    assert result.status == "failed" and result.error_code == "AUTHORIZATION_REQUIRED", result
    assert h.proxy.token_requests(mark) == [], "refreshed a token that cannot be refreshed"
    assert len([e for e in h.proxy.api_log(mark) if e.fault]) == 1, "retried the 401"
    token = await h.token()
    assert token.status == "needs_reauth" and token.status_reason, token
    mark = len(h.proxy.log)
    again = await h.sync(entity_type)
    assert again.error_code == "AUTHORIZATION_REQUIRED" and len(h.proxy.log) == mark


async def refused_refresh_needs_reauth(h: Harness, entity_type: str) -> None:
    await h.connect(refresh="kit-refresh-token-the-vendor-never-issued")
    mark = len(h.proxy.log)
    h.proxy.arm(answers={1: UNAUTHORIZED})
    result = await h.sync(entity_type)
    assert result.error_code == "AUTHORIZATION_REQUIRED", result
    assert len(h.proxy.token_requests(mark)) == 1
    token = await h.token()
    assert token.status == "needs_reauth" and token.refresh_token is not None  # kept
    mark = len(h.proxy.log)
    again = await h.sync(entity_type)  # asks for a reconnect without calling the vendor
    assert again.error_code == "AUTHORIZATION_REQUIRED" and len(h.proxy.log) == mark


async def short_rate_limit_waited_out(h: Harness, entity_type: str) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    h.proxy.arm(answers={2: rate_limited(2)})
    _ok(await h.sync(entity_type, options=SyncOptions(sleep=sleep)))
    assert len(waits) == 1 and 0 < waits[0] <= 2, waits
    await _exact(h, entity_type)


async def long_rate_limit_stops(h: Harness, entity_type: str) -> None:
    h.proxy.arm(answers={2: rate_limited(3600)})
    before = datetime.now(UTC)
    stopped = await h.sync(entity_type)
    after = datetime.now(UTC)
    assert stopped.status == "rate_limited" and stopped.resume_at is not None, stopped
    hour = timedelta(seconds=3600)
    assert before + hour - timedelta(seconds=1) <= stopped.resume_at <= after + hour
    assert len(await h.stored(entity_type)) == stopped.added  # what it wrote is kept
    h.proxy.arm()
    resumed = _ok(await h.sync(entity_type))
    stored = await _exact(h, entity_type)
    assert stopped.added + resumed.added == len(stored)


async def foreign_next_link_refused(h: Harness, entity_type: str) -> None:
    entity = h.entity(entity_type)
    # The suite generates this check only for entity types whose next links are URLs.
    assert entity.url_cursors, f"{entity_type}: its cursors are not URLs; nothing to check"
    recorder = Recorder().start()
    try:
        h.proxy.arm(foreign=recorder.url, pages=entity.pages)
        result = await h.sync(entity_type)
    finally:
        recorder.stop()
    assert [e for e in h.proxy.log if e.fault and e.fault.startswith("foreign")], "no next link"
    assert recorder.requests == [], f"requests went to the foreign origin: {recorder.requests}"
    assert result.status == "failed" and result.error_code == "VENDOR_FOREIGN_NEXT_URL", result


async def _cycle(h: Harness, entity_type: str, mode: str) -> None:
    entity = h.entity(entity_type)
    sweeps = await _sweeps(h, entity_type)
    before: set[str] = set()
    if sweeps:  # a re-scan, where a sweep after the cycle would mark a removed record deleted
        _ok(await h.sync(entity_type))
        before = await h.stored(entity_type)
        entity.remove(h.data)
    # (else the first scan: an incremental re-scan may see too few pages to loop)
    h.proxy.arm(cycle=mode, pages=entity.pages)
    looped = await asyncio.wait_for(h.sync(entity_type), 60)
    assert [e for e in h.proxy.log if e.fault and e.fault.startswith("replay")], "no cycle made"
    assert looped.status == "failed", looped
    assert looped.error_code == "PAGINATION_CYCLE", looped
    assert looped.deleted == 0
    assert await h.stored(entity_type, deleted=True) == set()
    if sweeps:
        assert await h.stored(entity_type) == before
    h.proxy.arm()
    _ok(await h.sync(entity_type))
    await _exact(h, entity_type)


async def repeated_cursor_fails(h: Harness, entity_type: str) -> None:
    await _cycle(h, entity_type, "repeat")


async def link_back_cycle_fails(h: Harness, entity_type: str) -> None:
    await _cycle(h, entity_type, "back")


async def malformed_body_fails_clearly(h: Harness, entity_type: str, kind: str) -> None:
    _ok(await h.sync(entity_type))
    before = await h.stored(entity_type)
    h.proxy.arm(answers={await _fault_at(h, entity_type): HTML if kind == "html" else "truncate"})
    result = await h.sync(entity_type)
    assert result.status == "failed" and result.error_code == "VENDOR_MALFORMED_RESPONSE", result
    assert "JSON" in (result.error or "")
    assert await h.stored(entity_type) == before
    assert await h.stored(entity_type, deleted=True) == set()


def _blank(item: Any, path: list[str], mode: str) -> None:
    if isinstance(item, list):
        for element in item:
            _blank(element, path, mode)
        return
    if not isinstance(item, dict) or path[0] not in item:
        return
    if len(path) > 1:
        _blank(item[path[0]], path[1:], mode)
    elif mode == "absent":
        del item[path[0]]
    else:
        item[path[0]] = None


async def optional_fields_map(h: Harness, entity_type: str, mode: str) -> None:
    entity = h.entity(entity_type)
    for item in entity.items(h.data):
        for path in entity.optional:
            _blank(item, path.split("."), mode)
    _ok(await h.sync(entity_type))
    await _exact(h, entity_type)


async def sigkill_then_resume(h: Harness, entity_type: str) -> None:
    committed, close = cursor_probe(h, entity_type)
    # Hold the first request sent after a committed page (waiting for a commit only after an
    # answer that was one of the entity type's pages).
    h.proxy.arm(hold_when=committed, pages=h.entity(entity_type).pages)
    pid = ForkServer.shared().start_sync(
        db_url=h.db_url,
        key_hex=h.key_hex,
        config_id=h.config.id,
        user_id=h.user_id,
        entity_type=entity_type,
        vendor=h.kit.vendor,
        env={name: os.environ.get(name) for name in ("SSL_CERT_FILE", "SSL_CERT_DIR")},
    )
    try:
        held = await asyncio.to_thread(h.proxy.held.wait, 60)
        assert held, "no request arrived after a committed page"
    finally:
        close()
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
        await asyncio.to_thread(wait_until, lambda: not alive(pid), 30, "the killed sync")
        h.proxy.release.set()
    await await_until(lambda: h.sync_lock_free(entity_type), 30, "the killed sync's lock to go")
    h.proxy.arm()
    mark = len(h.proxy.log)
    _ok(await h.sync(entity_type))
    restart = len(h.proxy.api_log(mark))
    await _exact(h, entity_type)
    assert (await h.run_statuses(entity_type))[-2:] == ["interrupted", "succeeded"]
    await h.connect(user_id="kit-reference")  # a scan from scratch, to compare with
    mark = len(h.proxy.log)
    _ok(await h.sync(entity_type, user_id="kit-reference"))
    assert restart < len(h.proxy.api_log(mark)), "the restart read everything again"


Check = Callable[..., Awaitable[None]]

CHECKS: dict[str, Check] = {
    "full_unchanged_changed": full_unchanged_changed,
    "removal_swept_after_complete_scan": removal_swept_after_complete_scan,
    "unauthorized_refreshes_once": unauthorized_refreshes_once,
    "second_unauthorized_needs_reauth": second_unauthorized_needs_reauth,
    "token_without_expiry_until_401": token_without_expiry_until_401,
    "refused_refresh_needs_reauth": refused_refresh_needs_reauth,
    "unauthorized_needs_reconnect": unauthorized_needs_reconnect,
    "short_rate_limit_waited_out": short_rate_limit_waited_out,
    "long_rate_limit_stops": long_rate_limit_stops,
    "foreign_next_link_refused": foreign_next_link_refused,
    "repeated_cursor_fails": repeated_cursor_fails,
    "link_back_cycle_fails": link_back_cycle_fails,
    "malformed_body_fails_clearly": malformed_body_fails_clearly,
    "optional_fields_map": optional_fields_map,
    "sigkill_then_resume": sigkill_then_resume,
}
