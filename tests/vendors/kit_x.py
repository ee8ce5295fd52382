"""The conformance-kit declaration of X, over its local mock (``x_mock``).

Optional fields: X sends only ``id`` and ``text`` (and ``edit_history_tweet_ids``) of a post, and
``id``, ``name``, ``username`` of a user, unless more are asked for, and leaves out what a post
does not have (no media, no place, not a reply): every other field is exercised as absent. The
mock rotates refresh tokens like X, so the kit's refresh checks cover the rotation. Pages are
capped at 5 (the smallest ``max_results`` the timeline accepts) so the fixtures span 3 pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from x_mock import XMock

from ait_connectors.testing import EntityKit, HttpUpstream, Served, Token, VendorKit

POST_OPTIONAL = (
    "created_at",
    "author_id",
    "conversation_id",
    "in_reply_to_user_id",
    "lang",
    "possibly_sensitive",
    "reply_settings",
    "public_metrics",
    "entities",
    "attachments",
    "referenced_tweets",
    "geo",
)
USER_OPTIONAL = (
    "created_at",
    "description",
    "location",
    "url",
    "protected",
    "verified",
    "verified_type",
    "profile_image_url",
    "pinned_tweet_id",
    "public_metrics",
)


@contextmanager
def serve_x() -> Iterator[Served]:
    mock = XMock()
    mock.start()

    def connect() -> Token:
        access, refresh = mock.token_pair()
        return Token(access, refresh, 7200)

    try:
        # OAuth under another prefix than the API (/2), so the kit tells token requests apart.
        yield Served(
            HttpUpstream(mock.url),
            mock,
            "/2",
            "/oauth/2/oauth2/token",
            connect,
            overrides={"revoke_url": "/oauth/2/oauth2/revoke"},
            page_size={"max_results": 5},
        )
    finally:
        mock.stop()


def _posts(pages: str, items: str, optional: tuple[str, ...] = POST_OPTIONAL) -> EntityKit:
    def change(m: XMock) -> None:
        getattr(m, items)[0]["text"] = "Edited by the kit"

    return EntityKit(
        items=lambda m: getattr(m, items),
        change=change,
        remove=lambda m: getattr(m, items).pop(),
        optional=optional,
        pages=rf"/users/[^/]+/{pages}$",
        url_cursors=False,  # an opaque pagination_token
    )


X = VendorKit(
    vendor="x",
    serve=serve_x,
    entities={
        # Incremental (since_id): a change is a new post, newer than the watermark.
        "posts": EntityKit(
            items=lambda m: m.posts,
            change=lambda m: m.new_post(),
            remove=lambda m: m.posts.pop(),
            optional=POST_OPTIONAL,
            pages=r"/users/[^/]+/tweets$",
            url_cursors=False,
        ),
        "liked_posts": _posts("liked_tweets", "liked"),
        "bookmarks": _posts("bookmarks", "bookmarked"),
        "following": EntityKit(
            items=lambda m: m.following,
            change=lambda m: m.following[0].update(description="Changed by the kit"),
            remove=lambda m: m.following.pop(),
            optional=USER_OPTIONAL,
            pages=r"/users/[^/]+/following$",
            url_cursors=False,
        ),
    },
)
