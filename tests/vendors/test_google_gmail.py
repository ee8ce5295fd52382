"""Gmail over the local mock: history changes applied (added, relabelled, deleted), a stale
history id leading to a full re-scan that sweeps deletions, batch calls retried one by one,
bodies by a setting."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from kit_google import GOOGLE_MEDIA
from sqlalchemy import text

from ait_connectors.errors import VendorResponseError
from ait_connectors.testing.harness import Harness
from ait_connectors.vendors.google.batch import parse_batch
from ait_connectors.vendors.google.gmail import GmailPages

MESSAGES = "gmail_messages"


@pytest.fixture
async def harness(ait_db_url: str) -> AsyncIterator[Harness]:
    async with Harness.start(GOOGLE_MEDIA, ait_db_url) as h:
        yield h


async def _watermark(h: Harness) -> object:
    sql = text(
        "SELECT watermark FROM sync_state WHERE connector_config_id = :c AND user_id = :u "
        "AND entity_type = :t"
    )
    async with h.database.connect() as conn:
        value = (
            await conn.execute(sql, {"c": h.config.id, "u": h.user_id, "t": MESSAGES})
        ).scalar()
    return json.loads(value) if isinstance(value, str) else value


async def _exact(h: Harness) -> set[str]:
    stored = await h.stored(MESSAGES)
    assert stored == set(h.data.media.mailbox.messages)
    return stored


async def test_history_changes_are_applied(harness: Harness) -> None:
    h, box = harness, harness.data.media.mailbox
    first = await h.sync(MESSAGES)
    assert first.ok and first.added == 5 and await _watermark(h) == {"historyId": "100"}
    box.add(7)
    box.relabel("m0001", add=["STARRED"], remove=["UNREAD"])
    box.delete("m0002")
    mark = len(h.proxy.log)
    changed = await h.sync(MESSAGES)
    assert changed.ok, changed
    assert (changed.added, changed.updated, changed.deleted) == (1, 1, 1), changed
    assert await h.stored(MESSAGES, deleted=True) == {"m0002"}
    await _exact(h)
    paths = [e.path.removeprefix("/api") for e in h.proxy.api_log(mark)]
    # Two history pages (the kit caps pages at 2), each with one batch of the messages to read.
    assert paths == ["/gmail/v1/users/me/history", "/batch/gmail/v1"] * 2
    assert await _watermark(h) == {"historyId": str(box.history_id)}
    assert changed.warnings[-1] == (
        "gmail quota: 19 units for 5 calls (history.list 2x2, messages.get 3x5)"
    )
    quiet = await h.sync(MESSAGES)
    assert quiet.ok and quiet.rows_written == 0


async def test_stale_history_id_full_rescan_sweeps_deletions(harness: Harness) -> None:
    h, box = harness, harness.data.media.mailbox
    assert (await h.sync(MESSAGES)).ok
    box.delete("m0002")  # reported in a history Gmail will no longer have
    box.messages.pop("m0003")  # gone without any history record at all
    box.add(9)
    box.expire_history()  # the stored historyId now answers 404
    rescan = await h.sync(MESSAGES)
    assert rescan.ok and rescan.scan_completed, rescan
    assert rescan.deleted == 2 and rescan.added == 1, rescan
    assert any(
        w.startswith("gmail: history id 100 is no longer available") for w in rescan.warnings
    )
    assert await h.stored(MESSAGES, deleted=True) == {"m0002", "m0003"}
    await _exact(h)
    assert await _watermark(h) == {"historyId": str(box.history_id)}
    box.relabel("m0000", add=["STARRED"])  # back to the history from the new watermark
    mark = len(h.proxy.log)
    after = await h.sync(MESSAGES)
    assert after.ok and after.updated == 1 and after.rows_written == 1, after
    assert h.proxy.api_log(mark)[0].path.endswith("/history")


async def test_rate_limited_batch_calls_are_retried_alone(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(GmailPages, "gmail_sleep", sleep)
    h, mock = harness, harness.data.media
    mock.inner_limited = 1  # the first inner call of the first batch answers 429
    done = await h.sync(MESSAGES)
    assert done.ok and done.added == 5, done
    gets = [c.path.rsplit("/", 1)[1] for c in mock.calls("/messages/", inner=True)]
    assert gets.count("m0000") == 2 and len(gets) == 6  # only the limited call went again
    assert len(waits) == 1 and 1 <= waits[0] <= 2  # the one backoff: 1 s + jitter
    batches = [e for e in h.proxy.log if e.path.endswith("/batch/gmail/v1")]
    assert b"m0000" in batches[1].body and b"m0001" not in batches[1].body
    await _exact(h)


async def test_bodies_only_when_asked(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    assert (await h.sync(MESSAGES)).ok
    service = await h.service()
    try:
        stored = (await service.read(MESSAGES, limit=10)).items
        assert {m.body_text for m in stored} == {None}  # type: ignore[attr-defined]
        assert stored[0].subject and stored[0].label_ids  # type: ignore[attr-defined]
        monkeypatch.setattr(GmailPages, "gmail_bodies", True)
        fetched = await service.fetch_entities(MESSAGES)
    finally:
        await service.aclose()
    assert {m.body_text for m in fetched} == {f"Body of message {n}\n" for n in range(5)}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html", b"<html>maintenance</html>"),
        ("multipart/mixed; boundary=b1", b"--b1\r\nContent-ID: <response-x>\r\n\r\nHTTP/1.1 200"),
        (
            "multipart/mixed; boundary=b1",
            b"--b1\r\nContent-ID: <response-x>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{not json\r\n--b1--",
        ),
    ],
    ids=["html", "truncated", "bad-json"],
)
def test_malformed_batch_answers_fail_clearly(content_type: str, body: bytes) -> None:
    response = httpx.Response(200, headers={"content-type": content_type}, content=body)
    with pytest.raises(VendorResponseError) as caught:
        parse_batch(response)
    assert caught.value.code == "VENDOR_MALFORMED_RESPONSE" and "JSON" in caught.value.message


async def test_interrupted_stale_history_rescan_resumes_as_full_and_sweeps(
    harness: Harness,
) -> None:
    """The re-scan's cursor says "full listing": a run that breaks in it resumes the listing
    (never the refused history id) and its last page still sweeps what Gmail no longer has."""
    h, box = harness, harness.data.media.mailbox
    assert (await h.sync(MESSAGES)).ok
    box.messages.pop("m0003")  # gone without any history record
    box.relabel("m0000", add=["STARRED"])  # a change, in a history Gmail will no longer have
    box.expire_history()
    # history (404), profile, messages.list page 1, its batch, then page 2 breaks.
    h.proxy.arm(answers={5: "truncate"})
    broken = await h.sync(MESSAGES)
    assert not broken.ok and broken.deleted == 0, broken
    assert await h.stored(MESSAGES, deleted=True) == set()
    h.proxy.arm()
    mark = len(h.proxy.log)
    resumed = await h.sync(MESSAGES)
    assert resumed.ok and resumed.scan_completed and resumed.deleted == 1, resumed
    first = h.proxy.api_log(mark)[0]
    assert first.path.endswith("/messages") and first.query.get("pageToken"), first
    assert await h.stored(MESSAGES, deleted=True) == {"m0003"}
    await _exact(h)
    assert await _watermark(h) == {"historyId": str(box.history_id)}
