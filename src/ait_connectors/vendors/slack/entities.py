"""Slack entity models, validated straight from the Web API's JSON.

Fields nested in the API's objects are flattened with an ``AliasPath`` (``topic.value`` ->
``topic``); with ``populate_by_name`` a stored payload validates by the fields' own names, so a
record read back is the same entity. Slack's documentation marks almost every field of its
objects optional, and profile fields "may not be present at all, may be null or may contain an
empty string": everything but the identity is optional, and ``""`` counts as absent.

Messages carry the conversation they were read from under :data:`CHANNEL_KEY` (a history item
does not say which conversation it belongs to).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AliasPath, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ait_connectors.vendor import Entity

__all__ = ["CHANNEL_KEY", "SlackChannel", "SlackMessage", "SlackUser", "conversation_type"]

#: Key under which the data source attaches the conversation id to each message.
CHANNEL_KEY = "_channel_id"


def _at(*path: str, default: Any = None) -> Any:
    return Field(default, validation_alias=AliasPath(*path))


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def _epoch(value: Any) -> Any:
    """Slack times: epoch seconds as a number, or a message ``ts`` string ("1712345678.123456");
    ``0``/``""`` mean "never". An ISO string (the stored form) is kept."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            return value
    return value


Text = Annotated[str | None, BeforeValidator(_blank_is_none)]
Time = Annotated[datetime | None, BeforeValidator(_epoch)]
Flag = Annotated[bool, BeforeValidator(lambda value: bool(value))]
Count = Annotated[int, BeforeValidator(lambda value: value or 0)]


def conversation_type(item: dict[str, Any]) -> str:
    """``public_channel``, ``private_channel``, ``im`` or ``mpim`` (``users.conversations``'
    own ``types`` vocabulary), from a conversation object's ``is_*`` flags."""
    if item.get("is_im"):
        return "im"
    if item.get("is_mpim"):
        return "mpim"
    if item.get("is_private") or item.get("is_group"):
        return "private_channel"
    return "public_channel"


class SlackChannel(Entity):
    """A conversation the user is a member of: public or private channel, DM or group DM."""

    entity_type: ClassVar[str] = "channels"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str
    type: str
    name: Text = None  # DMs have none
    is_private: Flag = False
    is_archived: Flag = False
    is_general: Flag = False
    is_shared: Flag = False
    is_ext_shared: Flag = False
    created: Time = None
    creator: Text = None
    im_user_id: Text = _at("user")  # a DM's other member
    topic: Text = _at("topic", "value")
    purpose: Text = _at("purpose", "value")
    context_team_id: Text = None

    @model_validator(mode="before")
    @classmethod
    def _type(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("type"):
            return {**data, "type": conversation_type(data)}
        return data


class SlackUser(Entity):
    """A member of the workspace, including bots, guests and deactivated accounts
    (``deleted``). ``email`` needs the ``users:read.email`` scope, which is not asked for."""

    entity_type: ClassVar[str] = "users"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str
    team_id: Text = None
    name: Text = None
    real_name: Text = _at("profile", "real_name")
    display_name: Text = _at("profile", "display_name")
    title: Text = _at("profile", "title")
    email: Text = _at("profile", "email")
    image_72: Text = _at("profile", "image_72")
    deleted: Flag = False
    is_bot: Flag = False
    is_app_user: Flag = False
    is_admin: Flag = False
    is_owner: Flag = False
    is_restricted: Flag = False
    is_ultra_restricted: Flag = False
    tz: Text = None
    updated: Time = None


class SlackFile(BaseModel):
    """A file shared in a message (the metadata only)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: Text = None
    mimetype: Text = None
    permalink: Text = None


class SlackReaction(BaseModel):
    """One emoji reaction and how many people added it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    count: Count = 0


def _objects_with(key: str) -> BeforeValidator:
    return BeforeValidator(
        lambda items: [
            x
            for x in items or ()
            if isinstance(x, BaseModel) or (isinstance(x, dict) and x.get(key))
        ]
    )


class SlackMessage(Entity):
    """A message of a conversation: a top-level message or a thread reply (``is_reply``),
    keyed by conversation and ``ts`` (Slack's message id, kept as text)."""

    entity_type: ClassVar[str] = "messages"
    natural_key: ClassVar[tuple[str, ...]] = ("channel_id", "ts")

    channel_id: str = Field(validation_alias=AliasPath(CHANNEL_KEY))
    ts: str
    posted_at: Time = None
    thread_ts: Text = None
    is_reply: bool = False
    parent_user_id: Text = None
    subtype: Text = None
    user: Text = None
    bot_id: Text = None
    username: Text = None
    text: Text = None
    edited_ts: Text = _at("edited", "ts")
    edited_by: Text = _at("edited", "user")
    reply_count: Count = 0
    reply_users_count: Count = 0
    latest_reply: Text = None
    files: Annotated[list[SlackFile], _objects_with("id")] = []
    reactions: Annotated[list[SlackReaction], _objects_with("name")] = []
    attachments_count: Count = 0
    blocks: list[dict[str, Any]] | None = None

    @model_validator(mode="before")
    @classmethod
    def _derived(cls, data: Any) -> Any:
        # An API item (not a stored payload): derive what it only implies.
        if not isinstance(data, dict) or "posted_at" in data:
            return data
        thread = data.get("thread_ts")
        attachments = data.get("attachments")
        return {
            **data,
            "posted_at": data.get("ts"),
            "is_reply": bool(thread) and thread != data.get("ts"),
            "attachments_count": len(attachments) if isinstance(attachments, list) else 0,
        }
