"""GitHub end to end against the local GitHub server: ``sync()`` on SQLite and PostgreSQL,
pagination, incremental walks, per-repository failures, rate limits, base URL, registration."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, text
from vendor_testkit import GitHubMock, Reply, Setup, load, rows, run

from ait_connectors import ratelimit
from ait_connectors.registry import get_vendor
from ait_connectors.storage.db import Database
from ait_connectors.storage.sync_models import NullableJSON
from ait_connectors.sync import SyncOptions
from ait_connectors.vendors.github import ConnectorGitHubService
from ait_connectors.vendors.github.data_source import GitHubDataSource

HELLO = "octocat/Hello-World"
SPOON = "octocat/Spoon-Knife"
ALL = ["repositories", "commits", "pull_requests", "issues"]


async def state(database: Database, setup: Setup, entity_type: str) -> Any:
    """The entity type's ``sync_state`` row (cursor and watermark decoded)."""
    query = text(
        "SELECT cursor, watermark, status FROM sync_state "
        "WHERE connector_config_id = :c AND user_id = :u AND entity_type = :t"
    ).columns(cursor=NullableJSON, watermark=NullableJSON)
    async with database.connect() as conn:
        result = await conn.execute(
            query, {"c": setup.config.id, "u": setup.user_id, "t": entity_type}
        )
        return result.first()


def commit_like(template: dict[str, Any], sha: str, date: str, message: str) -> dict[str, Any]:
    item = copy.deepcopy(template)
    item["sha"] = sha
    item["commit"]["message"] = message
    item["commit"]["author"]["date"] = date
    item["commit"]["committer"]["date"] = date
    return item


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Full sync


async def test_full_sync_of_every_entity(github: Setup, github_mock: GitHubMock) -> None:
    results = await run(github)
    assert {t: r.status for t, r in results.items()} == dict.fromkeys(ALL, "succeeded")
    assert results["repositories"].added == 5
    assert results["commits"].added == 10  # 5 + 3 + 2; the empty and the SSO repos have none
    assert results["pull_requests"].added == 4
    assert results["issues"].added == 4  # the pull request the issues endpoint lists is dropped

    # Typed views over the records, with the entity's fields as columns.
    repos = await rows(
        github.database,
        "SELECT full_name, private, stargazers_count, pushed_at FROM github_repositories "
        "WHERE _connector_config_id = :c ORDER BY id",
        c=github.config.id,
    )
    assert [r[0] for r in repos] == [
        HELLO,
        SPOON,
        "octo-org/octo-repo",
        "octocat/empty-repo",
        "octo-sso/protected",
    ]
    assert [bool(r[1]) for r in repos] == [False, False, True, False, True]
    assert repos[1][2] == 13108
    commits = await rows(
        github.database,
        "SELECT repository_full_name, COUNT(*) FROM github_commits GROUP BY repository_full_name "
        "ORDER BY repository_full_name",
    )
    assert [(r[0], r[1]) for r in commits] == [
        ("octo-org/octo-repo", 2),
        (HELLO, 5),
        (SPOON, 3),
    ]
    prs = await rows(
        github.database,
        "SELECT number, merged, commits, additions FROM github_pull_requests ORDER BY number",
    )
    assert [(r[0], bool(r[1]), r[2], r[3]) for r in prs] == [
        (5, False, 9, 1200),
        (6, True, 1, 1),
        (7, False, 2, 14),
        (31337, False, 1, 1),
    ]
    issues = await rows(github.database, "SELECT number FROM github_issues ORDER BY number")
    assert [r[0] for r in issues] == [3, 4, 8, 30001]

    # Every request went to the configured GitHub Enterprise base URL with GitHub's headers.
    api_requests = [r for r in github_mock.log if r.path != "/login/oauth/access_token"]
    assert api_requests
    assert all(r.path.startswith("/api/v3/") for r in api_requests)
    assert all(r.headers.get("accept") == "application/vnd.github+json" for r in api_requests)
    assert all(r.headers.get("x-github-api-version") == "2022-11-28" for r in api_requests)


async def test_resync_of_unchanged_data_writes_nothing(github: Setup) -> None:
    await run(github)
    again = await run(github)
    assert all(r.ok for r in again.values())
    assert sum(r.rows_written for r in again.values()) == 0


