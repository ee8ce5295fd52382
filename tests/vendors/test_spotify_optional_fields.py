"""Spotify's optional fields: an item missing any of them, or carrying ``null``, still maps; an
item with no identity is skipped; neither fails the entity run.

Spotify's OpenAPI description (``https://developer.spotify.com/reference/web-api/open-api-schema.yaml``)
declares no required property on ``SavedTrackObject``, ``TrackObject``, ``ArtistObject``,
``SimplifiedArtistObject``, ``SimplifiedPlaylistObject``, ``PlaylistTrackObject``,
``SavedAlbumObject`` and ``PlayHistoryObject``; ``PlaylistTrackObject.added_at`` / ``added_by``
are null for very old playlists, ``item``/``track`` is null for unavailable entries, and
``PlaylistOwnerObject.display_name``, ``ImageObject.height``/``width`` are nullable.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from vendor_testkit import Setup, SpotifyMock, load, rows, run

from ait_connectors.vendors.spotify.entities import (
    PLAYLIST_KEY,
    POSITION_KEY,
    RANK_KEY,
    TIME_RANGE_KEY,
    SpotifyEntity,
    SpotifyPlay,
    SpotifyPlaylist,
    SpotifyPlaylistItem,
    SpotifySavedAlbum,
    SpotifySavedTrack,
    SpotifyTopArtist,
)

Path = tuple[str, ...]


def _items(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = load("spotify", name)["items"]
    return items


def _cases() -> list[tuple[type[SpotifyEntity], dict[str, Any], set[Path]]]:
    """(model, a real-shaped item, the paths that make its identity) per entity type."""
    artist = {**_items("me_top_artists")[0], RANK_KEY: 1, TIME_RANGE_KEY: "medium_term"}
    entry = {
        **_items("playlist_items_3cEYpjA9oz9GiPac4AsH4n")[0],
        PLAYLIST_KEY: "3cEYpjA9oz9GiPac4AsH4n",
        POSITION_KEY: 0,
    }
    return [
        (SpotifySavedTrack, _items("me_tracks")[0], {("track", "id")}),
        (SpotifyTopArtist, artist, {("id",), (RANK_KEY,), (TIME_RANGE_KEY,)}),
        (SpotifyPlaylist, _items("me_playlists")[0], {("id",)}),
        (SpotifyPlaylistItem, entry, {(PLAYLIST_KEY,), (POSITION_KEY,)}),
        (SpotifySavedAlbum, _items("me_albums")[0], {("album", "id")}),
        (SpotifyPlay, _items("me_player_recently_played")[0], {("track", "id"), ("played_at",)}),
    ]


CASES = _cases()
IDS = [model.entity_type for model, _, _ in CASES]


def _on_identity(path: Path, keep: set[Path]) -> bool:
    return any(p[: len(path)] == path for p in keep)


_ABSENT = object()


def _outside_identity(item: Any, keep: set[Path], fill: Any, at: Path = ()) -> Any:
    """``item`` with every field outside the identity paths set to ``fill`` (or left out)."""
    out = {}
    for key, value in item.items():
        path = (*at, key)
        if path in keep:
            out[key] = value
        elif _on_identity(path, keep) and isinstance(value, dict):
            out[key] = _outside_identity(value, keep, fill, path)
        elif fill is not _ABSENT:
            out[key] = fill
    return out


def without_optional(item: Any, keep: set[Path]) -> Any:
    """``item`` with every field outside the identity paths absent."""
    return _outside_identity(item, keep, _ABSENT)


def top_level_nulls(item: Any, keep: set[Path]) -> Any:
    """``item`` with every field outside the identity paths ``null``."""
    return _outside_identity(item, keep, None)


def leaf_nulls(item: Any, keep: set[Path], at: Path = ()) -> Any:
    """``item`` with its shape kept but every value outside the identity paths ``null``, down
    to the fields of nested objects and of list entries (artists, images), plus a ``null``
    entry in each list of objects."""
    if isinstance(item, dict):
        return {
            key: value if (*at, key) in keep else leaf_nulls(value, keep, (*at, key))
            for key, value in item.items()
        }
    if isinstance(item, list) and any(isinstance(v, dict) for v in item):
        return [leaf_nulls(v, keep, at) for v in item] + [None]
    return None


def defaults(entity: SpotifyEntity) -> dict[str, Any]:
    """The entity's fields that are not part of what the item says about its identity."""
    own = {"rank", "time_range"}
    return {
        name: getattr(entity, name)
        for name in type(entity).model_fields
        if name not in type(entity).natural_key and name not in own
    }


