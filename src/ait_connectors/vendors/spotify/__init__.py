"""Spotify: saved tracks and albums, top artists, playlists and their items, listening history
(catalogue entry ``spotify``; OAuth is the catalogue's standard flow)."""

from __future__ import annotations

from ...vendor import VendorRegistration
from .service import ConnectorSpotifyService

__all__ = ["VENDOR", "ConnectorSpotifyService"]

VENDOR = VendorRegistration("spotify", ConnectorSpotifyService)
