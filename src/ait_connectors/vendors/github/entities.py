"""GitHub entity models and the mappers that build them from the REST API's JSON.

Each model keeps the fields a user of the synced data expects (vendors.md, GitHub, "Fields worth
keeping"), flattened where the API nests a single value (``owner.login`` → ``owner_login``).
Per-repository entities (commits, pull requests, issues) carry the repository they were listed
from: the data source adds it to every item under :data:`REPOSITORY_KEY`, because GitHub's list
items do not say which repository they belong to (commits) or only as a URL (issues).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from ...entities import Entity

__all__ = [
    "REPOSITORY_KEY",
    "GitHubCommit",
    "GitHubIssue",
    "GitHubPullRequest",
    "GitHubRepository",
    "map_commit",
    "map_issue",
    "map_pull_request",
    "map_repository",
]

#: Key under which the data source attaches ``{"id", "full_name"}`` of the listed repository.
REPOSITORY_KEY = "_repository"


class GitHubRepository(Entity):
    """A repository the user owns, collaborates on, or can see as an organization member.

    Star, watcher and fork counts, size and ``updated_at`` (which GitHub bumps on every star) are
    volatile: a change in them alone does not rewrite the record.
    """

    entity_type: ClassVar[str] = "repositories"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset(
        {
            "stargazers_count",
            "watchers_count",
            "forks_count",
            "open_issues_count",
            "size",
            "updated_at",
        }
    )

    id: int
    node_id: str
    name: str
    full_name: str
    owner_login: str
    owner_id: int
    owner_type: str | None = None
    private: bool
    fork: bool
    archived: bool = False
    disabled: bool = False
    is_template: bool = False
    visibility: str | None = None
    description: str | None = None
    homepage: str | None = None
    language: str | None = None
    topics: list[str] = []
    default_branch: str | None = None
    has_issues: bool = True
    license_spdx_id: str | None = None
    stargazers_count: int = 0
    watchers_count: int = 0
    forks_count: int = 0
    open_issues_count: int = 0
    size: int = 0
    permissions: dict[str, bool] | None = None
    html_url: str
    clone_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    pushed_at: datetime | None = None


class GitHubCommit(Entity):
    """A commit of a repository's default branch; keyed by repository id and SHA (the same
    commit in a fork is another record)."""

    entity_type: ClassVar[str] = "commits"
    natural_key: ClassVar[tuple[str, ...]] = ("repository_id", "sha")

    repository_id: int
    repository_full_name: str
    sha: str
    node_id: str | None = None
    message: str
    author_name: str | None = None
    author_email: str | None = None
    authored_at: datetime | None = None
    committer_name: str | None = None
    committer_email: str | None = None
    committed_at: datetime | None = None
    # The GitHub accounts matched to the git identities (null when no account matches).
    author_login: str | None = None
    author_id: int | None = None
    committer_login: str | None = None
    parents: list[str] = []
    tree_sha: str | None = None
    comment_count: int = 0
    verified: bool | None = None
    verification_reason: str | None = None
    html_url: str | None = None


class GitHubPullRequest(Entity):
    """A pull request (any state).

    ``merged`` is derived from ``merged_at`` when only the list item is known (GitHub sets both
    together). The counts (``commits``, ``additions``, …) and ``mergeable`` exist only in the
    pull request's own resource: they are ``None`` unless the data source fetched it.
    ``mergeable``/``mergeable_state`` are computed by GitHub in the background and flip between
    ``null`` and a value, so they are volatile.
    """

    entity_type: ClassVar[str] = "pull_requests"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"mergeable", "mergeable_state"})

    id: int
    node_id: str
    number: int
    repository_id: int
    repository_full_name: str
    title: str
    body: str | None = None
    state: str
    draft: bool = False
    locked: bool = False
    merged: bool
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    author_login: str | None = None
    author_id: int | None = None
    author_association: str | None = None
    labels: list[str] = []
    assignees: list[str] = []
    requested_reviewers: list[str] = []
    requested_teams: list[str] = []
    milestone_title: str | None = None
    head_ref: str | None = None
    head_sha: str | None = None
    head_repo_full_name: str | None = None
    base_ref: str | None = None
    base_sha: str | None = None
    base_repo_full_name: str | None = None
    merge_commit_sha: str | None = None
    auto_merge: bool = False
    html_url: str
    # Only in the pull request's own resource (GET /repos/{o}/{r}/pulls/{n}).
    merged_by_login: str | None = None
    mergeable: bool | None = None
    mergeable_state: str | None = None
    comments: int | None = None
    review_comments: int | None = None
    commits: int | None = None
    additions: int | None = None
    deletions: int | None = None
    changed_files: int | None = None


class GitHubIssue(Entity):
    """An issue (pull requests, which the issues endpoint also returns, are left out)."""

    entity_type: ClassVar[str] = "issues"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: int
    node_id: str
    number: int
    repository_id: int
    repository_full_name: str
    title: str
    body: str | None = None
    state: str
    state_reason: str | None = None
    locked: bool = False
    active_lock_reason: str | None = None
    author_login: str | None = None
    author_id: int | None = None
    author_association: str | None = None
    assignees: list[str] = []
    labels: list[str] = []
    milestone_title: str | None = None
    issue_type: str | None = None
    comments: int = 0
    reactions_total: int | None = None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    html_url: str


# ---------------------------------------------------------------------------------------------
# Mappers


def _login(user: Any) -> str | None:
    return user.get("login") if isinstance(user, dict) else None


def _user_id(user: Any) -> int | None:
    value = user.get("id") if isinstance(user, dict) else None
    return int(value) if isinstance(value, int) else None


def _logins(users: Any) -> list[str]:
    return [u["login"] for u in users or [] if isinstance(u, dict) and u.get("login")]


def _label_names(labels: Any) -> list[str]:
    # Labels are objects in REST responses; very old payloads used plain strings.
    names: list[str] = []
    for label in labels or []:
        if isinstance(label, dict) and label.get("name"):
            names.append(str(label["name"]))
        elif isinstance(label, str):
            names.append(label)
    return names


def _repository(item: dict[str, Any]) -> dict[str, Any]:
    repo = item.get(REPOSITORY_KEY)
    if not isinstance(repo, dict):
        raise KeyError(f"{REPOSITORY_KEY} (the data source attaches the listed repository)")
    return repo


def _ref(side: Any) -> tuple[str | None, str | None, str | None]:
    if not isinstance(side, dict):
        return None, None, None
    repo = side.get("repo")
    # ``repo`` is null when the fork the pull request came from was deleted.
    full_name = repo.get("full_name") if isinstance(repo, dict) else None
    return side.get("ref"), side.get("sha"), full_name


def map_repository(item: dict[str, Any]) -> GitHubRepository:
    """``GET /user/repos`` item → :class:`GitHubRepository`."""
    owner = item["owner"]
    license_ = item.get("license")
    return GitHubRepository(
        id=item["id"],
        node_id=item["node_id"],
        name=item["name"],
        full_name=item["full_name"],
        owner_login=owner["login"],
        owner_id=owner["id"],
        owner_type=owner.get("type"),
        private=item["private"],
        fork=item["fork"],
        archived=item.get("archived", False),
        disabled=item.get("disabled", False),
        is_template=item.get("is_template", False),
        visibility=item.get("visibility"),
        description=item.get("description"),
        homepage=item.get("homepage") or None,
        language=item.get("language"),
        topics=list(item.get("topics") or []),
        default_branch=item.get("default_branch"),
        has_issues=item.get("has_issues", True),
        license_spdx_id=license_.get("spdx_id") if isinstance(license_, dict) else None,
        stargazers_count=item.get("stargazers_count", 0),
        watchers_count=item.get("watchers_count", 0),
        forks_count=item.get("forks_count", 0),
        open_issues_count=item.get("open_issues_count", 0),
        size=item.get("size", 0),
        permissions=item.get("permissions"),
        html_url=item["html_url"],
        clone_url=item.get("clone_url"),
        created_at=item.get("created_at"),
        updated_at=item.get("updated_at"),
        pushed_at=item.get("pushed_at"),
    )


def map_commit(item: dict[str, Any]) -> GitHubCommit:
    """``GET /repos/{o}/{r}/commits`` item (+ the listed repository) → :class:`GitHubCommit`."""
    repo = _repository(item)
    commit = item["commit"]
    author = commit.get("author") or {}
    committer = commit.get("committer") or {}
    verification = commit.get("verification") or {}
    tree = commit.get("tree") or {}
    return GitHubCommit(
        repository_id=repo["id"],
        repository_full_name=repo["full_name"],
        sha=item["sha"],
        node_id=item.get("node_id"),
        message=commit.get("message") or "",
        author_name=author.get("name"),
        author_email=author.get("email"),
        authored_at=author.get("date"),
        committer_name=committer.get("name"),
        committer_email=committer.get("email"),
        committed_at=committer.get("date"),
        author_login=_login(item.get("author")),
        author_id=_user_id(item.get("author")),
        committer_login=_login(item.get("committer")),
        parents=[p["sha"] for p in item.get("parents") or [] if isinstance(p, dict)],
        tree_sha=tree.get("sha"),
        comment_count=commit.get("comment_count") or 0,
        verified=verification.get("verified"),
        verification_reason=verification.get("reason"),
        html_url=item.get("html_url"),
    )


def map_pull_request(item: dict[str, Any]) -> GitHubPullRequest:
    """A pull request list item, or its full resource when fetched → :class:`GitHubPullRequest`."""
    repo = _repository(item)
    head_ref, head_sha, head_repo = _ref(item.get("head"))
    base_ref, base_sha, base_repo = _ref(item.get("base"))
    merged = item.get("merged")
    milestone = item.get("milestone")
    return GitHubPullRequest(
        id=item["id"],
        node_id=item["node_id"],
        number=item["number"],
        repository_id=repo["id"],
        repository_full_name=repo["full_name"],
        title=item["title"],
        body=item.get("body"),
        state=item["state"],
        draft=bool(item.get("draft")),
        locked=bool(item.get("locked")),
        # The list item has no ``merged``; GitHub sets merged_at exactly when it merges.
        merged=bool(merged) if merged is not None else item.get("merged_at") is not None,
        merged_at=item.get("merged_at"),
        closed_at=item.get("closed_at"),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        author_login=_login(item.get("user")),
        author_id=_user_id(item.get("user")),
        author_association=item.get("author_association"),
        labels=_label_names(item.get("labels")),
        assignees=_logins(item.get("assignees")),
        requested_reviewers=_logins(item.get("requested_reviewers")),
        requested_teams=[
            t.get("slug") or t.get("name")
            for t in item.get("requested_teams") or []
            if isinstance(t, dict) and (t.get("slug") or t.get("name"))
        ],
        milestone_title=milestone.get("title") if isinstance(milestone, dict) else None,
        head_ref=head_ref,
        head_sha=head_sha,
        head_repo_full_name=head_repo,
        base_ref=base_ref,
        base_sha=base_sha,
        base_repo_full_name=base_repo,
        merge_commit_sha=item.get("merge_commit_sha"),
        auto_merge=item.get("auto_merge") is not None,
        html_url=item["html_url"],
        merged_by_login=_login(item.get("merged_by")),
        mergeable=item.get("mergeable"),
        mergeable_state=item.get("mergeable_state"),
        comments=item.get("comments"),
        review_comments=item.get("review_comments"),
        commits=item.get("commits"),
        additions=item.get("additions"),
        deletions=item.get("deletions"),
        changed_files=item.get("changed_files"),
    )


def map_issue(item: dict[str, Any]) -> GitHubIssue | None:
    """``GET /repos/{o}/{r}/issues`` item → :class:`GitHubIssue`; ``None`` for pull requests."""
    if item.get("pull_request") is not None:
        return None
    repo = _repository(item)
    milestone = item.get("milestone")
    issue_type = item.get("type")
    reactions = item.get("reactions")
    return GitHubIssue(
        id=item["id"],
        node_id=item["node_id"],
        number=item["number"],
        repository_id=repo["id"],
        repository_full_name=repo["full_name"],
        title=item["title"],
        body=item.get("body"),
        state=item["state"],
        state_reason=item.get("state_reason"),
        locked=bool(item.get("locked")),
        active_lock_reason=item.get("active_lock_reason"),
        author_login=_login(item.get("user")),
        author_id=_user_id(item.get("user")),
        author_association=item.get("author_association"),
        assignees=_logins(item.get("assignees")),
        labels=_label_names(item.get("labels")),
        milestone_title=milestone.get("title") if isinstance(milestone, dict) else None,
        issue_type=issue_type.get("name") if isinstance(issue_type, dict) else None,
        comments=item.get("comments") or 0,
        reactions_total=reactions.get("total_count") if isinstance(reactions, dict) else None,
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        closed_at=item.get("closed_at"),
        html_url=item["html_url"],
    )
