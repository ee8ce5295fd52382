"""GitHub mappers: every entity built from the real-shaped fixtures, field by field."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from vendor_testkit import FIXTURES, load

from ait_connectors.entities import prepare_row
from ait_connectors.vendors.github.entities import (
    REPOSITORY_KEY,
    GitHubCommit,
    GitHubPullRequest,
    GitHubRepository,
    map_issue,
)

map_repository = GitHubRepository.model_validate
map_commit = GitHubCommit.model_validate
map_pull_request = GitHubPullRequest.model_validate

HELLO = {"id": 1296269, "full_name": "octocat/Hello-World"}


def with_repo(item: dict[str, Any], repo: dict[str, Any] = HELLO) -> dict[str, Any]:
    return {**item, REPOSITORY_KEY: repo}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_repository_mapping() -> None:
    repos = {r["full_name"]: r for r in load("github", "user_repos")}
    spoon = map_repository(repos["octocat/Spoon-Knife"])
    assert spoon.external_id == "1300192"
    assert spoon.model_dump() == {
        "id": 1300192,
        "node_id": spoon.node_id,
        "name": "Spoon-Knife",
        "full_name": "octocat/Spoon-Knife",
        "owner_login": "octocat",
        "owner_id": 583231,
        "owner_type": "User",
        "private": False,
        "fork": False,
        "archived": False,
        "disabled": False,
        "is_template": False,
        "visibility": "public",
        "description": "This repo is for demonstration purposes only.",
        "homepage": None,  # GitHub sends "" when there is none
        "language": "HTML",
        "topics": [],
        "default_branch": "main",
        "has_issues": True,
        "license_spdx_id": "MIT",
        "stargazers_count": 13108,
        "watchers_count": 13108,
        "forks_count": 147802,
        "open_issues_count": 18473,
        "size": 2,
        "permissions": {
            "admin": True,
            "maintain": True,
            "push": True,
            "triage": True,
            "pull": True,
        },
        "html_url": "https://github.com/octocat/Spoon-Knife",
        "clone_url": "https://github.com/octocat/Spoon-Knife.git",
        "created_at": at("2011-01-27T19:30:43Z"),
        "updated_at": at("2026-10-01T11:40:03Z"),
        "pushed_at": at("2026-08-14T09:12:50Z"),
    }
    org = map_repository(repos["octo-org/octo-repo"])
    assert (org.private, org.visibility, org.owner_type) == (True, "private", "Organization")
    assert org.permissions is not None
    assert org.permissions["admin"] is False
    assert org.license_spdx_id is None
    protected = map_repository(repos["octo-sso/protected"])
    assert protected.archived is True


def test_repository_counters_are_volatile() -> None:
    item = next(r for r in load("github", "user_repos") if r["name"] == "Hello-World")
    before = prepare_row(map_repository(item))
    starred = {
        **item,
        "stargazers_count": 9999,
        "watchers_count": 9999,
        "updated_at": "2027-01-01T00:00:00Z",
    }
    assert prepare_row(map_repository(starred)).checksum == before.checksum
    renamed = {**item, "description": "Another description"}
    assert prepare_row(map_repository(renamed)).checksum != before.checksum
    pushed = {**item, "pushed_at": "2027-01-01T00:00:00Z"}
    assert prepare_row(map_repository(pushed)).checksum != before.checksum


def test_commit_mapping_carries_the_repository() -> None:
    items = load("github", "commits_octocat_Hello-World")
    merge = map_commit(with_repo(items[0]))
    assert merge.external_id == f"1296269:{items[0]['sha']}"
    assert merge.repository_id == 1296269
    assert merge.repository_full_name == "octocat/Hello-World"
    assert merge.message.startswith("Merge pull request #6")
    assert (merge.author_name, merge.author_email) == ("The Octocat", "octocat@github.com")
    assert merge.authored_at == at("2026-09-30T17:02:00Z")
    # Merged through the web UI: GitHub commits (and signs) it.
    assert (merge.committer_name, merge.committer_login) == ("GitHub", "web-flow")
    assert merge.author_login == "octocat"
    assert merge.author_id == 583231
    assert len(merge.parents) == 2
    assert merge.parents[0] == items[1]["sha"]
    assert merge.verified is True
    assert merge.verification_reason == "valid"
    assert merge.tree_sha == items[0]["commit"]["tree"]["sha"]
    assert merge.html_url == f"https://github.com/octocat/Hello-World/commit/{items[0]['sha']}"

    commented = map_commit(with_repo(items[1]))
    assert commented.comment_count == 2
    assert commented.verified is False

    # No GitHub account matches the commit email: ``author`` is null.
    anonymous = map_commit(with_repo(items[3]))
    assert anonymous.author_login is None
    assert anonymous.author_id is None
    assert anonymous.author_email == "dev@example.org"

    root = map_commit(with_repo(items[-1]))
    assert root.parents == []

    with pytest.raises(ValidationError):  # the repository identity is not optional
        map_commit(items[0])


def test_commit_dates_differ_when_committed_later() -> None:
    item = load("github", "commits_octo-org_octo-repo")[1]
    commit = map_commit(with_repo(item, {"id": 56780001, "full_name": "octo-org/octo-repo"}))
    assert commit.authored_at == at("2026-09-25T10:00:00Z")
    assert commit.committed_at == at("2026-09-27T08:15:00Z")


def test_pull_request_list_item_mapping() -> None:
    draft, merged, closed = load("github", "pulls_octocat_Hello-World")
    pr = map_pull_request(with_repo(draft))
    assert pr.external_id == str(draft["id"])
    assert (pr.number, pr.state, pr.draft, pr.merged) == (7, "open", True, False)
    assert pr.author_login == "monalisa"
    assert pr.author_association == "CONTRIBUTOR"
    assert pr.labels == ["enhancement"]
    assert pr.requested_reviewers == ["octocat"]
    assert pr.requested_teams == ["docs"]
    assert pr.milestone_title == "v1.0"
    assert (pr.head_ref, pr.base_ref) == ("feature-7", "main")
    assert pr.head_repo_full_name == "octocat/Hello-World"
    assert pr.base_repo_full_name == "octocat/Hello-World"
    # List items carry none of the detail-only fields.
    assert pr.commits is None
    assert pr.additions is None
    assert pr.mergeable is None

    m = map_pull_request(with_repo(merged))
    # No ``merged`` in list items: derived from merged_at.
    assert m.merged is True
    assert m.merged_at == at("2026-09-30T17:02:00Z")
    assert m.assignees == ["octocat"]
    assert m.labels == ["documentation"]
    assert m.head_ref == "patch-1"
    assert m.merge_commit_sha is not None

    c = map_pull_request(with_repo(closed))
    assert (c.state, c.merged, c.locked) == ("closed", False, True)
    # The fork it came from was deleted: ``head.repo`` is null.
    assert c.head_repo_full_name is None
    assert c.head_ref == "fix-everything"
    assert c.body is None


def test_pull_request_detail_mapping() -> None:
    detail = load("github", "pull_octocat_Hello-World_6")
    pr = map_pull_request(with_repo(detail))
    assert pr.merged is True
    assert pr.merged_by_login == "octocat"
    assert (pr.commits, pr.additions, pr.deletions, pr.changed_files) == (1, 1, 1, 1)
    assert (pr.comments, pr.review_comments) == (1, 0)
    assert pr.mergeable is None
    assert pr.mergeable_state == "unknown"
    spoon = load("github", "pull_octocat_Spoon-Knife_31337")
    auto = map_pull_request(with_repo(spoon, {"id": 1300192, "full_name": "octocat/Spoon-Knife"}))
    assert auto.auto_merge is True
    assert auto.mergeable is True
    assert auto.author_association == "FIRST_TIME_CONTRIBUTOR"


def test_pull_request_mergeability_is_volatile() -> None:
    detail = load("github", "pull_octocat_Hello-World_7")
    before = prepare_row(map_pull_request(with_repo(detail)))
    recomputed = {**detail, "mergeable": None, "mergeable_state": "unknown"}
    assert prepare_row(map_pull_request(with_repo(recomputed))).checksum == before.checksum


def test_issue_mapping_and_pull_requests_are_dropped() -> None:
    open_issue, pull, closed, spam = load("github", "issues_octocat_Hello-World")
    issue = map_issue(with_repo(open_issue))
    assert issue is not None
    assert issue.external_id == str(open_issue["id"])
    assert (issue.number, issue.state, issue.state_reason) == (8, "open", None)
    assert issue.labels == ["bug", "enhancement"]
    assert issue.assignees == ["octocat", "hubot"]
    assert issue.milestone_title == "v1.0"
    assert issue.issue_type == "Bug"
    assert issue.comments == 2
    assert issue.reactions_total == 5
    assert issue.author_login == "monalisa"
    assert issue.repository_id == 1296269

    assert map_issue(with_repo(pull)) is None  # the issues endpoint also lists pull requests

    done = map_issue(with_repo(closed))
    assert done is not None
    assert done.state_reason == "completed"
    assert done.closed_at == at("2026-09-10T09:00:00Z")
    rejected = map_issue(with_repo(spam))
    assert rejected is not None
    assert rejected.state_reason == "not_planned"
    assert rejected.locked
    assert rejected.body is None
    assert rejected.issue_type is None


def test_entity_keys_and_types() -> None:
    assert GitHubRepository.entity_type == "repositories"
    item = load("github", "user_repos")[0]
    row = prepare_row(map_repository(item))
    assert row.external_id == str(item["id"])
    assert datetime.now(UTC) > map_repository(item).created_at  # type: ignore[operator]


def _fixture_entities() -> list[Any]:
    """Every fixture item mapped, in a fixed order (the pull requests the issues list dropped)."""
    found: list[Any] = [map_repository(r) for r in load("github", "user_repos")]
    for kind, mapper in (
        ("commits", map_commit),
        ("pull*", map_pull_request),
        ("issues", map_issue),
    ):
        for path in sorted((FIXTURES / "github").glob(f"{kind}_*.json")):
            data = json.loads(path.read_text())
            for item in data if isinstance(data, list) else [data]:
                found.append(mapper(with_repo(item)))
    return [e for e in found if e is not None]


def test_stored_payloads_and_checksums_are_those_of_the_previous_mappers() -> None:
    # Pinned from the field-by-field mappers these models replaced: an upgrade rewrites nothing.
    digest = hashlib.sha256()
    for entity in _fixture_entities():
        row = prepare_row(entity)
        digest.update(row.payload.encode() + row.checksum.encode())
    assert digest.hexdigest() == "6b718fdcb521cd83edf3a58d0efa9b58c29b16e67db0122bea860e3dd33e74da"


def test_a_stored_payload_validates_to_the_same_entity() -> None:
    # The reader validates stored (flattened) payloads with the same models.
    entities = _fixture_entities()
    assert len(entities) == 27
    for entity in entities:
        assert type(entity).model_validate(json.loads(prepare_row(entity).payload)) == entity