async def test_pagination_follows_link_headers_to_the_end(
    github: Setup, github_mock: GitHubMock
) -> None:
    await run(github, "repositories", "commits")
    listing = [r for r in github_mock.requests("/user/repos")]
    # Listed once for the repositories and once for the commits walk, 3 pages each (cap 2/page).
    assert [r.query.get("page", "1") for r in listing] == ["1", "2", "3"] * 2
    assert all(r.query["per_page"] == "100" for r in listing)
    assert listing[0].query["affiliation"] == "owner,collaborator,organization_member"
    hello = [
        r
        for r in github_mock.log
        if r.path.endswith("/commits") and ("Hello-World" in r.path or "/1296269/" in r.path)
    ]
    # Page 1 under /repos/{owner}/{repo}, then the rel="next" links GitHub gives (by repo id).
    assert [r.path for r in hello] == [
        "/api/v3/repos/octocat/Hello-World/commits",
        "/api/v3/repositories/1296269/commits",
        "/api/v3/repositories/1296269/commits",
    ]
    assert [r.query.get("page") for r in hello] == [None, "2", "3"]


# ---------------------------------------------------------------------------------------------
# Incremental walks


async def test_commits_second_run_reads_since_per_repository(
    github: Setup, github_mock: GitHubMock
) -> None:
    first = await run(github, "commits")
    assert first["commits"].added == 10
    mark = await state(github.database, github, "commits")
    assert mark.cursor is None  # the scan completed
    assert set(mark.watermark["parents"]) == {"1296269", "1300192", "56780001"}

    now = datetime.now(UTC)
    hello = github_mock.repo(HELLO)
    assert hello is not None
    template = github_mock.commits[HELLO][0]
    github_mock.commits[HELLO].insert(
        0, commit_like(template, "a" * 40, iso(now), "A commit pushed after the first sync")
    )
    hello["pushed_at"] = iso(now)
    # A repository the user just got access to: its whole history is read.
    newcomer = copy.deepcopy(github_mock.repo(SPOON))
    assert newcomer is not None
    newcomer.update(id=80000000, name="newcomer", full_name="octocat/newcomer")
    github_mock.repos.append(newcomer)
    github_mock.commits["octocat/newcomer"] = [
        commit_like(template, f"{i:040x}", f"2015-01-0{i + 1}T00:00:00Z", f"old {i}")
        for i in range(3)
    ]
    github_mock.clear_log()

    second = await run(github, "commits")
    assert second["commits"].ok
    assert second["commits"].added == 4  # the new commit + the newcomer's 3
    commit_requests = [r for r in github_mock.log if r.path.endswith("/commits")]
    by_repo = {r.path.split("/")[-2]: r for r in commit_requests if "/repos/" in r.path}
    # Nothing pushed to Spoon-Knife or octo-repo since: not even asked.
    assert "Spoon-Knife" not in by_repo
    assert "octo-repo" not in by_repo
    since = by_repo["Hello-World"].query["since"]
    first_scan = datetime.fromisoformat(
        mark.watermark["parents"]["1296269"][0].replace("Z", "+00:00")
    )
    # The mark minus the commit-date overlap (commits are pushed after they are made).
    assert datetime.fromisoformat(since.replace("Z", "+00:00")) == first_scan - timedelta(days=1)
    assert "since" not in by_repo["newcomer"].query
    # Repositories that failed have no mark: asked again from the start.
    assert "since" not in by_repo["empty-repo"].query
    total = await rows(github.database, "SELECT COUNT(*) FROM github_commits")
    assert total[0][0] == 14


async def test_a_watermark_from_before_the_sdk_walks_keeps_its_marks(
    github: Setup, github_mock: GitHubMock
) -> None:
    await run(github, "commits")
    marks = (await state(github.database, github, "commits")).watermark["parents"]
    # What the hand-written walk left: the same marks, under "repos".
    update = text(
        "UPDATE sync_state SET watermark = :w WHERE connector_config_id = :c "
        "AND entity_type = 'commits'"
    ).bindparams(bindparam("w", type_=NullableJSON))
    async with github.database.transaction() as conn:
        await conn.execute(update, {"w": {"v": 1, "repos": marks}, "c": github.config.id})
    github_mock.clear_log()
    again = (await run(github, "commits"))["commits"]
    assert again.ok
    assert again.rows_written == 0
    asked = [r.path.split("/")[-2] for r in github_mock.log if r.path.endswith("/commits")]
    # Nothing pushed since: only the repositories that had no mark are read (from the start).
    assert sorted(asked) == ["empty-repo", "protected"]


