"""A sync of GitHub's per-repository types limited to some repositories (what a webhook naming
one repository asks for): only those repositories' children are read, only their marks move,
the type's cursor stays, nothing else is touched, and the next normal run is as before."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from test_github_sync import HELLO, SPOON, iso, state
from vendor_testkit import GitHubMock, Reply, Setup, rows, run

from ait_connectors.runtime import Connectors
from ait_connectors.settings import get_settings
from ait_connectors.sync.runs import SyncRuns
from ait_connectors.vendors.github import ConnectorGitHubService

SPOON_ID = "1300192"
HELLO_ID = "1296269"


def issue_requests(mock: GitHubMock) -> list[str]:
    return [r.path for r in mock.log if r.path.endswith("/issues")]


async def test_a_run_limited_to_one_repository(github: Setup, github_mock: GitHubMock) -> None:
    await run(github, "issues")
    before = await state(github.database, github, "issues")
    stored = await rows(
        github.database,
        "SELECT external_id, checksum, last_seen_at FROM records "
        "WHERE entity_type = 'issues' ORDER BY external_id",
    )
    new = copy.deepcopy(github_mock.issues[SPOON][0])
    new.update(id=3300000002, number=30002, title="Webhook", updated_at=iso(datetime.now(UTC)))
    github_mock.issues[SPOON].append(new)
    github_mock.clear_log()

    runs = SyncRuns(Connectors(get_settings(), github.database, github.cipher))
    limited = {"issues": frozenset({SPOON_ID})}
    [result] = await runs.run(github.config.id, github.user_id, ["issues"], parents=limited)

    assert (result.status, result.added, result.updated) == ("succeeded", 1, 0)
    assert not result.scan_completed  # it stands in for no scan (see jobs.coalesce)
    assert issue_requests(github_mock) == [f"/api/v3/repos/{SPOON}/issues"]
    # Besides: the repository listing (the walk's parents; 3 pages at the mock's page size).
    assert {r.path for r in github_mock.log if "/issues" not in r.path} == {"/api/v3/user/repos"}
    after = await state(github.database, github, "issues")
    assert after.cursor == before.cursor is None
    marks, marks_before = after.watermark["parents"], before.watermark["parents"]
    assert {k: v for k, v in marks.items() if k != SPOON_ID} == {
        k: v for k, v in marks_before.items() if k != SPOON_ID
    }
    assert marks[SPOON_ID][0] >= marks_before[SPOON_ID][0]
    kept = await rows(
        github.database,
        "SELECT external_id, checksum, last_seen_at FROM records "
        "WHERE entity_type = 'issues' AND external_id != :new ORDER BY external_id",
        new=str(new["id"]),
    )
    assert kept == stored  # the other repositories' records (and Spoon-Knife's old one) as were

    # The next normal run: every repository since its mark, the scan completes, nothing new.
    github_mock.clear_log()
    normal = (await run(github, "issues"))["issues"]
    assert (normal.status, normal.scan_completed, normal.added, normal.updated) == (
        "succeeded",
        True,
        0,
        0,
    )
    asked = issue_requests(github_mock)
    assert f"/api/v3/repos/{HELLO}/issues" in asked and f"/api/v3/repos/{SPOON}/issues" in asked
    numbers = await rows(github.database, "SELECT number FROM github_issues ORDER BY number")
    assert [r[0] for r in numbers] == [3, 4, 8, 30001, 30002]


def test_only_walked_types_that_never_sweep_are_limited() -> None:
    service = ConnectorGitHubService
    parents = frozenset({SPOON_ID})
    assert service.issues.config().limited_fetcher(parents) is not None
    assert service.issues.config().limited_fetcher(frozenset()) is None
    assert service.repositories.config().limited_fetcher(parents) is None  # not walked


async def test_a_limited_run_leaves_an_unfinished_scan_where_it_was(
    github: Setup, github_mock: GitHubMock
) -> None:
    # The first scan stops at octo-org/octo-repo (after Hello-World and Spoon-Knife).
    github_mock.fault("/repos/octo-org/octo-repo/issues", Reply(400, {"message": "Bad"}))
    assert (await run(github, "issues"))["issues"].status == "failed"
    stopped = await state(github.database, github, "issues")
    assert stopped.cursor is not None and stopped.watermark is None

    new = copy.deepcopy(github_mock.issues[HELLO][0])
    new.update(id=3300000003, number=30003, updated_at=iso(datetime.now(UTC)))
    github_mock.issues[HELLO].append(new)
    runs = SyncRuns(Connectors(get_settings(), github.database, github.cipher))
    limited = {"issues": frozenset({HELLO_ID})}
    [result] = await runs.run(github.config.id, github.user_id, ["issues"], parents=limited)
    assert (result.status, result.added) == ("succeeded", 1)
    after = await state(github.database, github, "issues")
    assert (after.cursor, after.watermark) == (stopped.cursor, stopped.watermark)

    # The scan resumes at octo-org/octo-repo and completes as it would have.
    github_mock.clear_log()
    resumed = (await run(github, "issues"))["issues"]
    assert (resumed.status, resumed.scan_completed) == ("succeeded", True)
    assert not [r for r in issue_requests(github_mock) if "Hello-World" in r]
    numbers = await rows(github.database, "SELECT number FROM github_issues ORDER BY number")
    assert 30003 in [r[0] for r in numbers]
