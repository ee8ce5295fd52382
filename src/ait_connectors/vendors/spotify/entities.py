"""Spotify entity models, validated straight from the Web API's JSON.

Each field says where Spotify puts it (``at("track.album.id")``): a model is its own mapper.
Spotify's OpenAPI description marks nearly every field optional (and Development Mode dropped
some in 2026): every field but the identity is optional, a ``null`` counts as absent, and
:meth:`SpotifyEntity.from_api` skips an item with no identity (a track taken down comes back as
``null``). Both spellings of 2026 renames are read: ``items``/``tracks``, ``item``/``track``.
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
    model_validator,
)

from ...vendor import Entity

__all__ = [
    "PLAYLIST_KEY",
    "POSITION_KEY",
    "RANK_KEY",
    "TIME_RANGE_KEY",
    "SpotifyEntity",
    "SpotifyPlay",
    "SpotifyPlaylist",
    "SpotifyPlaylistItem",
    "SpotifySavedAlbum",
    "SpotifySavedTrack",
    "SpotifyTopArtist",
]

#: Keys the data source adds to raw items: what the item alone does not say.
PLAYLIST_KEY = "_playlist_id"
POSITION_KEY = "_position"
RANK_KEY = "_rank"
TIME_RANGE_KEY = "_time_range"


def at(*paths: str, default: Any = None) -> Any:
    """A field read at a dotted path of the item (the first path present wins); with
    ``populate_by_name`` a stored payload is still read by the field's own name."""
    aliases = [AliasPath(*path.split(".")) for path in paths]
    return Field(default, validation_alias=AliasChoices(*aliases))


def _objects_with(key: str) -> BeforeValidator:
    """Keep the list entries that are objects with a ``key`` (nameless artists, images without
    a URL and ``null`` entries carry nothing worth storing)."""
    return BeforeValidator(
        lambda items: [
            x
            for x in items or ()
            if isinstance(x, BaseModel) or (isinstance(x, dict) and x.get(key) not in (None, ""))
        ]
    )


class SpotifyArtistRef(BaseModel):
    """An artist as tracks and albums embed it (local files' artists have no id)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str | None = None
    name: str


class SpotifyImage(BaseModel):
    """An image (cover art, artist picture); ``height``/``width`` are null for some."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    url: str
    height: int | None = None
    width: int | None = None


Artists = Annotated[list[SpotifyArtistRef], _objects_with("name")]
Images = Annotated[list[SpotifyImage], _objects_with("url")]
BlankIsNone = Annotated[str | None, BeforeValidator(lambda value: value or None)]