async def test_pull_requests_second_run_stops_at_the_mark(
    github: Setup, github_mock: GitHubMock
) -> None:
    await run(github, "pull_requests")
    github_mock.clear_log()
    unchanged = await run(github, "pull_requests")
    assert unchanged["pull_requests"].ok
    assert unchanged["pull_requests"].rows_written == 0
    hello = [
        r
        for r in github_mock.log
        if "pulls" in r.path and ("Hello" in r.path or "1296269" in r.path)
    ]
    # Newest-updated first and all older than the mark: one list page, no details.
    assert [r.path for r in hello] == ["/api/v3/repos/octocat/Hello-World/pulls"]

    # PR 5 gets a new comment: it moves to the top and only it is fetched in full.
    pr5 = next(p for p in github_mock.pulls[HELLO] if p["number"] == 5)
    pr5["updated_at"] = iso(datetime.now(UTC) + timedelta(seconds=5))
    github_mock.pull_details[(HELLO, 5)] = {
        **github_mock.pull_details[(HELLO, 5)],
        "updated_at": pr5["updated_at"],
        "comments": 13,
    }
    github_mock.clear_log()
    changed = await run(github, "pull_requests")
    assert changed["pull_requests"].updated == 1
    details = [r.path for r in github_mock.log if r.path.split("/")[-1].isdigit()]
    assert details == ["/api/v3/repos/octocat/Hello-World/pulls/5"]
    found = await rows(
        github.database, "SELECT comments FROM github_pull_requests WHERE number = 5"
    )
    assert found[0][0] == 13


async def test_issues_second_run_uses_since(github: Setup, github_mock: GitHubMock) -> None:
    await run(github, "issues")
    github_mock.clear_log()
    issue = next(i for i in github_mock.issues[SPOON] if i["number"] == 30001)
    issue.update(state="closed", state_reason="completed", updated_at=iso(datetime.now(UTC)))
    result = await run(github, "issues")
    assert result["issues"].updated == 1
    assert result["issues"].added == 0
    asked = [r for r in github_mock.log if r.path.endswith("/issues")]
    # The SSO-protected repository failed last time (no mark): it alone is read from the start.
    assert asked
    assert all(("since" in r.query) != ("protected" in r.path) for r in asked)
    assert all(r.query["sort"] == "updated" and r.query["direction"] == "desc" for r in asked)
    found = await rows(github.database, "SELECT state FROM github_issues WHERE number = 30001")
    assert found[0][0] == "closed"


# ---------------------------------------------------------------------------------------------
# Per-repository failures


async def test_failing_repositories_are_skipped_not_fatal(
    github: Setup, github_mock: GitHubMock
) -> None:
    # One more failure mode: a repository that vanished between the listing and its walk.
    github_mock.fault(
        "/repos/octo-org/octo-repo/commits", Reply(404, load("github", "error_not_found"))
    )
    result = (await run(github, "commits"))["commits"]
    assert result.status == "succeeded"
    assert result.scan_completed
    statuses = {
        r.path.split("/")[-2]: r.status for r in github_mock.log if r.path.endswith("/commits")
    }
    assert statuses["empty-repo"] == 409
    assert statuses["protected"] == 403
    assert statuses["octo-repo"] == 404
    assert result.added == 8  # Hello-World and Spoon-Knife only
    mark = await state(github.database, github, "commits")
    # Skipped repositories get no mark: next time they are read from the start.
    assert set(mark.watermark["parents"]) == {"1296269", "1300192"}


async def test_skipped_repositories_are_warned_in_the_run_record(github: Setup) -> None:
    result = (await run(github, "commits"))["commits"]
    assert any("octocat/empty-repo" in w and "409" in w for w in result.warnings)
    assert any("octo-sso/protected" in w and "403" in w for w in result.warnings)
    stored = await rows(
        github.database, "SELECT warnings FROM sync_runs WHERE id = :id", id=result.run_id
    )
    assert "octocat/empty-repo" in str(stored[0][0])


