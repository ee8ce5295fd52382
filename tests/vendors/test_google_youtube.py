"""YouTube over the local mock: the daily quota stops a run with its state saved and the next
run resumes it after midnight Pacific Time; units are counted and reported; per-minute limits
back off exponentially with jitter."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from kit_google import GOOGLE_MEDIA
from sqlalchemy import text

from ait_connectors import ratelimit
from ait_connectors.sync import SyncOptions
from ait_connectors.testing.harness import Harness
from ait_connectors.testing.proxy import Upstreamed
from ait_connectors.vendors.google.quota import next_pacific_midnight

NOON_PST = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)  # 12:00 in Los Angeles (UTC-8)
RATE_LIMITED = Upstreamed(
    403,
    [("Content-Type", "application/json")],
    json.dumps(
        {
            "error": {
                "code": 403,
                "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits"}],
            }
        }
    ).encode(),
)


@pytest.fixture
async def harness(ait_db_url: str) -> AsyncIterator[Harness]:
    async with Harness.start(GOOGLE_MEDIA, ait_db_url) as h:
        yield h


async def _cursor(h: Harness, entity_type: str) -> object:
    sql = text(
        "SELECT cursor FROM sync_state WHERE connector_config_id = :c AND user_id = :u "
        "AND entity_type = :t"
    )
    async with h.database.connect() as conn:
        value = (
            await conn.execute(sql, {"c": h.config.id, "u": h.user_id, "t": entity_type})
        ).scalar()
    return json.loads(value) if isinstance(value, str) else value


def test_daily_quota_resets_at_pacific_midnight() -> None:
    assert next_pacific_midnight(NOON_PST) == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # PST
    summer = datetime(2026, 7, 1, 6, 59, tzinfo=UTC)  # 23:59 PDT on June 30
    assert next_pacific_midnight(summer) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)


async def test_quota_exhausted_stops_then_resumes_from_the_saved_page(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, mock = harness, harness.data.media
    monkeypatch.setattr(ratelimit, "utcnow", lambda: NOON_PST)
    mock.youtube.quota = 2  # two pages of subscriptions (2 a page), then quotaExceeded
    stopped = await h.sync("youtube_subscriptions")
    assert stopped.status == "rate_limited", stopped
    assert stopped.resume_at == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert "daily quota is exhausted" in (stopped.error or "")
    assert "3 units this run" in (stopped.error or "")  # the refused call costs too
    assert stopped.added == 4 and len(await h.stored("youtube_subscriptions")) == 4
    saved = await _cursor(h, "youtube_subscriptions")
    assert saved == {"page": "t4"}  # the page token of the page the quota refused

    mock.youtube.quota = None  # after midnight Pacific Time: a new day's quota
    mark = len(h.proxy.log)
    resumed = await h.sync("youtube_subscriptions")
    assert resumed.ok and resumed.scan_completed, resumed
    first = h.proxy.api_log(mark)[0]
    assert first.path.endswith("/subscriptions") and first.query["pageToken"] == "t4"
    assert resumed.added == 3 and await h.stored("youtube_subscriptions") == await h.source_ids(
        "youtube_subscriptions"
    )
    assert resumed.warnings[-1] == "youtube quota: 2 units for 2 calls (subscriptions.list 2x1)"


async def test_rate_limits_back_off_exponentially(harness: Harness) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    h = harness
    h.proxy.arm(answers={2: RATE_LIMITED, 3: RATE_LIMITED, 4: RATE_LIMITED})
    done = await h.sync("youtube_liked_videos", options=SyncOptions(sleep=sleep))
    assert done.ok, done
    assert len(waits) == 3
    for attempt, wait in enumerate(waits, start=1):
        floor = 2 ** (attempt - 1)  # 1 s, 2 s, 4 s, each plus up to 1 s of jitter
        assert floor - 0.1 <= wait <= floor + 1, waits
    assert await h.stored("youtube_liked_videos") == await h.source_ids("youtube_liked_videos")
