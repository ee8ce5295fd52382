"""Stop a scan whose vendor hands back a page request it already made in this scan.

A ``Link`` from page 2 back to page 1, or a body cursor that repeats, would otherwise loop
forever with the sync lock held. Each request of the scan is remembered by a digest of its
cursor (32 bytes a page), so any repetition is caught, not only "the page just fetched".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import httpx

from ..entities import canonical_json
from ..errors import VendorResponseError, redact
from ..pagination import Cursor

__all__ = ["CycleGuard", "describe_cursor"]


def describe_cursor(cursor: Cursor) -> str:
    """A short description of a cursor for an error message: the request's path and query
    (no host), token-like values masked."""
    if isinstance(cursor, Mapping) and isinstance(cursor.get("url"), str):
        url = httpx.URL(cursor["url"])
        params = cursor.get("params") or {}
        if isinstance(params, Mapping):
            url = url.copy_merge_params({k: str(v) for k, v in params.items()})
        text = f"{cursor.get('method', 'GET')} {url.raw_path.decode('ascii', 'replace')}"
        if cursor.get("json") is not None:
            text += f" {canonical_json(cursor['json'])}"
    else:
        text = canonical_json(cursor)
    return redact(text, max_length=200)


class CycleGuard:
    """The requests of one scan (from where this run started); fails on a repeated one."""

    def __init__(self, provider: str, entity_type: str, first: Cursor) -> None:
        self.provider = provider
        self.entity_type = entity_type
        self._seen: set[bytes] = {self._digest(first)}

    @staticmethod
    def _digest(cursor: Cursor) -> bytes:
        return hashlib.sha256(canonical_json(cursor).encode()).digest()  # must be JSON

    def check(self, next_cursor: Cursor) -> None:
        """Remember ``next_cursor``; raise ``PAGINATION_CYCLE`` if it was requested before."""
        digest = self._digest(next_cursor)
        if digest in self._seen:
            raise VendorResponseError(
                "PAGINATION_CYCLE",
                f"{self.provider}: the pagination of {self.entity_type} runs in a cycle: the "
                f"next page it links to was already requested in this scan "
                f"({describe_cursor(next_cursor)}); the scan stopped, its saved state is "
                f"kept and no deletions were inferred. This is a vendor-side paging problem; "
                f"report it to the vendor or change the entity's paginator",
            )
        self._seen.add(digest)
