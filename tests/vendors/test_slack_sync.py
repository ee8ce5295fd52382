"""Slack syncs against the local mock, on SQLite and PostgreSQL: what each run requests (full and
incremental), threads that changed, archived conversations, per-conversation errors, and the
typed views."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from slack_mock import SlackMock, slack_fixture, slack_server_fixture  # noqa: F401 (fixtures)
from vendor_testkit import Reply, Setup, rows, run

from ait_connectors.vendors.slack import ConnectorSlackService, SlackLimits

pytestmark = pytest.mark.usefixtures("slack_server")


def calls(mock: SlackMock) -> Counter[str]:
    """Web API calls per method since the log was last cleared."""
    return Counter(r.path.rsplit("/", 1)[-1] for r in mock.log)


async def test_full_then_incremental_request_counts(slack: Setup, slack_server: SlackMock) -> None:
    full = await run(slack)
    assert all(r.ok and r.scan_completed for r in full.values()), full
    assert (full["users"].added, full["channels"].added, full["messages"].added) == (6, 6, 18)
    assert calls(slack_server) == {
        "users.list": 1,
        "users.conversations": 2,  # the channels type, and the messages walk's parents
        "conversations.history": 6,  # one per conversation
        "conversations.replies": 2,  # the two threads
    }
    slack_server.clear_log()
    again = await run(slack)
    assert all(r.rows_written == 0 for r in again.values()), again
    # From oldest on: the archived conversation (read while archived) is not read at all.
    assert calls(slack_server) == {
        "users.list": 1,
        "users.conversations": 2,
        "conversations.history": 5,
    }
    history = slack_server.requests("conversations.history")
    assert all("oldest" in r.query for r in history)
    assert "C0OLDPRJ04" not in {r.query["channel"] for r in history}


async def test_pages_of_every_list_are_followed(
    slack: Setup, slack_server: SlackMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = SlackLimits(history_page_size=2, list_page_size=2)
    monkeypatch.setattr(ConnectorSlackService, "limits", limits)
    slack_server.omit_empty_metadata = True  # a last page without response_metadata at all
    full = await run(slack)
    assert (full["users"].added, full["channels"].added, full["messages"].added) == (6, 6, 18)
    assert calls(slack_server) == {
        "users.list": 3,
        "users.conversations": 6,
        "conversations.history": 9,  # general 4 pages (7 top-level), engineering 1, others 1
        "conversations.replies": 4,  # the 4 replies + parent: 3 pages; engineering's: 1
    }
    slack_server.clear_log()
    again = await run(slack)
    assert all(r.rows_written == 0 for r in again.values()), again
    # The archived conversation is not read; general's day of lookback (all of its fixture
    # history) is read again to find threads with new replies: none, so no replies requests.
    assert calls(slack_server) == {
        "users.list": 3,
        "users.conversations": 6,
        "conversations.history": 8,
    }


async def test_a_new_reply_to_a_known_thread_is_read(slack: Setup, slack_server: SlackMock) -> None:
    # A thread whose parent is recent enough for the lookback (a day before the last walk).
    now = f"{time.time() - 3600:.6f}"
    slack_server.post("C0ENGINE02", now, "A fresh thread", reply_count=0)
    assert (await run(slack, "messages"))["messages"].ok
    slack_server.clear_log()
    later = f"{float(now) + 7200:.6f}"
    slack_server.reply("C0ENGINE02", now, later, "A late answer")
    result = (await run(slack, "messages"))["messages"]
    assert result.ok and result.added == 1 and result.updated == 1  # the reply, its parent
    (replies,) = slack_server.requests("conversations.replies")
    assert replies.query["ts"] == now and "oldest" in replies.query
    (row,) = await rows(
        slack.database,
        "SELECT text, is_reply, thread_ts FROM slack_messages WHERE ts = :ts",
        ts=later,
    )
    assert (row.text, bool(row.is_reply), row.thread_ts) == ("A late answer", True, now)


async def test_replies_to_threads_older_than_the_lookback_are_not_reread(
    slack: Setup, slack_server: SlackMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConnectorSlackService, "thread_lookback", timedelta(0))
    assert (await run(slack, "messages"))["messages"].ok
    slack_server.clear_log()
    slack_server.reply("C0GENERAL1", "1712345000.000100", "1712399999.000100", "Very late")
    result = (await run(slack, "messages"))["messages"]
    assert result.ok and result.added == 0  # the documented limit: parent out of the window
    assert "conversations.replies" not in calls(slack_server)


async def test_a_conversation_the_user_left_is_skipped_with_a_warning(
    slack: Setup, slack_server: SlackMock
) -> None:
    slack_server.not_in.add("G0SECRET03")
    result = (await run(slack, "messages"))["messages"]
    assert result.ok and result.added == 17
    assert any("G0SECRET03" in w and "not_in_channel" in w for w in result.warnings), result


async def test_a_missing_scope_fails_the_type_and_names_the_scope(
    slack: Setup, slack_server: SlackMock
) -> None:
    slack_server.scopes.discard("users:read")
    result = (await run(slack, "users"))["users"]
    assert result.status == "failed" and result.error_code == "VENDOR_MISSING_SCOPE"
    assert "users:read" in (result.error or "") and "reconnect" in (result.error or "")


async def test_a_group_dm_without_its_history_scope_is_skipped(
    slack: Setup, slack_server: SlackMock
) -> None:
    slack_server.scopes.discard("mpim:history")
    result = (await run(slack, "messages"))["messages"]
    assert result.ok and result.added == 17
    assert any("G0MPDM0006" in w and "missing_scope" in w for w in result.warnings)


async def test_typed_views(slack: Setup) -> None:
    assert all(r.ok for r in (await run(slack)).values())
    channels = await rows(
        slack.database, "SELECT id, type, name, im_user_id FROM slack_channels ORDER BY id"
    )
    assert {(r.id, r.type) for r in channels} >= {
        ("C0GENERAL1", "public_channel"),
        ("G0SECRET03", "private_channel"),
        ("D0ADAGRACE", "im"),
        ("G0MPDM0006", "mpim"),
    }
    (dm,) = [r for r in channels if r.id == "D0ADAGRACE"]
    assert dm.name is None and dm.im_user_id == "U0GRACE002"
    (bot,) = await rows(
        slack.database, "SELECT is_bot, real_name FROM slack_users WHERE id = 'U0BOT00005'"
    )
    assert bool(bot.is_bot) and bot.real_name == "Deploy Bot"
    (count,) = await rows(
        slack.database, "SELECT count(*) AS n FROM slack_messages WHERE channel_id = 'C0GENERAL1'"
    )
    assert count.n == 10


async def test_history_is_read_from_the_last_seen_ts(
    slack: Setup, slack_server: SlackMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConnectorSlackService, "thread_lookback", timedelta(0))
    empty = {**slack_server.channels[1], "id": "C0EMPTY007", "name": "empty", "created": 1690000600}
    slack_server.channels.append(empty)
    before = time.time()
    assert (await run(slack, "messages"))["messages"].ok
    slack_server.clear_log()
    assert (await run(slack, "messages"))["messages"].rows_written == 0
    oldest = {r.query["channel"]: r.query["oldest"] for r in slack_server.requests("history")}
    # Slack's oldest is exclusive: the newest message read last time is not read again.
    assert oldest["C0GENERAL1"] == "1712345400.000500"  # the broadcast reply, in the history
    assert oldest["D0ADAGRACE"] == "1712370100.000200"
    # Nothing seen yet: from the last walk's start, less the overlap for clock skew.
    assert before - 300 - 5 <= float(oldest["C0EMPTY007"]) <= time.time() - 300
    slack_server.post("C0EMPTY007", f"{time.time():.6f}", "First words")
    result = (await run(slack, "messages"))["messages"]
    assert result.added == 1


@pytest.mark.parametrize("entity_type", ["users", "messages"])
async def test_a_scan_resumed_after_its_cursors_expired_completes(
    slack: Setup, slack_server: SlackMock, monkeypatch: pytest.MonkeyPatch, entity_type: str
) -> None:
    monkeypatch.setattr(
        ConnectorSlackService, "limits", SlackLimits(history_page_size=2, list_page_size=2)
    )
    method, scope = {
        "users": ("users.list", "users"),
        "messages": ("conversations.history", "history:C0GENERAL1::"),
    }[entity_type]
    limited = Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "600"})
    slack_server.fault(f"/{method}", limited, cursor=slack_server.cursor(scope, 2))
    stopped = (await run(slack, entity_type))[entity_type]
    # users: one page; messages: general's first page, its thread parent and the thread's replies
    first = {"users": 2, "messages": 5}[entity_type]
    assert stopped.status == "rate_limited" and stopped.added == first, stopped
    slack_server.expire_cursors()  # hours later: Slack no longer takes the stored cursor
    slack_server.clear_log()
    resumed = (await run(slack, entity_type))[entity_type]
    assert resumed.ok and resumed.scan_completed, resumed
    expected = {"users": 6, "messages": 18}[entity_type]
    assert stopped.added + resumed.added == expected and resumed.deleted == 0
    refused, again = slack_server.requests(method)[:2]
    assert refused.query.get("cursor") and "cursor" not in again.query
    if entity_type == "messages":  # read on from the oldest message already read
        assert again.query["latest"] == "1712345000.000100"  # the thread parent
