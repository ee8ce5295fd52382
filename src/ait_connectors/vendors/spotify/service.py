"""``ConnectorSpotifyService``: Spotify's entity registrations.

=================== ================================= ======================== ==========
entity type         source                            incremental              deletions
=================== ================================= ======================== ==========
``tracks``          ``GET /me/tracks``                full scan each run       swept
``top_artists``     ``GET /me/top/artists``           full scan (all pages)    swept
``playlists``       ``GET /me/playlists``             full scan each run       swept
``playlist_items``  ``GET /playlists/{id}/items``     full scan each run       swept
``albums``          ``GET /me/albums``                full scan each run       swept
``recently_played`` ``GET /me/player/recently-played`` ``after`` (Unix ms)     never
=================== ================================= ======================== ==========

Saved lists have no change feed, so they are read whole; pages whose body did not change are
recognised by the engine and cost no writes. The listening history only reaches back ~50 plays,
so it is read forward from the last play seen and never swept.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar, cast

import httpx

from ...entities import Entity
from ...pagination import Page
from ...service import Connection, ConnectorService, Incremental
from ...storage.db import Database
from .data_source import SpotifyDataSource
from .entities import (
    SpotifyPlay,
    SpotifyPlaylist,
    SpotifyPlaylistItem,
    SpotifySavedAlbum,
    SpotifySavedTrack,
    SpotifyTopArtist,
    map_play,
    map_playlist,
    map_playlist_item,
    map_saved_album,
    map_saved_track,
    map_top_artist,
)

__all__ = ["ConnectorSpotifyService"]

E = TypeVar("E", bound=Entity)


async def _tracks(ds: SpotifyDataSource, cursor: Any, watermark: Any) -> Page[Any]:
    return await ds.saved_tracks_page(cursor)


async def _top_artists(ds: SpotifyDataSource, cursor: Any, watermark: Any) -> Page[Any]:
    return await ds.top_artists_page(cursor)


async def _playlists(ds: SpotifyDataSource, cursor: Any, watermark: Any) -> Page[Any]:
    return await ds.playlists_page(cursor)


async def _playlist_items(ds: SpotifyDataSource, cursor: Any, watermark: Any) -> Page[Any]:
    return await ds.playlist_items_page(cursor)


async def _albums(ds: SpotifyDataSource, cursor: Any, watermark: Any) -> Page[Any]:
    return await ds.saved_albums_page(cursor)


async def _recently_played(ds: SpotifyDataSource, cursor: Any, watermark: Any) -> Page[Any]:
    return await ds.recently_played_page(cursor, watermark)


class ConnectorSpotifyService(ConnectorService[SpotifyDataSource]):
    """Spotify saved tracks, top artists, playlists and their items, saved albums and the
    listening history of one connection.

    Class attributes tune it: ``top_artists_time_range`` (``short_term``, ``medium_term``,
    ``long_term``) and ``playlist_concurrency`` (playlist item pages fetched at once).
    """

    # Spotify limits per app over a rolling 30 s window (shared by all users, undisclosed
    # budget); pace requests and let 429 + Retry-After do the rest.
    requests_per_second: ClassVar[float | None] = 5.0
    burst: ClassVar[int] = 5
    top_artists_time_range: ClassVar[str] = "medium_term"
    playlist_concurrency: ClassVar[int] = 4

    def __init__(self, connector: Connection, database: Database) -> None:
        super().__init__(connector, database)
        self.register_paginated_entity_config(
            "tracks", paginated_fetcher=_tracks, mapper=map_saved_track, batch_size=50
        )
        self.register_paginated_entity_config(
            "top_artists", paginated_fetcher=_top_artists, mapper=map_top_artist, batch_size=50
        )
        self.register_paginated_entity_config(
            "playlists", paginated_fetcher=_playlists, mapper=map_playlist, batch_size=50
        )
        self.register_paginated_entity_config(
            "playlist_items",
            paginated_fetcher=_playlist_items,
            mapper=map_playlist_item,
            batch_size=500,
        )
        self.register_paginated_entity_config(
            "albums", paginated_fetcher=_albums, mapper=map_saved_album, batch_size=50
        )
        self.register_paginated_entity_config(
            "recently_played",
            paginated_fetcher=_recently_played,
            mapper=map_play,
            batch_size=50,
            incremental=Incremental(),
            detect_deletions=False,
        )

    def create_data_source(self, client: httpx.AsyncClient) -> SpotifyDataSource:
        """A :class:`SpotifyDataSource` on the connection's authorised client."""
        return SpotifyDataSource(
            client,
            self.connector.provider,
            top_artists_time_range=self.top_artists_time_range,
            playlist_concurrency=self.playlist_concurrency,
        )

    async def _fetch(self, entity_type: str, model: type[E], limit: int | None) -> list[E]:
        return [cast(E, e) for e in await self.fetch_entities(entity_type, limit=limit)]

    async def fetch_tracks(self, *, limit: int | None = None) -> list[SpotifySavedTrack]:
        """The user's saved tracks, straight from Spotify (nothing stored)."""
        return await self._fetch("tracks", SpotifySavedTrack, limit)

    async def fetch_top_artists(self, *, limit: int | None = None) -> list[SpotifyTopArtist]:
        """The user's top artists, every page, in rank order (nothing stored)."""
        return await self._fetch("top_artists", SpotifyTopArtist, limit)

    async def fetch_playlists(self, *, limit: int | None = None) -> list[SpotifyPlaylist]:
        """The user's playlists (owned and followed), from Spotify (nothing stored)."""
        return await self._fetch("playlists", SpotifyPlaylist, limit)

    async def fetch_playlist_items(self, *, limit: int | None = None) -> list[SpotifyPlaylistItem]:
        """The items of every readable playlist, from Spotify (nothing stored)."""
        return await self._fetch("playlist_items", SpotifyPlaylistItem, limit)

    async def fetch_albums(self, *, limit: int | None = None) -> list[SpotifySavedAlbum]:
        """The user's saved albums, from Spotify (nothing stored)."""
        return await self._fetch("albums", SpotifySavedAlbum, limit)

    async def fetch_recently_played(self, *, limit: int | None = None) -> list[SpotifyPlay]:
        """The recent listening history (about the last 50 plays), newest first."""
        return await self._fetch("recently_played", SpotifyPlay, limit)
