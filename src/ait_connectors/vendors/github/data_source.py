"""``GitHubDataSource``: the GitHub REST API client the sync engine pulls pages from.

Requests go through the connection's ``httpx.AsyncClient`` (base URL from the connector config or
the catalogue, so GitHub Enterprise Server's ``https://HOST/api/v3`` works unchanged; bearer token
with one refresh-and-retry on a 401) and through the core request helpers (timeouts, retries of
5xx and network errors, GitHub's primary and secondary rate limits → ``RateLimitError`` with the
reset time from ``retry-after`` / ``x-ratelimit-reset``).

Repositories are one ``Link``-paginated list. Commits, pull requests and issues are *per
repository walks*: the repositories are listed once per run and walked in ascending id order, so
that the cursor ``{"repo": id, "page": …}`` means the same thing after a restart even when the API
lists repositories in another order (new repositories have larger ids and come last). The
watermark is one mark per repository (when its last walk started, and its ``pushed_at`` then), so
a repository seen for the first time gets its full history while known ones are read with
``since``. A repository that answers 403/404/409/410/451 (no access, empty, disabled, blocked) is
skipped with a warning; it never aborts the walk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx

from ...concurrency import gather
from ...errors import VendorResponseError
from ...http import ProviderInfo, parse_json, send
from ...pagination import (
    LinkHeaderPaginator,
    Page,
    PageRequest,
    fetch_page,
    relative_next_url,
)
from .entities import REPOSITORY_KEY

__all__ = [
    "REPOSITORY_SKIP_STATUSES",
    "GitHubDataSource",
    "RepositoryRef",
    "WalkKind",
]

logger = logging.getLogger(__name__)

WalkKind = Literal["commits", "pull_requests", "issues"]

PER_PAGE = 100  # GitHub's maximum
#: A repository answering one of these is skipped (with a warning), not the whole walk:
#: 301/307 moved (renamed or transferred mid-sync), 403 no access (a 403 that is a rate limit
#: never gets here), 404 gone or invisible, 409 empty repository, 410 issues disabled,
#: 451 blocked for legal reasons.
REPOSITORY_SKIP_STATUSES = frozenset({301, 302, 307, 308, 403, 404, 409, 410, 451})
_LINKS = LinkHeaderPaginator()
_WATERMARK_VERSION = 1


@dataclass(frozen=True)
class RepositoryRef:
    """What a per-repository walk needs to know of a repository."""

    id: int
    full_name: str
    pushed_at: str | None
    has_issues: bool

    @property
    def identity(self) -> dict[str, Any]:
        return {"id": self.id, "full_name": self.full_name}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class GitHubDataSource:
    """Async GitHub REST client returning :class:`~ait_connectors.pagination.Page` objects.

    - ``pull_request_details``: fetch each changed pull request's own resource for the fields
      the list lacks (counts, ``mergeable``, ``merged_by``), ``detail_concurrency`` at a time.
    - ``commit_since_overlap``: how far before its last walk a repository's commits are read
      again. Commit dates come from the committer's clock and commits are often pushed hours
      after they were made; ``since`` filters by that date, so a margin is needed.
    - ``update_overlap``: the same for issues and pull requests, whose ``updated_at`` is
      GitHub's own clock (a margin for clock skew only).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        provider: ProviderInfo,
        *,
        pull_request_details: bool = True,
        detail_concurrency: int = 4,
        commit_since_overlap: timedelta = timedelta(days=1),
        update_overlap: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if detail_concurrency < 1:
            raise ValueError("detail_concurrency must be at least 1")
        self.client = client
        self.provider = provider
        self.pull_request_details = pull_request_details
        self.detail_concurrency = detail_concurrency
        self.commit_since_overlap = commit_since_overlap
        self.update_overlap = update_overlap
        self.clock = clock
        self._repositories: list[RepositoryRef] | None = None

    def __repr__(self) -> str:
        return f"GitHubDataSource(base_url={str(self.client.base_url)!r})"

    # -- plumbing --------------------------------------------------------------------------

    async def _page(self, request: PageRequest, cursor: Any) -> Page[Any]:
        page = await fetch_page(self.client, _LINKS, cursor, first=request, provider=self.provider)
        if page.next_cursor is not None:
            url = relative_next_url(
                page.next_cursor["url"], self.client.base_url, provider=self.provider.slug
            )
            page.next_cursor = {**page.next_cursor, "url": url}
        return page

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET`` one resource (no pagination) and parse its JSON body."""
        response = await send(self.client, "GET", path, provider=self.provider, params=params)
        return parse_json(response, self.provider)

    # -- account ---------------------------------------------------------------------------

    async def get_authenticated_user(self) -> dict[str, Any]:
        """``GET /user``: the account the token belongs to."""
        user: dict[str, Any] = await self.get_json("/user")
        return user

    async def get_rate_limit(self) -> dict[str, Any]:
        """``GET /rate_limit`` (does not count against the primary limit)."""
        limits: dict[str, Any] = await self.get_json("/rate_limit")
        return limits

    # -- repositories ----------------------------------------------------------------------

    @staticmethod
    def repositories_request() -> PageRequest:
        # Sorted by creation, oldest first: a repository created during the scan lands on the
        # last page instead of shifting every page (which would hide one repository from this
        # scan and make the sweep mark it deleted). ``updated`` would reshuffle on every push.
        return PageRequest(
            "/user/repos",
            {
                "affiliation": "owner,collaborator,organization_member",
                "sort": "created",
                "direction": "asc",
                "per_page": PER_PAGE,
            },
        )

    async def repositories_page(self, cursor: Any) -> Page[Any]:
        """One page of ``GET /user/repos`` (``Link`` pagination, 100 per page)."""
        return await self._page(self.repositories_request(), cursor)

    async def list_repositories(self) -> list[RepositoryRef]:
        """Every repository of the user, ascending by id; listed once per data source."""
        if self._repositories is None:
            found: dict[int, RepositoryRef] = {}
            cursor: Any = None
            while True:
                page = await self.repositories_page(cursor)
                for item in page.items:
                    found[int(item["id"])] = RepositoryRef(
                        id=int(item["id"]),
                        full_name=str(item["full_name"]),
                        pushed_at=item.get("pushed_at"),
                        has_issues=bool(item.get("has_issues", True)),
                    )
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            self._repositories = sorted(found.values(), key=lambda r: r.id)
        return self._repositories

    # -- per-repository walks --------------------------------------------------------------

    async def commits_page(self, cursor: Any, watermark: Any) -> Page[Any]:
        """Next page of the commits walk (default branch of each repository)."""
        return await self._walk("commits", cursor, watermark)

    async def pull_requests_page(self, cursor: Any, watermark: Any) -> Page[Any]:
        """Next page of the pull requests walk (all states, most recently updated first)."""
        return await self._walk("pull_requests", cursor, watermark)

    async def issues_page(self, cursor: Any, watermark: Any) -> Page[Any]:
        """Next page of the issues walk (pull requests are dropped by the mapper)."""
        return await self._walk("issues", cursor, watermark)

    def _first_request(self, kind: WalkKind, repo: RepositoryRef, since: str | None) -> PageRequest:
        path = f"/repos/{quote(repo.full_name, safe='/')}"
        if kind == "commits":
            params: dict[str, Any] = {"per_page": PER_PAGE}
            if since is not None:
                params["since"] = since
            return PageRequest(f"{path}/commits", params)
        if kind == "issues":
            # Newest-updated first: an issue updated during the scan moves to the top of the
            # list, where this scan has been already, and the next scan's ``since`` finds it.
            # Ascending order would shift the unread pages and silently skip an issue.
            params = {"state": "all", "sort": "updated", "direction": "desc", "per_page": PER_PAGE}
            if since is not None:
                params["since"] = since
            return PageRequest(f"{path}/issues", params)
        # Pull requests have no ``since``: newest-updated first, the walk stops at the mark.
        return PageRequest(
            f"{path}/pulls",
            {"state": "all", "sort": "updated", "direction": "desc", "per_page": PER_PAGE},
        )

    def _since(self, kind: WalkKind, mark: Sequence[Any] | None) -> str | None:
        if not mark:
            return None
        overlap = self.commit_since_overlap if kind == "commits" else self.update_overlap
        return _iso(_parse_time(str(mark[0])) - overlap)

    async def _walk(self, kind: WalkKind, cursor: Any, watermark: Any) -> Page[Any]:
        repos = await self.list_repositories()
        previous = _marks(watermark)
        if cursor is None:
            scan = _iso(self.clock())
            marks: dict[str, list[Any]] = {}
            index, page_cursor = 0, None
        else:
            scan = str(cursor["scan"])
            marks = {str(k): list(v) for k, v in (cursor.get("marks") or {}).items()}
            current = int(cursor["repo"]) if cursor.get("repo") is not None else None
            index = _first_at_or_after(repos, current)
            resumed = index < len(repos) and repos[index].id == current
            # The repository the cursor was in vanished: the next one starts from its first page.
            page_cursor = cursor.get("page") if resumed else None
        warnings: list[str] = []
        while index < len(repos):
            repo = repos[index]
            key = str(repo.id)
            mark = previous.get(key)
            if kind == "issues" and not repo.has_issues:
                # Issues are disabled (the endpoint would answer 410): nothing to read, and no
                # mark either, so that enabling them later brings their whole history.
                index, page_cursor = index + 1, None
                continue
            if (
                kind == "commits"
                and page_cursor is None
                and mark is not None
                and mark[1] is not None
                and mark[1] == repo.pushed_at
            ):
                # Nothing was pushed since the last walk: no new commits, no request needed.
                marks[key] = list(mark)
                index += 1
                continue
            since = self._since(kind, mark)
            try:
                items, next_page = await self._repo_page(kind, repo, page_cursor, since, warnings)
            except VendorResponseError as exc:
                if exc.status_code not in REPOSITORY_SKIP_STATUSES:
                    raise
                message = _skip_message(kind, repo, exc)
                logger.warning("%s", message)
                warnings.append(message)
                # No mark: the next scan reads the repository's whole history again.
                index, page_cursor = index + 1, None
                continue
            if next_page is None:
                marks[key] = [scan, repo.pushed_at]
                index += 1
            if next_page is None and index >= len(repos):
                nxt = None
            else:
                nxt = {
                    "scan": scan,
                    "repo": repo.id if next_page is not None else repos[index].id,
                    "page": next_page,
                    "marks": marks,
                }
            return Page(
                items,
                nxt,
                watermark=_watermark(marks) if nxt is None else None,
                warnings=warnings,
            )
        return Page([], None, watermark=_watermark(marks), warnings=warnings)

    async def _repo_page(
        self,
        kind: WalkKind,
        repo: RepositoryRef,
        page_cursor: Any,
        since: str | None,
        warnings: list[str],
    ) -> tuple[list[dict[str, Any]], Any]:
        """One page of one repository: its items (with the repository attached) and the cursor
        of the repository's next page (``None`` at its end)."""
        page = await self._page(self._first_request(kind, repo, since), page_cursor)
        raw = page.items
        if not isinstance(raw, list):
            raise VendorResponseError(
                "VENDOR_MALFORMED_RESPONSE",
                f"{self.provider.slug}: {kind} of {repo.full_name} is not a list",
            )
        identity = repo.identity
        items = [{**item, REPOSITORY_KEY: identity} for item in raw if isinstance(item, dict)]
        next_page = page.next_cursor
        if kind == "pull_requests":
            if since is not None:
                floor = _parse_time(since)
                kept = [i for i in items if _parse_time(str(i["updated_at"])) >= floor]
                if len(kept) < len(items):
                    # Sorted by update time, newest first: everything after is older still.
                    next_page = None
                items = kept
            if self.pull_request_details and items:
                items = await self._with_details(repo, items, warnings)
        return items, next_page

    async def get_pull_request(self, full_name: str, number: int) -> dict[str, Any]:
        """``GET /repos/{owner}/{repo}/pulls/{number}``: the full pull request resource."""
        detail: dict[str, Any] = await self.get_json(
            f"/repos/{quote(full_name, safe='/')}/pulls/{int(number)}"
        )
        return detail

    async def _with_details(
        self, repo: RepositoryRef, items: list[dict[str, Any]], warnings: list[str]
    ) -> list[dict[str, Any]]:
        """Replace list items by their full resources, ``detail_concurrency`` requests at a time
        (GitHub asks clients not to flood it with concurrent requests: secondary limits)."""
        semaphore = asyncio.Semaphore(self.detail_concurrency)

        async def detail(item: dict[str, Any]) -> dict[str, Any]:
            async with semaphore:
                try:
                    full = await self.get_pull_request(repo.full_name, int(item["number"]))
                except VendorResponseError as exc:
                    if exc.status_code not in REPOSITORY_SKIP_STATUSES:
                        raise
                    message = (
                        f"pull request {repo.full_name}#{item['number']}: its details answered "
                        f"HTTP {exc.status_code}; stored from the list item only"
                    )
                    warnings.append(message)
                    return item
            return {**full, REPOSITORY_KEY: item[REPOSITORY_KEY]}

        return await gather(detail(item) for item in items)


def _first_at_or_after(repos: Sequence[RepositoryRef], repo_id: int | None) -> int:
    if repo_id is None:
        return 0
    for index, repo in enumerate(repos):
        if repo.id >= repo_id:
            return index
    return len(repos)


def _marks(watermark: Any) -> dict[str, list[Any]]:
    if isinstance(watermark, dict) and isinstance(watermark.get("repos"), dict):
        return {str(k): list(v) for k, v in watermark["repos"].items() if isinstance(v, list)}
    return {}


def _watermark(marks: dict[str, list[Any]]) -> dict[str, Any]:
    return {"v": _WATERMARK_VERSION, "repos": marks}


def _skip_message(kind: WalkKind, repo: RepositoryRef, exc: VendorResponseError) -> str:
    status = exc.status_code
    reason = {
        403: "no access",
        404: "not found or no longer visible",
        409: "empty repository",
        410: "disabled",
        451: "blocked for legal reasons",
    }.get(status or 0, "moved (renamed or transferred during the sync)")
    label = kind.replace("_", " ")
    return f"skipped {label} of {repo.full_name}: HTTP {status} ({reason})"
