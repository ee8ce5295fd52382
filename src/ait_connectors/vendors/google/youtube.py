"""YouTube (Data API v3): the user's subscriptions, playlists and their items, liked videos.

============================ ============================================= ====================
entity type                  source (``/youtube/v3/…``, 50 a page)          incremental
============================ ============================================= ====================
``youtube_subscriptions``    ``subscriptions?mine=true``                   full scan + sweep
``youtube_playlists``        ``playlists?mine=true``                       full scan + sweep
``youtube_playlist_items``   ``playlistItems?playlistId=…`` per playlist   full scan + sweep
``youtube_liked_videos``     ``videos?myRating=like``                      full scan + sweep
============================ ============================================= ====================

The API has no change feed for these lists, so each run reads them whole; every call costs 1
quota unit (10,000 a day by default) and each run reports what it spent. Liked videos come from
``videos.list`` with ``myRating=like`` (the ratings guide's way; the "likes" playlist is the
other), which pages with ``pageToken`` like the rest. When the daily quota runs out (403
``quotaExceeded``) the run stops with its cursor saved and resumes after midnight Pacific Time.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from pydantic import AliasPath, Field

from ait_connectors.vendor import ChildWalk, Cursor, Entity, EntityType, Page, RateLimitError

from .base import GoogleBase, items_of
from .quota import YOUTUBE_COSTS, QuotaMeter, with_units

logger = logging.getLogger(__name__)

__all__ = [
    "REQUIRED_SCOPES",
    "YOUTUBE_READONLY",
    "YouTubeEntities",
    "YouTubeLikedVideo",
    "YouTubePages",
    "YouTubePlaylist",
    "YouTubePlaylistItem",
    "YouTubeSubscription",
]

YOUTUBE_READONLY = "https://www.googleapis.com/auth/youtube.readonly"
PAGE_SIZE = 50  # maxResults' largest value on every list method used here


def _at(first: str, *path: str) -> Any:
    # A stored payload validates by the fields' own names (populate_by_name).
    return Field(None, validation_alias=AliasPath(first, *path))


class YouTubeSubscription(Entity):
    """A channel the user subscribes to."""

    entity_type: ClassVar[str] = "youtube_subscriptions"
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"new_item_count"})

    id: str
    channel_id: str | None = _at("snippet", "resourceId", "channelId")
    title: str | None = _at("snippet", "title")
    description: str | None = _at("snippet", "description")
    published_at: str | None = _at("snippet", "publishedAt")
    thumbnail_url: str | None = _at("snippet", "thumbnails", "default", "url")
    total_item_count: int | None = _at("contentDetails", "totalItemCount")
    new_item_count: int | None = _at("contentDetails", "newItemCount")


class YouTubePlaylist(Entity):
    """A playlist the user owns."""

    entity_type: ClassVar[str] = "youtube_playlists"

    id: str
    title: str | None = _at("snippet", "title")
    description: str | None = _at("snippet", "description")
    published_at: str | None = _at("snippet", "publishedAt")
    channel_id: str | None = _at("snippet", "channelId")
    channel_title: str | None = _at("snippet", "channelTitle")
    privacy_status: str | None = _at("status", "privacyStatus")
    item_count: int | None = _at("contentDetails", "itemCount")
    thumbnail_url: str | None = _at("snippet", "thumbnails", "default", "url")


class YouTubePlaylistItem(Entity):
    """One video of one of the user's playlists (an item id is unique across playlists)."""

    entity_type: ClassVar[str] = "youtube_playlist_items"

    id: str
    playlist_id: str = Field(validation_alias=AliasPath("snippet", "playlistId"))
    video_id: str | None = _at("contentDetails", "videoId")
    position: int | None = _at("snippet", "position")
    title: str | None = _at("snippet", "title")
    description: str | None = _at("snippet", "description")
    added_at: str | None = _at("snippet", "publishedAt")
    video_published_at: str | None = _at("contentDetails", "videoPublishedAt")
    video_owner_channel_id: str | None = _at("snippet", "videoOwnerChannelId")
    video_owner_channel_title: str | None = _at("snippet", "videoOwnerChannelTitle")
    note: str | None = _at("contentDetails", "note")
    privacy_status: str | None = _at("status", "privacyStatus")


class YouTubeLikedVideo(Entity):
    """A video the user rated "like"."""

    entity_type: ClassVar[str] = "youtube_liked_videos"

    id: str
    title: str | None = _at("snippet", "title")
    description: str | None = _at("snippet", "description")
    channel_id: str | None = _at("snippet", "channelId")
    channel_title: str | None = _at("snippet", "channelTitle")
    published_at: str | None = _at("snippet", "publishedAt")
    category_id: str | None = _at("snippet", "categoryId")
    tags: list[str] | None = _at("snippet", "tags")
    duration: str | None = _at("contentDetails", "duration")
    thumbnail_url: str | None = _at("snippet", "thumbnails", "default", "url")


