"""Slack's JSON -> entities: every fixture maps, optional fields may be absent, null or ``""``,
derived fields (conversation type, reply flag, post time) are right, and a stored payload
validates back to the same entity."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from slack_mock import load

from ait_connectors.vendor import AuthorizationRequiredError, RateLimitError
from ait_connectors.vendors.slack.entities import (
    CHANNEL_KEY,
    SlackChannel,
    SlackMessage,
    SlackUser,
)
from ait_connectors.vendors.slack.errors import SlackAPIError, slack_error


def messages() -> list[dict[str, Any]]:
    return [
        {**m, CHANNEL_KEY: channel} for channel, items in load("messages").items() for m in items
    ]


@pytest.mark.parametrize(
    ("model", "items"),
    [
        (SlackUser, load("users")),
        (SlackChannel, load("conversations")),
        (SlackMessage, messages()),
    ],
    ids=["users", "channels", "messages"],
)
def test_stored_payload_validates_to_the_same_entity(model: Any, items: list[Any]) -> None:
    for item in items:
        entity = model.model_validate(item)
        assert model.model_validate(entity.model_dump(mode="json")) == entity


def test_conversation_types_and_dm_fields() -> None:
    by_id = {c["id"]: SlackChannel.model_validate(c) for c in load("conversations")}
    assert by_id["C0GENERAL1"].type == "public_channel" and by_id["C0GENERAL1"].is_general
    assert by_id["G0SECRET03"].type == "private_channel" and by_id["G0SECRET03"].is_private
    assert by_id["G0MPDM0006"].type == "mpim"
    dm = by_id["D0ADAGRACE"]
    assert (dm.type, dm.name, dm.im_user_id, dm.topic) == ("im", None, "U0GRACE002", None)
    assert by_id["C0ENGINE02"].topic is None  # Slack's "no topic" is an empty value
    assert by_id["C0OLDPRJ04"].is_archived
    assert by_id["C0GENERAL1"].created == datetime.fromtimestamp(1690000000, UTC)


def test_message_fields() -> None:
    by_ts = {m["ts"]: SlackMessage.model_validate(m) for m in messages()}
    parent = by_ts["1712345000.000100"]
    assert (parent.is_reply, parent.reply_count, parent.latest_reply) == (
        False,
        4,
        "1712345400.000500",
    )
    reply = by_ts["1712345100.000200"]
    assert reply.is_reply and reply.thread_ts == parent.ts and reply.channel_id == "C0GENERAL1"
    assert reply.posted_at == datetime.fromtimestamp(1712345100.0002, UTC)
    bot = by_ts["1712342000.000300"]
    assert (bot.subtype, bot.bot_id, bot.user, bot.attachments_count) == (
        "bot_message",
        "B0DEPLOY01",
        None,
        1,
    )
    edited = by_ts["1712343000.000400"]
    assert (edited.edited_ts, edited.edited_by) == ("1712343100.000000", "U0LINUS003")
    (file,) = by_ts["1712341000.000200"].files
    assert (file.id, file.mimetype) == ("F0ROADMAP1", "application/pdf")
    (reaction,) = by_ts["1712340000.000100"].reactions
    assert (reaction.name, reaction.count) == ("wave", 2)


@pytest.mark.parametrize("mode", ["absent", "null", "blank"])
def test_everything_but_the_identity_is_optional(mode: str) -> None:
    def blank(item: dict[str, Any], keep: set[str]) -> dict[str, Any]:
        if mode == "absent":
            return {k: v for k, v in item.items() if k in keep}
        # "blank": strings empty (Slack's "not supplied" for profile fields), the rest null.
        empty = {k: "" if mode == "blank" and isinstance(v, str) else None for k, v in item.items()}
        return {k: v if k in keep else empty[k] for k, v in item.items()}

    user = SlackUser.model_validate(blank(copy.deepcopy(load("users")[0]), {"id"}))
    assert user.id == "U0ADA00001" and user.real_name is None and not user.deleted
    channel = SlackChannel.model_validate(blank(load("conversations")[0], {"id"}))
    assert channel.type == "public_channel" and channel.name is None
    message = SlackMessage.model_validate(blank(messages()[0], {"ts", CHANNEL_KEY}))
    assert message.text is None and message.files == [] and not message.is_reply


def _response(status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://x/"))


def test_ok_false_errors_map_to_the_framework_errors() -> None:
    limited = slack_error("users.list", {"ok": False, "error": "ratelimited"}, _response(200))
    assert isinstance(limited, RateLimitError) and 55 < limited.wait_seconds() <= 60
    revoked = slack_error("users.list", {"ok": False, "error": "token_revoked"}, _response())
    assert isinstance(revoked, AuthorizationRequiredError)
    assert revoked.reason == "slack_token_revoked"
    scope = slack_error(
        "users.list",
        {"ok": False, "error": "missing_scope", "needed": "users:read", "provided": "team:read"},
        _response(),
    )
    assert isinstance(scope, SlackAPIError) and scope.code == "VENDOR_MISSING_SCOPE"
    assert "needed: users:read" in scope.message
    transient = slack_error("x", {"ok": False, "error": "internal_error"}, _response())
    assert isinstance(transient, SlackAPIError) and transient.code == "VENDOR_SERVER_ERROR"
    other = slack_error("x", {"ok": False}, _response())
    assert isinstance(other, SlackAPIError) and other.slack_error == "unknown_error"
