"""The conformance-kit declaration of the Linear vendor, over its local mock (``linear_mock``).

Optional fields are the ones Linear's GraphQL schema marks nullable (the relations an issue may
lack, dates that are set only in some states, a team's description and icon, a user's avatar).
Every cursor is an opaque GraphQL ``endCursor``: no next link is a URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from linear_mock import CLIENT_ID, CLIENT_SECRET, LinearMock

from ait_connectors.testing import EntityKit, HttpUpstream, Served, Token, VendorKit

LATER = "2030-01-01T00:00:00.000Z"  # newer than every fixture, so incremental scans see it


@contextmanager
def serve_linear() -> Iterator[Served]:
    mock = LinearMock()
    mock.page_cap = 1  # the small fixtures then span several pages
    mock.start()

    def connect() -> Token:
        pair = mock.issue_pair()
        return Token(pair["access_token"], pair["refresh_token"], pair["expires_in"])

    try:
        yield Served(
            HttpUpstream(mock.url),
            mock,
            mock.prefix,
            "/oauth/token",
            connect,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            overrides={"revoke_url": "/oauth/revoke"},
        )
    finally:
        mock.stop()


def _touch(items: list[dict[str, object]], **changes: object) -> None:
    items[0].update(changes, updatedAt=LATER)


def _entity(name: str, change: dict[str, object], optional: tuple[str, ...]) -> EntityKit:
    incremental = name in ("issues", "comments", "projects")
    return EntityKit(
        items=lambda m: m.data[name],
        change=lambda m: (
            _touch(m.data[name], **change) if incremental else m.data[name][0].update(change)
        ),
        remove=lambda m: m.data[name].pop(),
        optional=optional,
        url_cursors=False,
    )


LINEAR = VendorKit(
    vendor="linear",
    serve=serve_linear,
    entities={
        "issues": _entity(
            "issues",
            {"title": "Retitled by the kit"},
            (
                "description",
                "estimate",
                "assignee",
                "creator",
                "project",
                "cycle",
                "cycle.name",
                "parent",
                "startedAt",
                "completedAt",
                "canceledAt",
                "archivedAt",
                "dueDate",
                "trashed",
            ),
        ),
        "comments": _entity(
            "comments",
            {"body": "Edited by the kit"},
            ("issue", "user", "parent", "editedAt", "archivedAt", "resolvedAt"),
        ),
        "projects": _entity(
            "projects",
            {"name": "Renamed by the kit"},
            (
                "lead",
                "startDate",
                "targetDate",
                "startedAt",
                "completedAt",
                "canceledAt",
                "archivedAt",
            ),
        ),
        "teams": _entity(
            "teams", {"name": "Renamed by the kit"}, ("description", "icon", "color", "archivedAt")
        ),
        "users": _entity(
            "users", {"name": "Renamed by the kit"}, ("avatarUrl", "timezone", "archivedAt")
        ),
    },
)
