"""``ConnectorNotionService``: Notion's entity types.

================ ======================================== ============================ =========
entity type      source                                   incremental                  deletions
================ ======================================== ============================ =========
``pages``        ``POST /search`` (pages, newest edit 1st) stop below ``last_edited_time`` never
``data_sources`` ``POST /search`` (data sources)           full scan each run           swept
``blocks``       ``GET /blocks/{id}/children`` per page    pages whose edit time moved  never
================ ======================================== ============================ =========

Page content is a walk over every page the integration sees: a page whose ``last_edited_time``
did not move since its last walk costs no request; one that did is read again, its blocks with
children followed down to ``block_depth`` levels.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from ait_connectors.vendor import ChildWalk, ConnectorService, EntityType, Incremental

from .data_source import NotionAPI
from .entities import NotionBlock, NotionDataSource, NotionPage

__all__ = ["BLOCKS", "ConnectorNotionService"]


def _edited(page: dict[str, Any]) -> Any:
    # Editing a page's content moves its last_edited_time: unchanged pages are not read.
    return page.get("last_edited_time")


#: Each page's blocks; a page deleted or unshared since it was listed (404), or one the
#: integration may not read (403 restricted_resource), is skipped with a warning.
BLOCKS = ChildWalk(
    "list_pages", "blocks_page", version=_edited, skip_statuses=frozenset({403, 404})
)


class ConnectorNotionService(ConnectorService[NotionAPI]):
    """Notion pages, data sources and page content of one connection. Class attributes tune
    it: ``block_depth`` (how many levels of nested blocks are read; 1 = first level only)."""

    # Notion's documented average is 3 requests per second per connection (bursts allowed);
    # its 429/529 answers say how long to wait (Retry-After), and the engine waits.
    requests_per_second: ClassVar[float | None] = 3.0
    burst: ClassVar[int] = 3
    block_depth: ClassVar[int] = 3

    pages = EntityType(
        NotionPage,
        page="pages_page",
        incremental=Incremental(field="last_edited_time"),
        detect_deletions=False,
        batch_size=100,
    )
    data_sources = EntityType(NotionDataSource, page="data_sources_page", batch_size=100)
    blocks = EntityType(
        NotionBlock, walk=BLOCKS, incremental=Incremental(), detect_deletions=False, batch_size=500
    )

    def create_data_source(self, client: httpx.AsyncClient) -> NotionAPI:
        """A :class:`NotionAPI` on the connection's authorised client."""
        return NotionAPI(client, self.connector.provider, block_depth=self.block_depth)