@pytest.mark.parametrize(("model", "item", "keep"), CASES, ids=IDS)
@pytest.mark.parametrize("strip", [without_optional, top_level_nulls, leaf_nulls])
def test_every_optional_field_absent_or_null_still_maps(
    model: type[SpotifyEntity], item: dict[str, Any], keep: set[Path], strip: Any
) -> None:
    full = model.from_api(item)
    assert full is not None
    odd = strip(copy.deepcopy(item), keep)
    entity = model.from_api(odd)
    assert entity is not None
    assert entity.external_id == full.external_id
    # Nothing but the identity was given: every other field is its default (None, False, []).
    expected = {name: model.model_fields[name].get_default() for name in defaults(entity)}
    assert defaults(entity) == expected


# (Playlist items are keyed by playlist and position, which the data source adds.)
@pytest.mark.parametrize(
    ("model", "item", "keep"),
    [case for case in CASES if case[0] is not SpotifyPlaylistItem],
    ids=[i for i in IDS if i != "playlist_items"],
)
def test_an_item_without_identity_is_skipped(
    model: type[SpotifyEntity], item: dict[str, Any], keep: set[Path]
) -> None:
    for path in keep - {(RANK_KEY,), (TIME_RANGE_KEY,)}:
        gone = copy.deepcopy(item)
        parent = gone
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = None
        assert model.from_api(gone) is None
        del parent[path[-1]]
        assert model.from_api(gone) is None
    assert model.from_api(None) is None
    assert model.from_api("not an object") is None


def test_a_null_track_or_album_is_skipped() -> None:
    assert SpotifySavedTrack.from_api({"added_at": "2026-01-01T00:00:00Z", "track": None}) is None
    assert SpotifySavedAlbum.from_api({"added_at": "2026-01-01T00:00:00Z", "album": None}) is None
    assert SpotifyPlay.from_api({"played_at": "2026-01-01T00:00:00Z", "track": None}) is None


def test_a_playlist_entry_whose_track_is_null_is_kept() -> None:
    # An entry whose track is no longer available: its position still belongs to the playlist.
    entry = SpotifyPlaylistItem.from_api(
        {"added_at": None, "added_by": None, "is_local": None, "item": None, "track": None}
        | {PLAYLIST_KEY: "p", POSITION_KEY: 3}
    )
    assert entry is not None
    assert entry.external_id == "p:3"
    assert (entry.item_id, entry.name, entry.is_local, entry.artists) == (None, None, False, [])


async def test_odd_items_do_not_fail_the_run(spotify: Setup, spotify_mock: SpotifyMock) -> None:
    spotify_mock.tracks[1:1] = [
        {"added_at": None, "track": None},  # taken down from the catalogue: skipped
        {"track": {"id": "0bare0track0id0only0", "name": None, "album": None}},
    ]
    spotify_mock.albums.append({"album": {"id": "0bare0album0id0only0"}})
    spotify_mock.plays.append({"played_at": "2026-10-01T06:00:00Z", "track": {"id": "0bare"}})
    spotify_mock.plays.append({"played_at": "2026-10-01T05:00:00Z", "track": None})
    spotify_mock.playlists.append({"id": None, "name": "no id"})  # nothing to key it by
    mine = spotify_mock.playlist_items["3cEYpjA9oz9GiPac4AsH4n"]
    mine.append({"added_at": None, "added_by": None, "is_local": False, "item": None})
    for playlist in spotify_mock.playlists:
        if playlist["id"] == "3cEYpjA9oz9GiPac4AsH4n":
            playlist["items"]["total"] = len(mine)
    results = await run(spotify)
    assert {t: r.status for t, r in results.items()} == dict.fromkeys(results, "succeeded")
    added = {t: r.added for t, r in results.items()}
    assert added == {
        "tracks": 8,
        "top_artists": 5,
        "playlists": 4,
        "playlist_items": 10,
        "albums": 4,
        "recently_played": 5,
    }
    bare = await rows(
        spotify.database,
        "SELECT name, added_at FROM spotify_tracks WHERE id = '0bare0track0id0only0'",
    )
    assert [tuple(r) for r in bare] == [(None, None)]
