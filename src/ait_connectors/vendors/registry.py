"""Kept for imports written before the registry moved into the core: see
:mod:`ait_connectors.registry` (vendors import it through :mod:`ait_connectors.vendor`)."""

from ..registry import (
    ENTRY_POINT_GROUP,
    VendorContext,
    VendorRegistration,
    get_vendor,
    register_vendor,
    registered_vendors,
    unregister_vendor,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "VendorContext",
    "VendorRegistration",
    "get_vendor",
    "register_vendor",
    "registered_vendors",
    "unregister_vendor",
]
