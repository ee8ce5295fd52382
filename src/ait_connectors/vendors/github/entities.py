"""GitHub entity models, validated straight from the REST API's JSON.

Each model keeps the fields a user of the synced data expects (vendors.md, GitHub, "Fields worth
keeping"), flattened where the API nests a single value (``owner.login`` → ``owner_login``, an
``AliasPath``). Every validator also accepts the stored, flattened form, so a record read back
validates to the same entity. Per-repository entities carry the repository they were listed
from: the data source attaches it under :data:`REPOSITORY_KEY`, because GitHub's list items do
not say which repository they belong to (commits) or only as a URL (issues).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AliasPath, BeforeValidator, Field, model_validator

from ait_connectors.vendor import Entity

__all__ = ["GitHubCommit", "GitHubIssue", "GitHubPullRequest", "GitHubRepository", "map_issue"]

#: Key under which the data source attaches ``{"id", "full_name"}`` of the listed repository.
REPOSITORY_KEY = "_repository"


def _at(*path: str, default: Any = None) -> Any:
    """A field read from a nested path of the API's object (``default=...``: required)."""
    return Field(default, validation_alias=AliasPath(*path))


def _or(empty: Any) -> BeforeValidator:
    """``null`` (and GitHub's ``""`` for "none") → ``empty``."""
    return BeforeValidator(lambda value: value or empty)


def _pick(*keys: str) -> BeforeValidator:
    """Objects → the first non-empty of ``keys`` of each; strings (the stored form) are kept."""

    def pick(values: Any) -> list[str]:
        picked = []
        for value in values or []:
            if isinstance(value, dict):
                value = next((value[k] for k in keys if value.get(k)), None)
            if isinstance(value, str) and value:
                picked.append(value)
        return picked

    return BeforeValidator(pick)


Strings = Annotated[list[str], _pick()]
Logins = Annotated[list[str], _pick("login")]
Names = Annotated[list[str], _pick("name")]
Count = Annotated[int, _or(0)]
Flag = Annotated[bool, BeforeValidator(bool)]
_COUNTS = {"stargazers_count", "watchers_count", "forks_count", "open_issues_count", "size"}
RepositoryId = Annotated[int, Field(validation_alias=AliasPath(REPOSITORY_KEY, "id"))]
RepositoryName = Annotated[str, Field(validation_alias=AliasPath(REPOSITORY_KEY, "full_name"))]
# What the API sends (an object or null) is present or not; the stored form is the flag.
Present = Annotated[bool, BeforeValidator(lambda v: v if isinstance(v, bool) else v is not None)]


class GitHubRepository(Entity):
    """A repository the user owns, collaborates on, or can see as an organization member.

    Star, watcher and fork counts, size and ``updated_at`` (which GitHub bumps on every star) are
    volatile: a change in them alone does not rewrite the record.
    """

    entity_type: ClassVar[str] = "repositories"
    link_field: ClassVar[str | None] = "html_url"
    natural_key: ClassVar[tuple[str, ...]] = ("id",)
    volatile_fields: ClassVar[frozenset[str]] = frozenset({*_COUNTS, "updated_at"})

    id: int
    node_id: str
    name: str
    full_name: str
    owner_login: str = _at("owner", "login", default=...)
    owner_id: int = _at("owner", "id", default=...)
    owner_type: str | None = _at("owner", "type")
    private: bool
    fork: bool
    archived: bool = False
    disabled: bool = False
    is_template: bool = False
    visibility: str | None = None
    description: str | None = None
    homepage: Annotated[str | None, _or(None)] = None
    language: str | None = None
    topics: Strings = []
    default_branch: str | None = None
    has_issues: bool = True
    license_spdx_id: str | None = _at("license", "spdx_id")
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
    link_field: ClassVar[str | None] = "html_url"
    natural_key: ClassVar[tuple[str, ...]] = ("repository_id", "sha")

    repository_id: RepositoryId
    repository_full_name: RepositoryName
    sha: str
    node_id: str | None = None
    message: Annotated[str, _or("")] = _at("commit", "message", default="")
    author_name: str | None = _at("commit", "author", "name")
    author_email: str | None = _at("commit", "author", "email")
    authored_at: datetime | None = _at("commit", "author", "date")
    committer_name: str | None = _at("commit", "committer", "name")
    committer_email: str | None = _at("commit", "committer", "email")
    committed_at: datetime | None = _at("commit", "committer", "date")
    # The GitHub accounts matched to the git identities (null when no account matches).
    author_login: str | None = _at("author", "login")
    author_id: int | None = _at("author", "id")
    committer_login: str | None = _at("committer", "login")
    parents: Annotated[list[str], _pick("sha")] = []
    tree_sha: str | None = _at("commit", "tree", "sha")
    comment_count: Count = _at("commit", "comment_count", default=0)
    verified: bool | None = _at("commit", "verification", "verified")
    verification_reason: str | None = _at("commit", "verification", "reason")
    html_url: str | None = None


