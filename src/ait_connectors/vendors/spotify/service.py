"""``ConnectorSpotifyService``: Spotify's entity types.

Saved tracks and albums, top artists and playlists are read whole each run (no change feed):
unchanged pages cost no writes, and what vanished is swept. Playlist items are a walk over the
playlists; one the app may not read (403) or that vanished (404) is skipped with a warning. The
listening history (only ~50 plays) is read ``after`` the last play seen and never swept.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from ...vendor import ChildWalk, ConnectorService, EntityType, Incremental
from .data_source import SpotifyDataSource
from .entities import (
    SpotifyEntity,
    SpotifyPlay,
    SpotifyPlaylist,
    SpotifyPlaylistItem,
    SpotifySavedAlbum,
    SpotifySavedTrack,
    SpotifyTopArtist,
)

__all__ = ["PLAYLIST_ITEMS", "ConnectorSpotifyService"]

#: Each playlist's item pages, 4 playlists at once. Development Mode apps may read only the
#: user's own and collaborative playlists (others answer 403); some vanish meanwhile (404).
PLAYLIST_ITEMS = ChildWalk(
    "list_playlists", "playlist_items_page", concurrency=4, skip_statuses=frozenset({403, 404})
)


def _spotify(model: type[SpotifyEntity], batch_size: int = 50, **options: Any) -> EntityType:
    """An entity type whose model maps the API's items, skipping those with no identity."""
    return EntityType(model, mapper=model.from_api, batch_size=batch_size, **options)


class ConnectorSpotifyService(ConnectorService[SpotifyDataSource]):
    """Spotify saved tracks and albums, top artists, playlists and their items and the listening
    history of one connection; a subclass may set ``top_artists_time_range``."""

    # Spotify limits per app over a rolling 30 s window (shared by all users, undisclosed
    # budget); pace requests and let 429 + Retry-After do the rest.
    requests_per_second: ClassVar[float | None] = 5.0
    burst: ClassVar[int] = 5
    top_artists_time_range: ClassVar[str] = "medium_term"

    tracks = _spotify(SpotifySavedTrack, page="saved_tracks_page")
    top_artists = _spotify(SpotifyTopArtist, page="top_artists_page")
    playlists = _spotify(SpotifyPlaylist, page="playlists_page")
    playlist_items = _spotify(SpotifyPlaylistItem, walk=PLAYLIST_ITEMS, batch_size=500)
    albums = _spotify(SpotifySavedAlbum, page="saved_albums_page")
    recently_played = _spotify(
        SpotifyPlay, page="recently_played_page", incremental=Incremental(), detect_deletions=False
    )

    def create_data_source(self, client: httpx.AsyncClient) -> SpotifyDataSource:
        """A :class:`SpotifyDataSource` on the connection's authorised client."""
        return SpotifyDataSource(
            client, self.connector.provider, top_artists_time_range=self.top_artists_time_range
        )
