"""Label values of the metrics: closed sets, or names the deployment registered.

Nothing a user or a vendor sends becomes a label as it is: a provider slug that is neither a
registered vendor nor a catalogue entry is ``other``; an entity type its vendor does not declare
is ``other``. So the number of series is bounded by the code and the catalogue, whatever the
number of users, connections or requests.
"""

from __future__ import annotations

import functools
from typing import Final

__all__ = [
    "OTHER",
    "REFRESH_OUTCOMES",
    "WAIT_SOURCES",
    "WEBHOOK_OUTCOMES",
    "entity_label",
    "forget_labels",
    "status_class",
    "vendor_label",
]

OTHER: Final = "other"

#: How one refresh decision ended (``connector.py``).
REFRESH_OUTCOMES: Final = frozenset(
    {"refreshed", "already_refreshed", "refused", "no_refresh_token", "error"}
)
#: What a provider webhook request came to: the values of ``inbound.store.Outcome``, which the
#: pipeline counts in the database and reports here (a test keeps the two equal).
WEBHOOK_OUTCOMES: Final = frozenset(
    {"accepted", "duplicate", "unrouted", "ignored", "rejected", "handshake", "hook_failed"}
)
#: Who made a request wait: the vendor's own reset time, the header budget, the client limiter.
WAIT_SOURCES: Final = frozenset({"vendor_reset", "budget", "limiter"})


_MAX_CACHED = 1000
_vendors: dict[str, str] = {}
_entity_types: dict[tuple[str, str], str] = {}


@functools.cache
def _static_known() -> frozenset[str]:
    # Imported here: the registry sits above the HTTP helpers that report to the metrics.
    from ..providers.catalogue import load_catalogue
    from ..registry import installed_vendor_slugs

    return frozenset(load_catalogue()) | installed_vendor_slugs()


def _known(slug: str) -> bool:
    """A catalogue provider or installed vendor (read once), or a vendor registered in code."""
    from ..registry import loaded_vendor

    return slug in _static_known() or loaded_vendor(slug) is not None


def vendor_label(slug: str) -> str:
    """``slug`` when it names a catalogue provider or an installed vendor, else ``other``
    (decided once per slug; no vendor is imported to decide)."""
    label = _vendors.get(slug)
    if label is None:
        label = slug if _known(slug) else OTHER
        if len(_vendors) < _MAX_CACHED:
            _vendors[slug] = label
    return label


def entity_label(vendor: str, entity_type: str) -> str:
    """``entity_type`` when ``vendor`` (loaded) declares it, else ``other``."""
    label = _entity_types.get((vendor, entity_type))
    if label is not None:
        return label
    from ..registry import loaded_vendor

    registration = loaded_vendor(vendor)
    if registration is None:
        return OTHER  # not cached: the vendor may load later
    try:
        declared = entity_type in registration.entity_types
    except Exception:  # a service that cannot say: its types are all "other"
        declared = False
    label = entity_type if declared else OTHER
    if len(_entity_types) < _MAX_CACHED:
        _entity_types[(vendor, entity_type)] = label
    return label


def status_class(status: int) -> str:
    """``2xx`` … ``5xx`` (anything outside 100-599 is ``other``)."""
    return f"{status // 100}xx" if 100 <= status < 600 else OTHER


def forget_labels() -> None:
    """Read the registered vendors again (tests register and unregister vendors)."""
    _static_known.cache_clear()
    _vendors.clear()
    _entity_types.clear()
