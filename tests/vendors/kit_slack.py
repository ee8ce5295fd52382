"""The conformance-kit declaration of Slack, over its local mock (``slack_mock``).

Optional fields are those Slack's method references and object types leave out of objects that
do not have them (a DM has no name, topic or purpose; a message without thread, edit, files or
reactions has no such keys; profile fields "may not be present at all, may be null or may
contain an empty string"). The mock runs with token rotation: tokens expire and each refresh
replaces the refresh token, so the kit's refresh checks cover Slack's rotation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_mock import SlackMock

from ait_connectors.testing import EntityKit, HttpUpstream, Served, Token, VendorKit

LATER_TS = "1893456000.000100"  # 2030: newer than every walk's mark


@contextmanager
def serve_slack() -> Iterator[Served]:
    mock = SlackMock()
    mock.rotation = True
    mock.start()

    def connect() -> Token:
        access, refresh = mock.token_pair()
        return Token(access, refresh, 43200)

    try:
        # OAuth under another prefix than the Web API, so the kit tells token requests apart.
        yield Served(
            HttpUpstream(mock.url),
            mock,
            "/api",
            "/oauth/oauth.v2.access",
            connect,
            page_size={"limit": 2},
        )
    finally:
        mock.stop()


def _messages(mock: SlackMock) -> list[dict[str, Any]]:
    listed = {c["id"] for c in mock.channels}
    return [m for channel, items in mock.messages.items() if channel in listed for m in items]


SLACK = VendorKit(
    vendor="slack",
    serve=serve_slack,
    entities={
        "users": EntityKit(
            items=lambda m: m.users,
            change=lambda m: m.users[0]["profile"].update(title="Changed by the kit"),
            remove=lambda m: m.users.pop(),
            optional=(
                "real_name",
                "tz",
                "team_id",
                "updated",
                "is_admin",
                "is_bot",
                "profile.display_name",
                "profile.title",
                "profile.email",
                "profile.image_72",
            ),
            url_cursors=False,  # an opaque cursor in the body
        ),
        "channels": EntityKit(
            items=lambda m: m.channels,
            change=lambda m: m.channels[1]["purpose"].update(value="Changed by the kit"),
            remove=lambda m: m.channels.pop(),
            optional=("name", "topic", "purpose", "creator", "is_archived", "is_private", "user"),
            url_cursors=False,
        ),
        "messages": EntityKit(
            items=_messages,
            change=lambda m: m.post("C0ENGINE02", LATER_TS, "Posted by the kit"),
            remove=lambda m: m.messages["G0MPDM0006"].pop(),
            optional=(
                "user",
                "text",
                "subtype",
                "bot_id",
                "edited",
                "files",
                "reactions",
                "attachments",
                "blocks",
                "team",
                "reply_users",
                "latest_reply",
            ),
            pages=r"/conversations\.(history|replies)$",
            url_cursors=False,
        ),
    },
)