# ---------------------------------------------------------------------------------------------
# Rate limits


def primary_limit(status: int, reset: int) -> Reply:
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": "5000",
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-resource": "core",
    }
    return Reply(status, load("github", "error_rate_limit"), headers)


@pytest.mark.parametrize("status", [403, 429])
async def test_primary_rate_limit_stops_cleanly_then_resumes(
    github: Setup, github_mock: GitHubMock, status: int
) -> None:
    reset = int(time.time()) + 3600
    github_mock.fault("/repositories/1296269/commits", primary_limit(status, reset), page="2")
    stopped = (await run(github, "commits"))["commits"]
    assert stopped.status == "rate_limited"
    assert stopped.resume_at == datetime.fromtimestamp(reset, UTC)
    assert stopped.added == 2  # the first page of Hello-World was committed
    kept = await state(github.database, github, "commits")
    # Inside Hello-World, at its second page.
    assert [(key, page is not None) for key, page in kept.cursor["open"]] == [("1296269", True)]

    github_mock.clear_log()
    resumed = (await run(github, "commits"))["commits"]
    assert resumed.ok
    assert resumed.added == 8
    first = next(r for r in github_mock.log if r.path.endswith("/commits"))
    # It went on from page 2 of Hello-World, not from the first page.
    assert (first.path, first.query.get("page")) == ("/api/v3/repositories/1296269/commits", "2")
    total = await rows(github.database, "SELECT COUNT(*) FROM github_commits")
    assert total[0][0] == 10


async def test_secondary_rate_limit_with_retry_after_is_waited_out(
    github: Setup, github_mock: GitHubMock
) -> None:
    github_mock.fault(
        "/repos/octocat/Spoon-Knife/commits",
        Reply(403, load("github", "error_secondary_rate_limit"), {"retry-after": "3"}),
    )
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    result = (await run(github, "commits", options=SyncOptions(sleep=fake_sleep)))["commits"]
    assert result.ok
    assert result.added == 10
    assert len(waits) == 1
    assert 2.0 < waits[0] <= 3.0
    assert any("rate limited" in w for w in result.warnings)