def _list(path: str, **params: Any) -> tuple[str, dict[str, Any]]:
    return f"/{path}", {"maxResults": PAGE_SIZE, **params}


_SUBSCRIPTIONS = _list("subscriptions", part="snippet,contentDetails", mine="true")
_PLAYLISTS = _list("playlists", part="snippet,contentDetails,status", mine="true")
_LIKED = _list("videos", part="snippet,contentDetails", myRating="like")
_ITEMS_PART = "snippet,contentDetails,status"

#: Each playlist's items; the playlists are listed once per run.
PLAYLIST_ITEMS = ChildWalk("youtube_list_playlists", "youtube_playlist_items_of").fetcher(
    incremental=False
)


class YouTubePages(GoogleBase):
    """The YouTube part of the Google data source."""

    @property
    def youtube_meter(self) -> QuotaMeter:
        """This data source's (this run's) YouTube quota meter."""
        meter = self.__dict__.get("_youtube_meter")
        if meter is None:
            meter = self.__dict__["_youtube_meter"] = QuotaMeter("youtube", YOUTUBE_COSTS)
        return meter

    async def _youtube_page(
        self, method: str, first: tuple[str, dict[str, Any]], cursor: Cursor
    ) -> Page[Any]:
        self.youtube_meter.spend(method)  # every call costs, refused ones too
        path, params = first
        if isinstance(cursor, dict) and cursor.get("page"):
            params = {**params, "pageToken": cursor["page"]}
        try:
            data, raw = await self.get_json("youtube", path, params)
        except RateLimitError as exc:
            raise with_units(exc, self.youtube_meter) from None
        items = items_of(data, "items", self.provider, method)
        token = data.get("nextPageToken")
        return Page(items, {"page": str(token)} if token else None, raw=raw)

    def _reported(self, page: Page[Any]) -> Page[Any]:
        """The scan's last page carries the run's quota report (kept in the run's record)."""
        if page.next_cursor is None:
            report = self.youtube_meter.report()
            logger.info("%s", report)
            page.warnings = (*page.warnings, report)
        return page

    async def youtube_subscriptions_page(self, cursor: Cursor) -> Page[Any]:
        await self.require_scope("youtube_subscriptions")
        page = await self._youtube_page("subscriptions.list", _SUBSCRIPTIONS, cursor)
        return self._reported(page)

    async def youtube_playlists_page(self, cursor: Cursor) -> Page[Any]:
        await self.require_scope("youtube_playlists")
        return self._reported(await self._youtube_page("playlists.list", _PLAYLISTS, cursor))

    async def youtube_liked_videos_page(self, cursor: Cursor) -> Page[Any]:
        await self.require_scope("youtube_liked_videos")
        return self._reported(await self._youtube_page("videos.list", _LIKED, cursor))

    async def youtube_list_playlists(self) -> list[Any]:
        """Every playlist of the user (the walk's parents)."""
        found: list[Any] = []
        cursor: Cursor = None
        while True:
            page = await self._youtube_page("playlists.list", _PLAYLISTS, cursor)
            found += page.items
            if (cursor := page.next_cursor) is None:
                return found

    async def youtube_playlist_items_of(
        self, playlist: dict[str, Any], cursor: Cursor, since: str | None
    ) -> Page[Any]:
        first = _list("playlistItems", part=_ITEMS_PART, playlistId=str(playlist["id"]))
        return await self._youtube_page("playlistItems.list", first, cursor)

    async def youtube_playlist_items_page(self, cursor: Cursor) -> Page[Any]:
        await self.require_scope("youtube_playlist_items")
        return self._reported(await PLAYLIST_ITEMS(self, cursor, None))


class YouTubeEntities:
    """The YouTube entity types of the Google service."""

    youtube_subscriptions = EntityType(YouTubeSubscription, page="youtube_subscriptions_page")
    youtube_playlists = EntityType(YouTubePlaylist, page="youtube_playlists_page")
    youtube_playlist_items = EntityType(YouTubePlaylistItem, page="youtube_playlist_items_page")
    youtube_liked_videos = EntityType(YouTubeLikedVideo, page="youtube_liked_videos_page")


REQUIRED_SCOPES: dict[str, str] = {
    "youtube_subscriptions": YOUTUBE_READONLY,
    "youtube_playlists": YOUTUBE_READONLY,
    "youtube_playlist_items": YOUTUBE_READONLY,
    "youtube_liked_videos": YOUTUBE_READONLY,
}
