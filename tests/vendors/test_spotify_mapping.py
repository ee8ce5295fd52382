"""Spotify mappers: every entity built from the real-shaped fixtures, field by field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vendor_testkit import load

from ait_connectors.entities import prepare_row
from ait_connectors.vendors.spotify.entities import (
    PLAYLIST_KEY,
    POSITION_KEY,
    RANK_KEY,
    TIME_RANGE_KEY,
    SpotifyPlay,
    SpotifyPlaylist,
    SpotifyPlaylistItem,
    SpotifySavedAlbum,
    SpotifySavedTrack,
    SpotifyTopArtist,
)

# The models are their own mappers.
map_saved_track = SpotifySavedTrack.from_api
map_top_artist = SpotifyTopArtist.from_api
map_playlist = SpotifyPlaylist.from_api
map_playlist_item = SpotifyPlaylistItem.from_api
map_saved_album = SpotifySavedAlbum.from_api
map_play = SpotifyPlay.from_api


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_saved_track_mapping() -> None:
    items = load("spotify", "me_tracks")["items"]
    lucky = next(i for i in items if i["track"]["id"] == "69kOkLUCkxIZYexIgSG8rq")
    track = map_saved_track(lucky)
    assert track is not None
    assert track.external_id == "69kOkLUCkxIZYexIgSG8rq"
    assert track.name == "Get Lucky (feat. Pharrell Williams and Nile Rodgers)"
    assert track.uri == "spotify:track:69kOkLUCkxIZYexIgSG8rq"
    assert track.added_at == at("2026-05-11T12:00:59Z")
    assert (track.duration_ms, track.track_number, track.disc_number) == (369626, 8, 1)
    assert [a.name for a in track.artists] == ["Daft Punk", "Pharrell Williams", "Nile Rodgers"]
    assert track.artists[0].id == "4tZwfgrHOc3mvqYlEYSvVi"
    assert (track.album_id, track.album_name) == (
        "4m2880jivSbbyEGAKfITCa",
        "Random Access Memories",
    )
    assert (track.album_type, track.album_release_date) == ("album", "2013-05-20")
    assert track.album_release_date_precision == "day"
    assert [i.height for i in track.album_images] == [640, 300, 64]
    assert track.isrc == "USQX91300108"
    assert track.external_url == "https://open.spotify.com/track/69kOkLUCkxIZYexIgSG8rq"
    assert track.popularity == 83
    assert track.explicit is False
    assert track.is_local is False


def test_saved_track_without_deprecated_fields_and_removed_tracks() -> None:
    items = load("spotify", "me_tracks")["items"]
    formation = next(i for i in items if i["track"]["name"] == "Formation")
    assert "popularity" not in formation["track"]  # Development Mode responses since 2026
    track = map_saved_track(formation)
    assert track is not None
    assert track.popularity is None
    assert track.explicit is True
    # A track taken down from the catalogue comes back as null: skipped, not an error.
    assert map_saved_track({"added_at": "2020-01-01T00:00:00Z", "track": None}) is None


def test_saved_track_popularity_is_volatile() -> None:
    item = load("spotify", "me_tracks")["items"][0]
    before = prepare_row(map_saved_track(item))  # type: ignore[arg-type]
    changed: dict[str, Any] = {**item, "track": {**item["track"], "popularity": 12}}
    assert prepare_row(map_saved_track(changed)).checksum == before.checksum  # type: ignore[arg-type]


def test_top_artist_mapping() -> None:
    items = load("spotify", "me_top_artists")["items"]
    daft = map_top_artist({**items[0], RANK_KEY: 1, TIME_RANGE_KEY: "medium_term"})
    assert daft.external_id == "4tZwfgrHOc3mvqYlEYSvVi"
    assert (daft.name, daft.rank, daft.time_range) == ("Daft Punk", 1, "medium_term")
    assert daft.genres == ["french house", "electro"]
    assert daft.followers_total == 10523456
    assert daft.popularity == 80
    assert [i.width for i in daft.images] == [640, 320, 160]
    assert daft.external_url == "https://open.spotify.com/artist/4tZwfgrHOc3mvqYlEYSvVi"
    beyonce = map_top_artist({**items[3], RANK_KEY: 4, TIME_RANGE_KEY: "medium_term"})
    # Development Mode: no followers, genres or popularity any more.
    assert (beyonce.genres, beyonce.followers_total, beyonce.popularity) == (None, None, None)


def test_playlist_mapping_reads_items_and_tracks() -> None:
    mine, collab, followed, empty = load("spotify", "me_playlists")["items"]
    playlist = map_playlist(mine)
    assert playlist.external_id == "3cEYpjA9oz9GiPac4AsH4n"
    assert (playlist.name, playlist.description) == ("Road trip", "Songs for the A7")
    assert (playlist.owner_id, playlist.owner_display_name) == ("ada.listener", "Ada Listener")
    assert playlist.items_total == 6  # from ``items`` (2026)
    assert playlist.snapshot_id == "AAAAB8q2v1y6sSxTQ1eTm9wE3dR2"
    assert playlist.public is True
    assert playlist.collaborative is False
    older = map_playlist(collab)
    assert "items" not in collab
    assert older.items_total == 3  # from ``tracks`` (before 2026)
    assert older.collaborative is True
    assert older.public is False
    assert map_playlist(followed).owner_id == "spotify"
    blank = map_playlist(empty)
    assert blank.description is None
    assert blank.images == []
    assert blank.items_total == 0


def test_playlist_item_mapping() -> None:
    items = load("spotify", "playlist_items_3cEYpjA9oz9GiPac4AsH4n")["items"]

    def mapped(index: int) -> Any:
        return map_playlist_item(
            {**items[index], PLAYLIST_KEY: "3cEYpjA9oz9GiPac4AsH4n", POSITION_KEY: index}
        )

    first = mapped(0)
    assert first.external_id == "3cEYpjA9oz9GiPac4AsH4n:0"
    assert (first.item_type, first.item_id) == ("track", "69kOkLUCkxIZYexIgSG8rq")
    assert first.added_by_id == "ada.listener"
    assert first.album_name == "Random Access Memories"
    assert first.artists[0].name == "Daft Punk"
    # The same song twice in a playlist: two entries, told apart by position.
    assert mapped(3).item_id == first.item_id
    assert mapped(3).external_id != first.external_id
    local = mapped(4)
    assert local.is_local is True
    assert local.item_id is None
    assert local.item_uri == "spotify:local:My+Garage+Band:Demo+tapes:Garage+Song:181"
    assert local.artists[0].name == "My Garage Band"
    assert local.artists[0].id is None
    episode = mapped(5)
    assert (episode.item_type, episode.show_name) == ("episode", "Pop Talk")
    assert episode.album_id is None
    assert episode.duration_ms == 3121000


def test_playlist_item_mapping_from_the_old_track_key() -> None:
    items = load("spotify", "playlist_items_1Xq3ZfJkRqX8B7s6yG2mTb")["items"]
    assert "item" not in items[0]
    entry = map_playlist_item({**items[0], PLAYLIST_KEY: "1Xq3ZfJkRqX8B7s6yG2mTb", POSITION_KEY: 0})
    assert entry.name == "Formation"
    assert entry.added_by_id == "grace.h"


def test_saved_album_mapping() -> None:
    items = load("spotify", "me_albums")["items"]
    ram = map_saved_album(items[0])
    assert ram.external_id == "4m2880jivSbbyEGAKfITCa"
    assert (ram.name, ram.album_type, ram.total_tracks) == ("Random Access Memories", "album", 13)
    assert ram.added_at == at("2026-09-20T10:00:00Z")
    assert (ram.release_date, ram.release_date_precision) == ("2013-05-20", "day")
    assert ram.label == "Columbia"
    assert ram.upc == "886443919266"
    assert [a.name for a in ram.artists] == ["Daft Punk"]
    assert ram.popularity == 82
    lemonade = map_saved_album(items[1])
    assert lemonade.label is None
    assert lemonade.genres is None
    single = map_saved_album(items[2])
    assert single.album_type == "single"


def test_play_mapping() -> None:
    items = load("spotify", "me_player_recently_played")["items"]
    play = map_play(items[0])
    assert play is not None
    assert play.track_id == "6AI3ezQ4o3HUoP6Dhudph3"
    assert play.played_at == at("2026-10-02T07:58:41.121Z")
    assert play.external_id == f"6AI3ezQ4o3HUoP6Dhudph3:{play.played_at}"
    assert (play.context_type, play.context_uri) == (
        "playlist",
        "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M",
    )
    assert play.album_name == "Not Like Us"
    no_context = map_play(items[2])
    assert no_context is not None
    assert no_context.context_type is None
    # The same track played twice is two plays.
    again = map_play({**items[0], "played_at": "2026-10-02T09:00:00.000Z"})
    assert again is not None
    assert again.external_id != play.external_id
