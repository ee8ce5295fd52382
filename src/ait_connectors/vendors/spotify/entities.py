"""Spotify entity models and the mappers that build them from the Web API's JSON.

Since the February 2026 Development Mode changes some fields are deprecated and may be missing
(``popularity``, ``followers``, ``genres``, ``label``, ``available_markets``, ``preview_url``): the
models treat them as optional. Playlist objects carry their item count under ``items`` (older
responses: ``tracks``), and playlist items their track or episode under ``item`` (older:
``track``); the mappers read both spellings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ...entities import Entity

__all__ = [
    "PLAYLIST_KEY",
    "POSITION_KEY",
    "RANK_KEY",
    "TIME_RANGE_KEY",
    "SpotifyArtistRef",
    "SpotifyImage",
    "SpotifyPlay",
    "SpotifyPlaylist",
    "SpotifyPlaylistItem",
    "SpotifySavedAlbum",
    "SpotifySavedTrack",
    "SpotifyTopArtist",
    "map_play",
    "map_playlist",
    "map_playlist_item",
    "map_saved_album",
    "map_saved_track",
    "map_top_artist",
]

#: Keys the data source adds to raw items: what the item alone does not say.
PLAYLIST_KEY = "_playlist_id"
POSITION_KEY = "_position"
RANK_KEY = "_rank"
TIME_RANGE_KEY = "_time_range"


class SpotifyArtistRef(BaseModel):
    """An artist as tracks and albums embed it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str | None = None
    name: str


class SpotifyImage(BaseModel):
    """An image (cover art, artist picture); ``height``/``width`` are null for some."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    url: str
    height: int | None = None
    width: int | None = None


class SpotifySavedTrack(Entity):
    """A track in the user's library ("Liked Songs")."""

    entity_type: ClassVar[str] = "tracks"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"popularity"})

    id: str
    name: str
    uri: str
    added_at: datetime
    duration_ms: int
    explicit: bool = False
    disc_number: int | None = None
    track_number: int | None = None
    is_local: bool = False
    popularity: int | None = None
    artists: list[SpotifyArtistRef] = []
    album_id: str | None = None
    album_name: str | None = None
    album_type: str | None = None
    album_release_date: str | None = None
    album_release_date_precision: str | None = None
    album_images: list[SpotifyImage] = []
    isrc: str | None = None
    external_url: str | None = None


class SpotifyTopArtist(Entity):
    """One of the user's top artists; ``rank`` is its position (1 = most listened)."""

    entity_type: ClassVar[str] = "top_artists"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"popularity", "followers_total"})

    id: str
    name: str
    uri: str
    rank: int
    time_range: str
    genres: list[str] | None = None
    popularity: int | None = None
    followers_total: int | None = None
    images: list[SpotifyImage] = []
    external_url: str | None = None


class SpotifyPlaylist(Entity):
    """A playlist the user owns or follows. ``snapshot_id`` changes with every edit."""

    entity_type: ClassVar[str] = "playlists"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str
    name: str
    description: str | None = None
    public: bool | None = None
    collaborative: bool = False
    owner_id: str | None = None
    owner_display_name: str | None = None
    snapshot_id: str
    items_total: int | None = None
    images: list[SpotifyImage] = []
    uri: str
    external_url: str | None = None


class SpotifyPlaylistItem(Entity):
    """One entry of a playlist, keyed by playlist and position (a track may appear twice, and
    local files have no id). ``item_type`` is ``track`` or ``episode``."""

    entity_type: ClassVar[str] = "playlist_items"
    natural_key: ClassVar[tuple[str, ...]] = ("playlist_id", "position")

    playlist_id: str
    position: int
    added_at: datetime | None = None
    added_by_id: str | None = None
    is_local: bool = False
    item_type: str | None = None
    item_id: str | None = None
    item_uri: str | None = None
    name: str | None = None
    duration_ms: int | None = None
    explicit: bool | None = None
    artists: list[SpotifyArtistRef] = []
    album_id: str | None = None
    album_name: str | None = None
    show_name: str | None = None


class SpotifySavedAlbum(Entity):
    """An album in the user's library."""

    entity_type: ClassVar[str] = "albums"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"popularity"})

    id: str
    name: str
    uri: str
    added_at: datetime
    album_type: str
    total_tracks: int
    release_date: str | None = None
    release_date_precision: str | None = None
    label: str | None = None
    genres: list[str] | None = None
    popularity: int | None = None
    artists: list[SpotifyArtistRef] = []
    images: list[SpotifyImage] = []
    upc: str | None = None
    external_url: str | None = None


class SpotifyPlay(Entity):
    """One play from the listening history, keyed by track and the moment it was played."""

    entity_type: ClassVar[str] = "recently_played"
    natural_key: ClassVar[tuple[str, ...]] = ("track_id", "played_at")

    track_id: str
    played_at: datetime
    track_name: str
    track_uri: str
    duration_ms: int | None = None
    artists: list[SpotifyArtistRef] = []
    album_id: str | None = None
    album_name: str | None = None
    context_type: str | None = None
    context_uri: str | None = None


# ---------------------------------------------------------------------------------------------
# Mappers


def _artists(items: Any) -> list[SpotifyArtistRef]:
    return [
        SpotifyArtistRef(id=a.get("id"), name=a["name"])
        for a in items or []
        if isinstance(a, dict) and a.get("name") is not None
    ]


def _images(items: Any) -> list[SpotifyImage]:
    return [
        SpotifyImage(url=i["url"], height=i.get("height"), width=i.get("width"))
        for i in items or []
        if isinstance(i, dict) and i.get("url")
    ]


def _spotify_url(obj: Any) -> str | None:
    urls = obj.get("external_urls") if isinstance(obj, dict) else None
    return urls.get("spotify") if isinstance(urls, dict) else None


