"""Stop a scan whose vendor keeps handing back a page it already served."""

from __future__ import annotations

from ..entities import canonical_json
from ..errors import VendorResponseError
from ..pagination import Cursor

__all__ = ["CycleGuard"]


class CycleGuard:
    """Remembers the cursor of the last request of a scan."""

    def __init__(self, provider: str, entity_type: str, first: Cursor) -> None:
        self.provider = provider
        self.entity_type = entity_type
        self._previous: str | None = None

    def check(self, next_cursor: Cursor) -> None:
        encoded = canonical_json(next_cursor)  # must be JSON: fail early
        if encoded == self._previous:
            raise VendorResponseError(
                "VENDOR_PAGINATION_LOOP",
                f"{self.provider}: the next page of {self.entity_type} is the "
                f"page just fetched ({encoded[:200]})",
            )
        self._previous = encoded
