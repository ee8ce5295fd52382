"""``ConnectorXService``: X's entity types.

================ ================================== ===================== =========== ========
entity type      source                             incremental           deletions   cap
================ ================================== ===================== =========== ========
``posts``        ``GET /2/users/:id/tweets``        ``since_id`` = newest never       3,200
``liked_posts``  ``GET /2/users/:id/liked_tweets``  full scan each run    swept
``bookmarks``    ``GET /2/users/:id/bookmarks``     full scan each run    swept       800
``following``    ``GET /2/users/:id/following``     full scan each run    swept
================ ================================== ===================== =========== ========

Only the timeline offers ``since_id``; the other lists are read whole (unchanged pages cost no
writes) and what vanished from them (an unlike, a removed bookmark, an unfollow) is swept. Each
run also reads ``GET /2/users/me`` once for the user's id.
"""

from __future__ import annotations

from typing import Any

import httpx

from ...vendor import ConnectorService, EntityType, Incremental
from .data_source import XDataSource
from .entities import XBookmark, XEntity, XFollowedAccount, XLikedPost, XPost

__all__ = ["ConnectorXService"]


def _x(model: type[XEntity], page: str, **options: Any) -> EntityType:
    return EntityType(model, page=page, mapper=model.from_api, batch_size=100, **options)


class ConnectorXService(ConnectorService[XDataSource]):
    """The user's posts, liked posts, bookmarks and followed accounts on X.

    X limits each endpoint per user over 15-minute windows and says when the window resets
    (``x-rate-limit-reset``, Unix seconds): a 429 waits until then, or stops the run with its
    state saved when that is too far away.
    """

    # A post scan after the first asks only for what is newer than the newest id it saw: it
    # cannot see deletions, so none is swept.
    posts = _x(XPost, "posts_page", incremental=Incremental(), detect_deletions=False)
    liked_posts = _x(XLikedPost, "liked_posts_page")
    bookmarks = _x(XBookmark, "bookmarks_page")
    following = _x(XFollowedAccount, "following_page")

    def create_data_source(self, client: httpx.AsyncClient) -> XDataSource:
        """An :class:`XDataSource` on the connection's authorised client."""
        return XDataSource(client, self.connector.provider)