async def test_secondary_rate_limit_without_headers_waits_a_minute(
    github: Setup, github_mock: GitHubMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    github_mock.fault(
        "/repos/octocat/Hello-World/commits",
        Reply(403, load("github", "error_secondary_rate_limit")),
    )
    now = datetime.now(UTC)
    monkeypatch.setattr(ratelimit, "utcnow", lambda: now)  # the rate-limit clock stands still
    result = (await run(github, "commits", options=SyncOptions(max_rate_limit_wait=10)))["commits"]
    assert result.status == "rate_limited"
    assert result.resume_at == now + timedelta(seconds=60)


async def test_rate_limit_error_carries_the_reset_time(
    github: Setup, github_mock: GitHubMock
) -> None:
    from ait_connectors.errors import RateLimitError

    reset = int(time.time()) + 1234
    github_mock.fault("/user/repos", primary_limit(403, reset))
    service = await github.service()
    async with service.open_data_source() as data_source:
        with pytest.raises(RateLimitError) as info:
            await data_source.repositories_page(None)
    assert info.value.provider == "github"
    assert info.value.reset_at == datetime.fromtimestamp(reset, UTC)


async def test_a_403_without_rate_limit_signs_is_not_a_rate_limit(
    github: Setup, github_mock: GitHubMock
) -> None:
    from ait_connectors.errors import VendorResponseError

    github_mock.fault("/user/repos", Reply(403, load("github", "error_saml_forbidden")))
    service = await github.service()
    async with service.open_data_source() as data_source:
        with pytest.raises(VendorResponseError) as info:
            await data_source.repositories_page(None)
    assert info.value.status_code == 403


# ---------------------------------------------------------------------------------------------
# Pull request details


async def test_pull_request_details_are_fetched_with_bounded_concurrency(
    github: Setup, github_mock: GitHubMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConnectorGitHubService, "detail_concurrency", 3)
    github_mock.page_cap = 100
    template = github_mock.pulls[HELLO][0]
    detail = github_mock.pull_details[(HELLO, 7)]
    for number in range(100, 112):
        github_mock.pulls[HELLO].append({**template, "id": 9_000_000 + number, "number": number})
        github_mock.pull_details[(HELLO, number)] = {
            **detail,
            "id": 9_000_000 + number,
            "number": number,
            "additions": number,
        }
    github_mock.delays["/pulls/1"] = 0.03  # details of PRs 100-111 take a moment
    result = (await run(github, "pull_requests"))["pull_requests"]
    assert result.ok
    assert result.added == 16
    assert github_mock.max_inflight["/pulls/1"] == 3
    found = await rows(
        github.database, "SELECT additions FROM github_pull_requests WHERE number = 111"
    )
    assert found[0][0] == 111


async def test_pull_requests_without_details(
    github: Setup, github_mock: GitHubMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ConnectorGitHubService, "pull_request_details", False)
    result = (await run(github, "pull_requests"))["pull_requests"]
    assert result.ok
    assert result.added == 4
    assert not [r for r in github_mock.log if r.path.split("/")[-1].isdigit()]
    merged = await rows(
        github.database, "SELECT merged, commits FROM github_pull_requests WHERE number = 6"
    )
    assert bool(merged[0][0]) is True
    assert merged[0][1] is None


async def test_a_missing_pull_request_detail_keeps_the_list_item(
    github: Setup, github_mock: GitHubMock
) -> None:
    del github_mock.pull_details[(HELLO, 7)]
    result = (await run(github, "pull_requests"))["pull_requests"]
    assert result.ok
    assert result.added == 4
    found = await rows(
        github.database, "SELECT draft, commits FROM github_pull_requests WHERE number = 7"
    )
    assert bool(found[0][0]) is True
    assert found[0][1] is None


# ---------------------------------------------------------------------------------------------
# Base URL, foreign links, registration, fetch_* methods


async def test_base_url_comes_from_the_catalogue_without_override(
    database: Database, cipher: Any
) -> None:
    from vendor_testkit import make_setup

    setup = await make_setup(database, cipher, "github", {})
    service = await setup.service()
    async with service.open_data_source() as data_source:
        assert str(data_source.client.base_url) == "https://api.github.com/"
    with_override = await make_setup(
        database, cipher, "github", {"api_base_url": "https://ghe.example.com/api/v3"}
    )
    service = await with_override.service()
    async with service.open_data_source() as data_source:
        assert str(data_source.client.base_url) == "https://ghe.example.com/api/v3/"


async def test_a_link_to_another_host_is_refused(github: Setup, github_mock: GitHubMock) -> None:
    github_mock.fault(
        "/user/repos",
        Reply(200, [], {"Link": '<https://evil.example/user/repos?page=2>; rel="next"'}),
    )
    result = (await run(github, "repositories"))["repositories"]
    assert result.status == "failed"
    assert result.error_code == "VENDOR_FOREIGN_NEXT_URL"


async def test_the_factory_builds_the_github_service(github: Setup) -> None:
    assert get_vendor("github").service_cls is ConnectorGitHubService
    service = await github.service()
    assert isinstance(service, ConnectorGitHubService)
    assert service.entity_types == ALL
    assert isinstance(service.data_source, GitHubDataSource)
    await service.aclose()


async def test_fetch_methods_return_entities(github: Setup) -> None:
    service: ConnectorGitHubService = await github.service()
    repos = await service.fetch_entities("repositories")
    assert sorted(r.full_name for r in repos)[:2] == ["octo-org/octo-repo", "octo-sso/protected"]
    issues = await service.fetch_entities("issues")
    assert sorted(i.number for i in issues) == [3, 4, 8, 30001]
    commits = await service.fetch_entities("commits", limit=3)
    assert len(commits) == 3
    assert all(c.repository_full_name == HELLO for c in commits)
    prs = await service.fetch_entities("pull_requests")
    assert {p.number for p in prs} == {5, 6, 7, 31337}
    assert await service.read("repositories") is not None  # nothing stored by fetch_*
    assert (await service.read("repositories", count=True)).total == 0


async def test_single_resources(github: Setup, github_mock: GitHubMock) -> None:
    service = await github.service()
    async with service.open_data_source() as data_source:
        user = await data_source.get_authenticated_user()
        limits = await data_source.get_rate_limit()
    assert user["login"] == "octocat"
    assert "resources" in limits
    assert [r.path for r in github_mock.log] == ["/api/v3/user", "/api/v3/rate_limit"]
