"""Spotify end to end against the local Spotify server: ``sync()`` on SQLite and PostgreSQL,
paging objects to ``next: null``, playlist items with bounded concurrency, the recently-played
``after`` watermark, 429 ``Retry-After``, 204 bodies, tokens, registration."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from vendor_testkit import Reply, Setup, SpotifyMock, load, make_setup, rows, run

from ait_connectors import ratelimit
from ait_connectors.registry import get_vendor
from ait_connectors.storage.db import Database
from ait_connectors.storage.sync_models import NullableJSON
from ait_connectors.sync import SyncOptions
from ait_connectors.vendors.spotify import ConnectorSpotifyService
from ait_connectors.vendors.spotify.data_source import SpotifyDataSource

MINE = "3cEYpjA9oz9GiPac4AsH4n"
COLLAB = "1Xq3ZfJkRqX8B7s6yG2mTb"
FOLLOWED = "37i9dQZF1DXcBWIGoYBM5M"
ALL = ["tracks", "top_artists", "playlists", "playlist_items", "albums", "recently_played"]


async def watermark(setup: Setup, entity_type: str) -> Any:
    query = text(
        "SELECT watermark FROM sync_state WHERE connector_config_id = :c AND entity_type = :t"
    ).columns(watermark=NullableJSON)
    async with setup.database.connect() as conn:
        return (await conn.execute(query, {"c": setup.config.id, "t": entity_type})).scalar()


def ms(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


# ---------------------------------------------------------------------------------------------
# Full sync


async def test_full_sync_of_every_entity(spotify: Setup, spotify_mock: SpotifyMock) -> None:
    results = await run(spotify)
    assert {t: r.status for t, r in results.items()} == dict.fromkeys(ALL, "succeeded")
    assert {t: r.added for t, r in results.items()} == {
        "tracks": 7,
        "top_artists": 5,
        "playlists": 4,
        "playlist_items": 9,  # 6 + 3; the followed playlist's items are not readable
        "albums": 3,
        "recently_played": 4,
    }
    tracks = await rows(
        spotify.database,
        "SELECT name, duration_ms, explicit FROM spotify_tracks ORDER BY added_at DESC",
    )
    assert tracks[0][0] == "Not Like Us"
    assert tracks[0][1] == 274192
    assert bool(tracks[0][2]) is True
    ranks = await rows(spotify.database, "SELECT name FROM spotify_top_artists ORDER BY rank")
    assert [r[0] for r in ranks] == [
        "Daft Punk",
        "Kendrick Lamar",
        "Robyn",
        "Beyoncé",
        "Radiohead",
    ]
    items = await rows(
        spotify.database,
        "SELECT playlist_id, position, item_type FROM spotify_playlist_items "
        "ORDER BY playlist_id, position",
    )
    assert [(r[0], r[1]) for r in items if r[0] == MINE] == [(MINE, i) for i in range(6)]
    assert [r[2] for r in items if r[0] == MINE][-1] == "episode"
    plays = await rows(spotify.database, "SELECT COUNT(*) FROM spotify_recently_played")
    assert plays[0][0] == 4
    api = [r for r in spotify_mock.log if r.path != "/api/token"]
    assert api
    assert all(r.path.startswith("/v1/") for r in api)


async def test_resync_of_unchanged_data_writes_nothing(spotify: Setup) -> None:
    await run(spotify)
    again = await run(spotify)
    assert all(r.ok for r in again.values())
    assert sum(r.rows_written for r in again.values()) == 0


async def test_paging_follows_next_until_null(spotify: Setup, spotify_mock: SpotifyMock) -> None:
    await run(spotify, "tracks", "top_artists")
    tracks = spotify_mock.requests("/v1/me/tracks")
    # Asked for 50; the server pages by 2; ``next`` followed until it is null (7 items).
    assert tracks[0].query == {"limit": "50"}
    assert [r.query.get("offset", "0") for r in tracks] == ["0", "2", "4", "6"]
    top = spotify_mock.requests("/v1/me/top/artists")
    assert top[0].query == {"limit": "50", "time_range": "medium_term"}
    assert [r.query.get("offset", "0") for r in top] == ["0", "2", "4"]
    assert all(r.query["time_range"] == "medium_term" for r in top)


async def test_a_removed_saved_track_is_marked_deleted(
    spotify: Setup, spotify_mock: SpotifyMock
) -> None:
    await run(spotify, "tracks")
    spotify_mock.tracks.pop(2)
    result = (await run(spotify, "tracks"))["tracks"]
    assert result.deleted == 1
    left = await rows(spotify.database, "SELECT COUNT(*) FROM spotify_tracks")
    assert left[0][0] == 6


# ---------------------------------------------------------------------------------------------
# Playlists and their items


async def test_playlist_items_are_fetched_with_bounded_concurrency(
    spotify: Setup, spotify_mock: SpotifyMock
) -> None:
    template = spotify_mock.playlist_items[MINE][0]
    spotify_mock.playlist_items[MINE] = [copy.deepcopy(template) for _ in range(40)]
    for playlist in spotify_mock.playlists:
        if playlist["id"] == MINE:
            playlist["items"]["total"] = 40
    spotify_mock.delays["/items"] = 0.02
    # The walk reads 4 playlists at once. Their first requests open new connections, which
    # arrive at the server some milliseconds apart: hold them until all four are in, so that
    # their overlap does not depend on the machine's speed.
    first: list[Any] = []

    def hold_the_first_four(entry: Any) -> bool:
        if "/items" not in entry.path or len(first) >= 4:
            return False
        first.append(entry)
        if len(first) == 4:
            spotify_mock.release.set()
        return True

    spotify_mock.hold = hold_the_first_four
    result = (await run(spotify, "playlist_items"))["playlist_items"]
    assert result.ok
    assert result.added == 43
    assert spotify_mock.max_inflight["/items"] == 4  # playlist_concurrency
    offsets = sorted(
        int(r.query["offset"]) for r in spotify_mock.requests(f"/playlists/{MINE}/items")
    )
    # The server pages by 2 although 50 were asked: the walk learned it and left no gap.
    assert set(range(0, 40, 2)) <= set(offsets)
    positions = await rows(
        spotify.database,
        "SELECT position FROM spotify_playlist_items WHERE playlist_id = :p ORDER BY position",
        p=MINE,
    )
    assert [r[0] for r in positions] == list(range(40))


async def test_a_playlist_that_changed_since_it_was_listed(
    spotify: Setup, spotify_mock: SpotifyMock
) -> None:
    # Listed with 6 items, it has 9 when its items are read; the collaborative one shrank.
    extra = copy.deepcopy(spotify_mock.playlist_items[MINE][:3])
    spotify_mock.playlist_items[MINE].extend(extra)
    spotify_mock.playlist_items[COLLAB] = spotify_mock.playlist_items[COLLAB][:1]
    result = (await run(spotify, "playlist_items"))["playlist_items"]
    assert result.ok
    assert result.added == 10


async def test_unreadable_playlists_are_skipped(spotify: Setup, spotify_mock: SpotifyMock) -> None:
    result = (await run(spotify, "playlist_items"))["playlist_items"]
    assert result.ok
    (followed,) = spotify_mock.requests(f"/playlists/{FOLLOWED}/items")
    assert followed.status == 403
    stored = await rows(
        spotify.database,
        "SELECT COUNT(*) FROM spotify_playlist_items WHERE playlist_id = :p",
        p=FOLLOWED,
    )
    assert stored[0][0] == 0


async def test_unreadable_playlists_are_warned_in_the_run_record(spotify: Setup) -> None:
    result = (await run(spotify, "playlist_items"))["playlist_items"]
    assert any(FOLLOWED in w and "403" in w for w in result.warnings)


async def test_a_stopped_items_walk_resumes_inside_the_playlist_it_stopped_in(
    spotify: Setup, spotify_mock: SpotifyMock
) -> None:
    spotify_mock.fault(
        f"/playlists/{MINE}/items",
        Reply(429, load("spotify", "error_429"), {"Retry-After": "3600"}),
        offset="4",
    )
    stopped = (await run(spotify, "playlist_items"))["playlist_items"]
    assert stopped.status == "rate_limited"
    assert stopped.added == 7  # 4 of the road trip's 6, the collaborative playlist's 3
    spotify_mock.clear_log()
    resumed = (await run(spotify, "playlist_items"))["playlist_items"]
    assert resumed.ok
    assert resumed.added == 2
    # Only the rest of the playlist it stopped in: no finished playlist or page read again.
    assert [(r.path, r.query.get("offset")) for r in spotify_mock.requests("/items")] == [
        (f"/v1/playlists/{MINE}/items", "4")
    ]
    stored = await rows(spotify.database, "SELECT COUNT(*) FROM spotify_playlist_items")
    assert stored[0][0] == 9


async def test_a_playlist_list_that_links_back_fails_clearly(
    spotify: Setup, spotify_mock: SpotifyMock
) -> None:
    page = load("spotify", "me_playlists")
    page["next"] = f"{spotify_mock.api_url}/me/playlists?offset=0&limit=2"  # back to page 1
    spotify_mock.fault("/v1/me/playlists", Reply(200, page), times=10, offset="2")
    result = (await run(spotify, "playlist_items"))["playlist_items"]
    assert result.status == "failed"
    assert result.error_code == "PAGINATION_CYCLE"
    assert len(spotify_mock.requests("/v1/me/playlists")) == 3


# ---------------------------------------------------------------------------------------------
# Recently played


async def test_recently_played_uses_the_after_watermark(
    spotify: Setup, spotify_mock: SpotifyMock
) -> None:
    first = (await run(spotify, "recently_played"))["recently_played"]
    assert first.added == 4
    newest = max(ms(p["played_at"]) for p in spotify_mock.plays)
    assert await watermark(spotify, "recently_played") == newest

    spotify_mock.clear_log()
    unchanged = (await run(spotify, "recently_played"))["recently_played"]
    assert unchanged.ok
    assert unchanged.rows_written == 0
    (asked,) = spotify_mock.requests("/recently-played")
    assert asked.query == {"limit": "50", "after": str(newest)}

    play = copy.deepcopy(spotify_mock.plays[2])
    play["played_at"] = "2026-10-02T08:30:00.250Z"
    spotify_mock.plays.insert(0, play)
    spotify_mock.clear_log()
    later = (await run(spotify, "recently_played"))["recently_played"]
    assert later.added == 1
    assert len(spotify_mock.requests("/recently-played")) == 1  # no ``before`` pages
    assert await watermark(spotify, "recently_played") == ms("2026-10-02T08:30:00.250Z")
    total = await rows(spotify.database, "SELECT COUNT(*) FROM spotify_recently_played")
    assert total[0][0] == 5


# ---------------------------------------------------------------------------------------------
# Rate limits, 204


async def test_a_short_retry_after_is_waited_out(spotify: Setup, spotify_mock: SpotifyMock) -> None:
    spotify_mock.fault(
        "/v1/me/tracks", Reply(429, load("spotify", "error_429"), {"Retry-After": "2"}), offset="2"
    )
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    result = (await run(spotify, "tracks", options=SyncOptions(sleep=fake_sleep)))["tracks"]
    assert result.ok
    assert result.added == 7
    assert len(waits) == 1
    assert 1.0 < waits[0] <= 2.0
    retried = [r for r in spotify_mock.requests("/v1/me/tracks") if r.query.get("offset") == "2"]
    assert [r.status for r in retried] == [429, 200]


async def test_a_long_retry_after_stops_and_resumes_later(
    spotify: Setup, spotify_mock: SpotifyMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    spotify_mock.fault(
        "/v1/me/tracks",
        Reply(429, load("spotify", "error_429"), {"Retry-After": "3600"}),
        offset="4",
    )
    now = datetime.now(UTC)
    monkeypatch.setattr(ratelimit, "utcnow", lambda: now)  # the rate-limit clock stands still
    stopped = (await run(spotify, "tracks"))["tracks"]
    assert stopped.status == "rate_limited"
    assert stopped.resume_at == now + timedelta(seconds=3600)
    assert stopped.added == 4
    spotify_mock.clear_log()
    resumed = (await run(spotify, "tracks"))["tracks"]
    assert resumed.ok
    assert resumed.added == 3
    assert spotify_mock.requests("/v1/me/tracks")[0].query["offset"] == "4"


async def test_204_with_an_empty_body_is_not_an_error(
    spotify: Setup, spotify_mock: SpotifyMock
) -> None:
    spotify_mock.fault("/v1/me/player/recently-played", Reply(204))
    result = (await run(spotify, "recently_played"))["recently_played"]
    assert result.ok
    assert result.added == 0
    service = await spotify.service()
    async with service.open_data_source() as data_source:
        assert await data_source.get_currently_playing() is None
        spotify_mock.playing = load("spotify", "me_player_currently_playing")
        playing = await data_source.get_currently_playing()
    assert playing is not None
    assert playing["item"]["name"] == "Not Like Us"


async def test_a_next_url_on_another_host_is_refused(
    spotify: Setup, spotify_mock: SpotifyMock
) -> None:
    page = load("spotify", "me_tracks")
    page["next"] = "https://evil.example/v1/me/tracks?offset=2&limit=2"
    spotify_mock.fault("/v1/me/tracks", Reply(200, page))
    result = (await run(spotify, "tracks"))["tracks"]
    assert result.status == "failed"
    assert result.error_code == "VENDOR_FOREIGN_NEXT_URL"


# ---------------------------------------------------------------------------------------------
# Tokens


async def test_a_401_refreshes_once_and_retries(spotify: Setup, spotify_mock: SpotifyMock) -> None:
    old = await spotify.tokens.get_oauth_data(spotify.config.id, spotify.user_id)
    assert old is not None
    spotify_mock.fault("/v1/me/albums", Reply(401, load("spotify", "error_401")))
    result = (await run(spotify, "albums"))["albums"]
    assert result.ok
    assert result.added == 3
    (refresh,) = spotify_mock.requests("/api/token", method="POST")
    assert refresh.form["grant_type"] == "refresh_token"
    assert refresh.headers["authorization"].startswith("Basic ")  # client_secret_basic
    albums = spotify_mock.requests("/v1/me/albums")
    assert [r.status for r in albums[:2]] == [401, 200]
    stored = await spotify.tokens.get_oauth_data(spotify.config.id, spotify.user_id)
    assert stored is not None
    assert stored.version == old.version + 1
    # Spotify's refresh response had no refresh_token: the old one is kept.
    assert stored.refresh_token is not None
    assert old.refresh_token is not None
    assert stored.refresh_token.get_secret_value() == old.refresh_token.get_secret_value()


async def test_invalid_grant_marks_the_connection_needs_reauth(
    spotify: Setup, spotify_mock: SpotifyMock
) -> None:
    await spotify.store_token("BQ-expired", "AQ-revoked-by-the-user", expires_in=-5)
    result = (await run(spotify, "tracks"))["tracks"]
    assert result.status == "failed"
    assert result.error_code == "AUTHORIZATION_REQUIRED"
    stored = await spotify.tokens.get_oauth_data(spotify.config.id, spotify.user_id)
    assert stored is not None
    assert stored.status == "needs_reauth"
    assert "invalid_grant" in (stored.status_reason or "")
    assert len(spotify_mock.requests("/api/token")) == 1
    assert not spotify_mock.requests("/v1/")


# ---------------------------------------------------------------------------------------------
# Registration, base URL, fetch_* methods


async def test_the_factory_builds_the_spotify_service(spotify: Setup) -> None:
    assert get_vendor("spotify").service_cls is ConnectorSpotifyService
    service = await spotify.service()
    assert isinstance(service, ConnectorSpotifyService)
    assert service.entity_types == ALL
    assert isinstance(service.data_source, SpotifyDataSource)
    await service.aclose()


async def test_base_url_comes_from_the_catalogue_without_override(
    database: Database, cipher: Any
) -> None:
    setup = await make_setup(database, cipher, "spotify", {})
    service = await setup.service()
    async with service.open_data_source() as data_source:
        assert str(data_source.client.base_url) == "https://api.spotify.com/v1/"


async def test_fetch_methods_return_entities(spotify: Setup) -> None:
    service: ConnectorSpotifyService = await spotify.service()
    assert len(await service.fetch_entities("tracks")) == 7
    top = await service.fetch_entities("top_artists")
    assert [a.rank for a in top] == [1, 2, 3, 4, 5]
    assert len(await service.fetch_entities("playlists")) == 4
    assert len(await service.fetch_entities("playlist_items")) == 9
    assert len(await service.fetch_entities("albums")) == 3
    plays = await service.fetch_entities("recently_played")
    assert [p.played_at for p in plays] == sorted((p.played_at for p in plays), reverse=True)
    assert (await service.read("tracks", count=True)).total == 0  # nothing stored


async def test_requests_are_paced_per_provider(
    spotify: Setup, spotify_mock: SpotifyMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limiter's clock stands still and its sleeps are recorded, not slept: the schedule it
    # asks for is checked exactly, whatever the machine's speed.
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr(ratelimit, "_LIMITERS", {})  # a fresh process-wide limiter
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=lambda: 1000.0))
    monkeypatch.setattr(ratelimit, "asyncio", SimpleNamespace(sleep=record))
    monkeypatch.setattr(ConnectorSpotifyService, "requests_per_second", 20.0)
    monkeypatch.setattr(ConnectorSpotifyService, "burst", 1)
    result = (await run(spotify, "tracks"))["tracks"]
    assert result.ok
    # 4 requests at 20/s with no burst: the first goes at once, each next one 50 ms later.
    assert waits == pytest.approx([0.05, 0.10, 0.15])


async def test_current_user(spotify: Setup) -> None:
    service = await spotify.service()
    async with service.open_data_source() as data_source:
        me = await data_source.get_current_user()
    assert me["id"] == "ada.listener"
