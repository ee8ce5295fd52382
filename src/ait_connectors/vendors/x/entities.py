"""X entity models, validated straight from the X API v2 JSON.

A post arrives as a ``data`` item whose related objects (author, media, referenced posts, place,
poll) sit in the response's ``includes``: the data source joins them into the item under
:data:`INCLUDES_KEY` before mapping, so a model reads one self-contained object. X returns only
the fields asked for (``tweet.fields``, ``user.fields``…): apart from ``id`` (and ``text``,
``name``, ``username``, which X always sends) every field is optional, and ``null`` counts as
absent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from ...vendor import Entity

__all__ = [
    "INCLUDES_KEY",
    "XBookmark",
    "XEntity",
    "XFollowedAccount",
    "XLikedPost",
    "XMedia",
    "XPost",
    "XReference",
]

#: Key under which the data source attaches a post's expanded objects from ``includes``:
#: ``{"author": user, "media": [...], "place": place, "polls": [...]}``.
INCLUDES_KEY = "_includes"


def at(*paths: str, default: Any = None) -> Any:
    """A field read at a dotted path of the item (the first path present wins); the stored
    payload is read back by the field's own name (``populate_by_name``)."""
    return Field(default, validation_alias=AliasChoices(*(AliasPath(*p.split(".")) for p in paths)))


def _entity_values(key: str) -> BeforeValidator:
    """``entities.hashtags`` ``[{start, end, tag}]`` → ``["tag", …]`` (strings are kept)."""

    def pick(values: Any) -> list[str]:
        picked = []
        for value in values or ():
            if isinstance(value, dict):
                value = value.get(key)
            if isinstance(value, str) and value:
                picked.append(value)
        return picked

    return BeforeValidator(pick)


def _objects(values: Any) -> list[Any]:
    """A list that X may send with ``null`` entries, or not at all."""
    return [v for v in values or () if isinstance(v, dict | BaseModel)]


class XMedia(BaseModel):
    """A photo, video or GIF attached to a post (``includes.media``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    media_key: str
    type: str | None = None
    url: str | None = None
    preview_image_url: str | None = None
    alt_text: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None


class XReference(BaseModel):
    """A post this one quotes, retweets or replies to (``referenced_tweets``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str
    id: str


Strings = Annotated[
    list[str], BeforeValidator(lambda v: [s for s in v or () if isinstance(s, str)])
]
Media = Annotated[list[XMedia], BeforeValidator(_objects)]
References = Annotated[list[XReference], BeforeValidator(_objects)]


class XEntity(Entity):
    """Base of the X models: ``null`` means absent, ids are strings (X sends 64-bit ids as
    strings so that JavaScript does not round them)."""

    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    @field_validator("*", mode="before")
    @classmethod
    def _null_is_absent(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields[str(info.field_name)]
        if value is None and not field.is_required():
            return field.get_default(call_default_factory=True)
        return value

    @classmethod
    def from_api(cls, item: Any) -> Self | None:
        """The entity of one ``data`` item; ``None`` (skipped) for one without an id."""
        if not isinstance(item, dict) or not item.get("id"):
            return None
        return cls.model_validate(item)


class XPost(XEntity):
    """One of the user's own posts (``GET /2/users/:id/tweets``), retweets and replies
    included. The public counts change all the time: they are volatile."""

    entity_type: ClassVar[str] = "posts"
    volatile_fields: ClassVar[frozenset[str]] = frozenset(
        {
            "retweet_count",
            "reply_count",
            "like_count",
            "quote_count",
            "bookmark_count",
            "impression_count",
        }
    )

    id: str
    text: str = ""
    created_at: datetime | None = None
    author_id: str | None = None
    author_username: str | None = at(f"{INCLUDES_KEY}.author.username", "author_username")
    author_name: str | None = at(f"{INCLUDES_KEY}.author.name", "author_name")
    conversation_id: str | None = None
    in_reply_to_user_id: str | None = None
    lang: str | None = None
    possibly_sensitive: bool | None = None
    reply_settings: str | None = None
    referenced_tweets: References = []
    edit_history_tweet_ids: Strings = []
    retweet_count: int | None = at("public_metrics.retweet_count", "retweet_count")
    reply_count: int | None = at("public_metrics.reply_count", "reply_count")
    like_count: int | None = at("public_metrics.like_count", "like_count")
    quote_count: int | None = at("public_metrics.quote_count", "quote_count")
    bookmark_count: int | None = at("public_metrics.bookmark_count", "bookmark_count")
    impression_count: int | None = at("public_metrics.impression_count", "impression_count")
    hashtags: Annotated[list[str], _entity_values("tag")] = at(
        "entities.hashtags", "hashtags", default=[]
    )
    mentions: Annotated[list[str], _entity_values("username")] = at(
        "entities.mentions", "mentions", default=[]
    )
    urls: Annotated[list[str], _entity_values("expanded_url")] = at(
        "entities.urls", "urls", default=[]
    )
    media: Media = at(f"{INCLUDES_KEY}.media", "media", default=[])
    place_id: str | None = at("geo.place_id", "place_id")
    place_full_name: str | None = at(f"{INCLUDES_KEY}.place.full_name", "place_full_name")
    poll_id: str | None = at("attachments.poll_ids.0", "poll_id")


class XLikedPost(XPost):
    """A post the user liked (``GET /2/users/:id/liked_tweets``), most recently liked first."""

    entity_type: ClassVar[str] = "liked_posts"


class XBookmark(XPost):
    """A post the user bookmarked (``GET /2/users/:id/bookmarks``)."""

    entity_type: ClassVar[str] = "bookmarks"


class XFollowedAccount(XEntity):
    """An account the user follows (``GET /2/users/:id/following``). Follower, following, post
    and listed counts are volatile."""

    entity_type: ClassVar[str] = "following"
    volatile_fields: ClassVar[frozenset[str]] = frozenset(
        {"followers_count", "following_count", "tweet_count", "listed_count", "like_count"}
    )

    id: str
    username: str | None = None
    name: str | None = None
    created_at: datetime | None = None
    description: str | None = None
    location: str | None = None
    url: str | None = None
    protected: bool | None = None
    verified: bool | None = None
    verified_type: str | None = None
    profile_image_url: str | None = None
    pinned_tweet_id: str | None = None
    followers_count: int | None = at("public_metrics.followers_count", "followers_count")
    following_count: int | None = at("public_metrics.following_count", "following_count")
    tweet_count: int | None = at("public_metrics.tweet_count", "tweet_count")
    listed_count: int | None = at("public_metrics.listed_count", "listed_count")
    like_count: int | None = at("public_metrics.like_count", "like_count")