def _total(obj: Any) -> int | None:
    total = obj.get("total") if isinstance(obj, dict) else None
    return total if isinstance(total, int) else None


def map_saved_track(item: dict[str, Any]) -> SpotifySavedTrack | None:
    """``GET /me/tracks`` item (``{added_at, track}``) → :class:`SpotifySavedTrack`."""
    track = item.get("track")
    if not isinstance(track, dict) or not track.get("id"):
        return None  # a track removed from the catalogue comes back as null
    album = track.get("album") or {}
    external_ids = track.get("external_ids") or {}
    return SpotifySavedTrack(
        id=track["id"],
        name=track["name"],
        uri=track["uri"],
        added_at=item["added_at"],
        duration_ms=track["duration_ms"],
        explicit=bool(track.get("explicit")),
        disc_number=track.get("disc_number"),
        track_number=track.get("track_number"),
        is_local=bool(track.get("is_local")),
        popularity=track.get("popularity"),
        artists=_artists(track.get("artists")),
        album_id=album.get("id"),
        album_name=album.get("name"),
        album_type=album.get("album_type"),
        album_release_date=album.get("release_date"),
        album_release_date_precision=album.get("release_date_precision"),
        album_images=_images(album.get("images")),
        isrc=external_ids.get("isrc"),
        external_url=_spotify_url(track),
    )


def map_top_artist(item: dict[str, Any]) -> SpotifyTopArtist:
    """``GET /me/top/artists`` item (+ rank and time range) → :class:`SpotifyTopArtist`."""
    followers = item.get("followers")
    genres = item.get("genres")
    return SpotifyTopArtist(
        id=item["id"],
        name=item["name"],
        uri=item["uri"],
        rank=item[RANK_KEY],
        time_range=item[TIME_RANGE_KEY],
        genres=list(genres) if isinstance(genres, list) else None,
        popularity=item.get("popularity"),
        followers_total=_total(followers),
        images=_images(item.get("images")),
        external_url=_spotify_url(item),
    )


def map_playlist(item: dict[str, Any]) -> SpotifyPlaylist:
    """``GET /me/playlists`` item → :class:`SpotifyPlaylist`."""
    owner = item.get("owner") or {}
    # ``items`` replaced ``tracks`` in 2026; either may be present.
    total = _total(item.get("items"))
    if total is None:
        total = _total(item.get("tracks"))
    return SpotifyPlaylist(
        id=item["id"],
        name=item["name"],
        description=item.get("description") or None,
        public=item.get("public"),
        collaborative=bool(item.get("collaborative")),
        owner_id=owner.get("id"),
        owner_display_name=owner.get("display_name"),
        snapshot_id=item["snapshot_id"],
        items_total=total,
        images=_images(item.get("images")),
        uri=item["uri"],
        external_url=_spotify_url(item),
    )


def map_playlist_item(item: dict[str, Any]) -> SpotifyPlaylistItem:
    """``GET /playlists/{id}/items`` item (+ playlist id and position) →
    :class:`SpotifyPlaylistItem`."""
    content = item.get("item")
    if content is None:
        content = item.get("track")  # the pre-2026 name
    content = content if isinstance(content, dict) else {}
    added_by = item.get("added_by")
    album = content.get("album")
    show = content.get("show")
    return SpotifyPlaylistItem(
        playlist_id=item[PLAYLIST_KEY],
        position=item[POSITION_KEY],
        added_at=item.get("added_at"),
        added_by_id=added_by.get("id") if isinstance(added_by, dict) else None,
        is_local=bool(item.get("is_local") or content.get("is_local")),
        item_type=content.get("type"),
        item_id=content.get("id"),
        item_uri=content.get("uri"),
        name=content.get("name"),
        duration_ms=content.get("duration_ms"),
        explicit=content.get("explicit"),
        artists=_artists(content.get("artists")),
        album_id=album.get("id") if isinstance(album, dict) else None,
        album_name=album.get("name") if isinstance(album, dict) else None,
        show_name=show.get("name") if isinstance(show, dict) else None,
    )


def map_saved_album(item: dict[str, Any]) -> SpotifySavedAlbum:
    """``GET /me/albums`` item (``{added_at, album}``) → :class:`SpotifySavedAlbum`."""
    album = item["album"]
    genres = album.get("genres")
    external_ids = album.get("external_ids") or {}
    return SpotifySavedAlbum(
        id=album["id"],
        name=album["name"],
        uri=album["uri"],
        added_at=item["added_at"],
        album_type=album["album_type"],
        total_tracks=album["total_tracks"],
        release_date=album.get("release_date"),
        release_date_precision=album.get("release_date_precision"),
        label=album.get("label") or None,
        genres=list(genres) if isinstance(genres, list) else None,
        popularity=album.get("popularity"),
        artists=_artists(album.get("artists")),
        images=_images(album.get("images")),
        upc=external_ids.get("upc"),
        external_url=_spotify_url(album),
    )


def map_play(item: dict[str, Any]) -> SpotifyPlay | None:
    """``GET /me/player/recently-played`` item (``{track, played_at, context}``) →
    :class:`SpotifyPlay`."""
    track = item.get("track")
    if not isinstance(track, dict) or not track.get("id"):
        return None
    album = track.get("album") or {}
    context = item.get("context")
    return SpotifyPlay(
        track_id=track["id"],
        played_at=item["played_at"],
        track_name=track["name"],
        track_uri=track["uri"],
        duration_ms=track.get("duration_ms"),
        artists=_artists(track.get("artists")),
        album_id=album.get("id"),
        album_name=album.get("name"),
        context_type=context.get("type") if isinstance(context, dict) else None,
        context_uri=context.get("uri") if isinstance(context, dict) else None,
    )
