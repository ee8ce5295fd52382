"""What a vendor tells the conformance kit: how to serve its recorded responses, and per entity
type how to change and remove one record.

::

    KIT = VendorKit(
        vendor="acme",                              # the provider slug (found by entry point)
        serve=serve_acme,                           # -> context manager yielding a Served
        entities={
            "widgets": EntityKit(
                items=lambda mock: mock.widgets,    # the live raw items the source holds
                change=lambda mock: mock.widgets[0].update(name="renamed"),
                remove=lambda mock: mock.widgets.pop(),
                optional=("description", "owner.email"),
            ),
        },
    )
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from .proxy import Upstream

__all__ = ["EntityKit", "Served", "Token", "VendorKit"]


@dataclass(frozen=True)
class Token:
    """A token pair the served mock accepts (the refresh token must be refreshable);
    ``metadata`` is stored with it (e.g. Stripe's ``stripe_user_id``)."""

    access: str
    refresh: str | None = None
    expires_in: float | None = 3600.0
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Served:
    """A running mock of the vendor, with a fresh mutable dataset.

    - ``upstream``: where the kit's proxy forwards (``HttpUpstream(mock.url)``,
      ``AsgiUpstream(app)``).
    - ``data``: the mutable dataset, handed to the :class:`EntityKit` callables.
    - ``api_path`` / ``token_path``: the paths of the API base URL and of the token endpoint.
    - ``connect()``: a fresh refreshable :class:`Token` (may be async).
    - ``overrides``: further connector-config URLs, as paths (``{"revoke_url": "/revoke"}``).
    - ``page_size``: query parameters to cap (a mock that honours any page size the client asks).
    """

    upstream: Upstream
    data: Any
    api_path: str
    token_path: str
    connect: Callable[[], Token | Awaitable[Token]]
    client_id: str = "kit-client-id"
    client_secret: str = "kit-client-secret"
    overrides: Mapping[str, str] = field(default_factory=dict)
    page_size: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class EntityKit:
    """One entity type as the kit exercises it.

    - ``items(data)``: the raw items the source serves for this type now (live objects: the
      kit blanks optional fields in them).
    - ``change(data)``: change one record so that the next sync writes exactly one row (an
      incremental type must also make it newer than its watermark).
    - ``remove(data)``: remove one record at the source.
    - ``optional``: dotted paths in an item that the vendor's documentation marks optional.
    - ``pages``: a regex matching the API paths of this type's own pages (needed for walks,
      whose parent listings are not this type's pages); default: every API request.
    - ``url_cursors``: next links are URLs (false: opaque cursors, no origin to check).
    """

    items: Callable[[Any], list[dict[str, Any]]]
    change: Callable[[Any], object]
    remove: Callable[[Any], object]
    optional: tuple[str, ...] = ()
    pages: str | None = None
    url_cursors: bool = True


@dataclass(frozen=True)
class VendorKit:
    """A vendor's conformance declaration: pass it to :func:`conformance_suite`.

    ``refreshes``: a 401 is answered with one refresh and one retry (false: the vendor's API
    calls do not carry a refreshable token, e.g. Stripe's platform key + ``Stripe-Account``;
    then a 401 must ask for a reconnect at once, with no token request).
    """

    vendor: str
    serve: Callable[[], AbstractContextManager[Served]]
    entities: Mapping[str, EntityKit]
    refreshes: bool = True

    def __post_init__(self) -> None:
        if not self.entities:
            raise ValueError(f"VendorKit({self.vendor!r}) declares no entity type")
