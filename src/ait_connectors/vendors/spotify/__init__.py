"""Spotify: saved tracks and albums, top artists, playlists and their items, listening history
(catalogue entry ``spotify``).

Importing this package registers :class:`ConnectorSpotifyService` as the ``spotify`` vendor, so
``ConnectorServiceFactory`` builds it from a stored connector config. OAuth is the catalogue's
standard flow (HTTP Basic client auth, 1-hour access tokens refreshed by the core).
"""

from __future__ import annotations

from ..registry import register_vendor
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
from .service import ConnectorSpotifyService

__all__ = [
    "ConnectorSpotifyService",
    "SpotifyDataSource",
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

register_vendor("spotify", ConnectorSpotifyService)
