"""The conformance-kit declaration of Notion, over its local mock (``notion_mock``).

Optional fields are those Notion's API reference marks nullable: a page's or data source's
``icon``, ``cover`` and ``public_url``, empty property values (``status``, ``date``: ``null``),
and a rich-text run's ``href`` and ``text.link``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from notion_mock import CLIENT_ID, CLIENT_SECRET, NotionMock, rich_text, uid

from ait_connectors.testing import EntityKit, HttpUpstream, Served, Token, VendorKit

LATER = "2030-01-01T00:00:00.000Z"  # newer than every fixture, so incremental scans see it
API = "/api/v1"  # the kit's proxy needs an API prefix the OAuth endpoints (/v1/oauth) lack


@contextmanager
def serve_notion() -> Iterator[Served]:
    mock = NotionMock(prefix=API)
    mock.page_cap = 1  # the small data set then spans several pages (three for a cycle)
    mock.start()

    def connect() -> Token:  # Notion's token response has no expires_in
        refresh = f"nrt_{secrets.token_hex(12)}"
        mock.refresh_tokens.add(refresh)
        return Token(mock.new_token("ntn_"), refresh, None)

    try:
        yield Served(
            HttpUpstream(mock.url),
            mock,
            API,
            "/v1/oauth/token",
            connect,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            overrides={"revoke_url": "/v1/oauth/revoke"},
        )
    finally:
        mock.stop()


def _retitle(mock: NotionMock) -> None:
    page = mock.page("page:roadmap")
    page["properties"]["title"]["title"] = rich_text("Roadmap, retitled by the kit")
    page["last_edited_time"] = LATER


def _edit_block(mock: NotionMock) -> None:
    (intro, *_) = mock.blocks[uid("page:roadmap")]
    intro["paragraph"]["rich_text"] = rich_text("Edited by the kit")
    intro["last_edited_time"] = LATER
    mock.page("page:roadmap")["last_edited_time"] = LATER  # an edit moves the page's time


def _remove_block(mock: NotionMock) -> None:
    mock.blocks[uid("page:notes")].pop(0)
    mock.page("page:notes")["last_edited_time"] = LATER


def _rename_source(mock: NotionMock) -> None:
    mock.data_sources[0]["title"] = rich_text("Renamed by the kit")
    mock.data_sources[0]["last_edited_time"] = LATER


def _pages(mock: NotionMock) -> list[dict[str, Any]]:
    return mock.pages


NOTION = VendorKit(
    vendor="notion",
    serve=serve_notion,
    entities={
        "pages": EntityKit(
            items=_pages,
            change=_retitle,
            remove=lambda m: m.pages.pop(),
            optional=(
                "icon",
                "cover",
                "public_url",
                "properties.Status.status",
                "properties.Due.date",
                "properties.title.title.href",
                "properties.title.title.text.link",
            ),
            pages=r"/search$",
            url_cursors=False,  # an opaque cursor in the body
        ),
        "data_sources": EntityKit(
            items=lambda m: m.data_sources,
            change=_rename_source,
            remove=lambda m: m.data_sources.pop(),
            optional=("icon", "cover", "public_url", "title.href", "description.text.link"),
            pages=r"/search$",
            url_cursors=False,
        ),
        "blocks": EntityKit(
            items=lambda m: m.all_blocks(),
            change=_edit_block,
            remove=_remove_block,
            optional=("paragraph.rich_text.href", "paragraph.rich_text.text.link"),
            pages=r"/blocks/[^/]+/children$",
            url_cursors=False,
        ),
    },
)