class _IssueFields(Entity):
    """What issues and pull requests share (GitHub's pull requests are issues too)."""

    natural_key: ClassVar[tuple[str, ...]] = ("id",)

    id: int
    node_id: str
    number: int
    repository_id: RepositoryId
    repository_full_name: RepositoryName
    title: str
    body: str | None = None
    state: str
    locked: Flag = False
    author_login: str | None = _at("user", "login")
    author_id: int | None = _at("user", "id")
    author_association: str | None = None
    labels: Names = []
    assignees: Logins = []
    milestone_title: str | None = _at("milestone", "title")
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    html_url: str


class GitHubPullRequest(_IssueFields):
    """A pull request (any state).

    ``merged`` is derived from ``merged_at`` when only the list item is known (GitHub sets both
    together). The counts (``commits``, ``additions``, …) and ``mergeable`` exist only in the
    pull request's own resource: they are ``None`` unless the data source fetched it.
    ``mergeable``/``mergeable_state`` are computed by GitHub in the background and flip between
    ``null`` and a value, so they are volatile.
    """

    entity_type: ClassVar[str] = "pull_requests"
    link_field: ClassVar[str | None] = "html_url"
    volatile_fields: ClassVar[frozenset[str]] = frozenset({"mergeable", "mergeable_state"})

    draft: Flag = False
    merged: bool
    merged_at: datetime | None = None
    requested_reviewers: Logins = []
    requested_teams: Annotated[list[str], _pick("slug", "name")] = []
    head_ref: str | None = _at("head", "ref")
    head_sha: str | None = _at("head", "sha")
    # ``repo`` is null when the fork the pull request came from was deleted.
    head_repo_full_name: str | None = _at("head", "repo", "full_name")
    base_ref: str | None = _at("base", "ref")
    base_sha: str | None = _at("base", "sha")
    base_repo_full_name: str | None = _at("base", "repo", "full_name")
    merge_commit_sha: str | None = None
    auto_merge: Present = False
    # Only in the pull request's own resource (GET /repos/{o}/{r}/pulls/{n}).
    merged_by_login: str | None = _at("merged_by", "login")
    mergeable: bool | None = None
    mergeable_state: str | None = None
    comments: int | None = None
    review_comments: int | None = None
    commits: int | None = None
    additions: int | None = None
    deletions: int | None = None
    changed_files: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _merged(cls, data: Any) -> Any:
        # The list item has no ``merged``; GitHub sets merged_at exactly when it merges.
        if isinstance(data, dict) and data.get("merged") is None:
            return {**data, "merged": data.get("merged_at") is not None}
        return data


class GitHubIssue(_IssueFields):
    """An issue (pull requests, which the issues endpoint also returns, are left out)."""

    entity_type: ClassVar[str] = "issues"
    link_field: ClassVar[str | None] = "html_url"

    state_reason: str | None = None
    active_lock_reason: str | None = None
    issue_type: str | None = _at("type", "name")
    comments: Count = 0
    reactions_total: int | None = _at("reactions", "total_count")


def map_issue(item: dict[str, Any]) -> GitHubIssue | None:
    """An issues-endpoint item → :class:`GitHubIssue`; ``None`` for the pull requests it lists."""
    return None if item.get("pull_request") is not None else GitHubIssue.model_validate(item)