class SpotifyEntity(Entity):
    """Base of the Spotify models: ``null`` means absent, and :meth:`from_api` is the mapper."""

    @field_validator("*", mode="before")
    @classmethod
    def _null_is_absent(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields[str(info.field_name)]
        if value is None and not field.is_required():
            return field.get_default(call_default_factory=True)
        return value

    @classmethod
    def from_api(cls, item: Any) -> Self | None:
        """The entity of one API item; ``None`` (skipped) when the item has no identity."""
        if not isinstance(item, dict):
            return None
        entity = cls.model_validate(item)
        return None if any(getattr(entity, key) is None for key in cls.natural_key) else entity


class SpotifySavedTrack(SpotifyEntity):
    """A track in the user's library ("Liked Songs"): ``GET /me/tracks`` ``{added_at, track}``."""

    entity_type: ClassVar[str] = "tracks"
    link_field: ClassVar[str | None] = "external_url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"popularity"})

    id: str | None = at("track.id")
    name: str | None = at("track.name")
    uri: str | None = at("track.uri")
    added_at: datetime | None = None
    duration_ms: int | None = at("track.duration_ms")
    explicit: bool = at("track.explicit", default=False)
    disc_number: int | None = at("track.disc_number")
    track_number: int | None = at("track.track_number")
    is_local: bool = at("track.is_local", default=False)
    popularity: int | None = at("track.popularity")
    artists: Artists = at("track.artists", default=[])
    album_id: str | None = at("track.album.id")
    album_name: str | None = at("track.album.name")
    album_type: str | None = at("track.album.album_type")
    album_release_date: str | None = at("track.album.release_date")
    album_release_date_precision: str | None = at("track.album.release_date_precision")
    album_images: Images = at("track.album.images", default=[])
    isrc: str | None = at("track.external_ids.isrc")
    external_url: str | None = at("track.external_urls.spotify")


class SpotifyTopArtist(SpotifyEntity):
    """One of the user's top artists; ``rank`` is its position (1 = most listened)."""

    entity_type: ClassVar[str] = "top_artists"
    link_field: ClassVar[str | None] = "external_url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"popularity", "followers_total"})

    id: str | None = None
    name: str | None = None
    uri: str | None = None
    rank: int = at(RANK_KEY, default=...)
    time_range: str = at(TIME_RANGE_KEY, default=...)
    genres: list[str] | None = None
    popularity: int | None = None
    followers_total: int | None = at("followers.total")
    images: Images = []
    external_url: str | None = at("external_urls.spotify")


class SpotifyPlaylist(SpotifyEntity):
    """A playlist the user owns or follows. ``snapshot_id`` changes with every edit."""

    entity_type: ClassVar[str] = "playlists"
    link_field: ClassVar[str | None] = "external_url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: str | None = None
    name: str | None = None
    description: BlankIsNone = None
    public: bool | None = None
    collaborative: bool = False
    owner_id: str | None = at("owner.id")
    owner_display_name: str | None = at("owner.display_name")
    snapshot_id: str | None = None
    items_total: int | None = at("items.total", "tracks.total")
    images: Images = []
    uri: str | None = None
    external_url: str | None = at("external_urls.spotify")


class SpotifyPlaylistItem(SpotifyEntity):
    """One entry of a playlist, keyed by playlist and position (a track may appear twice, and
    local files have no id). ``item_type`` is ``track`` or ``episode``."""

    entity_type: ClassVar[str] = "playlist_items"
    natural_key: ClassVar[tuple[str, ...]] = ("playlist_id", "position")

    playlist_id: str = at(PLAYLIST_KEY, default=...)
    position: int = at(POSITION_KEY, default=...)
    added_at: datetime | None = None
    added_by_id: str | None = at("added_by.id")
    is_local: bool = False
    item_type: str | None = at("item.type")
    item_id: str | None = at("item.id")
    item_uri: str | None = at("item.uri")
    name: str | None = at("item.name")
    duration_ms: int | None = at("item.duration_ms")
    explicit: bool | None = at("item.explicit")
    artists: Artists = at("item.artists", default=[])
    album_id: str | None = at("item.album.id")
    album_name: str | None = at("item.album.name")
    show_name: str | None = at("item.show.name")

    @model_validator(mode="before")
    @classmethod
    def _content(cls, data: Any) -> Any:
        """An API item (not a stored payload): its content is ``item``, else ``track`` (the
        pre-2026 name); a local file says so on the entry or on its content."""
        if not isinstance(data, dict) or PLAYLIST_KEY not in data:
            return data
        content = data.get("item") if data.get("item") is not None else data.get("track")
        content = content if isinstance(content, dict) else {}
        is_local = bool(data.get("is_local") or content.get("is_local"))
        return {**data, "item": content, "is_local": is_local}


class SpotifySavedAlbum(SpotifyEntity):
    """An album in the user's library: ``GET /me/albums`` ``{added_at, album}``."""

    entity_type: ClassVar[str] = "albums"
    link_field: ClassVar[str | None] = "external_url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"popularity"})

    id: str | None = at("album.id")
    name: str | None = at("album.name")
    uri: str | None = at("album.uri")
    added_at: datetime | None = None
    album_type: str | None = at("album.album_type")
    total_tracks: int | None = at("album.total_tracks")
    release_date: str | None = at("album.release_date")
    release_date_precision: str | None = at("album.release_date_precision")
    label: BlankIsNone = at("album.label")
    genres: list[str] | None = at("album.genres")
    popularity: int | None = at("album.popularity")
    artists: Artists = at("album.artists", default=[])
    images: Images = at("album.images", default=[])
    upc: str | None = at("album.external_ids.upc")
    external_url: str | None = at("album.external_urls.spotify")


class SpotifyPlay(SpotifyEntity):
    """One play from the listening history, keyed by track and the moment it was played."""

    entity_type: ClassVar[str] = "recently_played"
    natural_key: ClassVar[tuple[str, ...]] = ("track_id", "played_at")

    track_id: str | None = at("track.id")
    played_at: datetime | None = None
    track_name: str | None = at("track.name")
    track_uri: str | None = at("track.uri")
    duration_ms: int | None = at("track.duration_ms")
    artists: Artists = at("track.artists", default=[])
    album_id: str | None = at("track.album.id")
    album_name: str | None = at("track.album.name")
    context_type: str | None = at("context.type")
    context_uri: str | None = at("context.uri")
