"""kit_vendor's conformance declaration (what ``conformance_suite`` needs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ait_connectors.testing import EntityKit, HttpUpstream, Served, Token, VendorKit

from .mock import NotesMock


@contextmanager
def serve() -> Iterator[Served]:
    mock = NotesMock().start()
    try:
        yield Served(
            HttpUpstream(mock.url), mock, "/api", "/oauth/token", lambda: Token(*mock.connect())
        )
    finally:
        mock.stop()


KIT = VendorKit(
    vendor="kitnotes",
    serve=serve,
    entities={
        "notes": EntityKit(
            items=lambda m: m.notes,
            change=lambda m: m.notes[0].update(title="Renamed"),
            remove=lambda m: m.notes.pop(),
            optional=("body", "tags"),
            url_cursors=False,  # an opaque cursor in the body
        )
    },
)
