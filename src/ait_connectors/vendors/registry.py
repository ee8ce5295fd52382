"""The vendor registry: which service (and authenticator) serves which provider.

Built-in vendors register on import; third-party packages register through the entry-point group
``ait_connectors.vendors``, whose entries point at a module (imported for its side effect) or at a
``VendorRegistration``.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..oauth.authenticator import ConnectorAuthenticator

if TYPE_CHECKING:
    from ..service import ConnectorService

__all__ = ["VendorRegistration", "get_vendor", "register_vendor", "registered_vendors"]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ait_connectors.vendors"
BUILT_IN = ("github", "spotify", "sandbox")


@dataclass(frozen=True)
class VendorRegistration:
    slug: str
    service_cls: type[ConnectorService[Any]]
    authenticator_cls: type[ConnectorAuthenticator] = ConnectorAuthenticator


_registry: dict[str, VendorRegistration] = {}
_discovered = False


def register_vendor(
    slug: str,
    service_cls: type[ConnectorService[Any]],
    *,
    authenticator_cls: type[ConnectorAuthenticator] = ConnectorAuthenticator,
) -> VendorRegistration:
    """Make ``service_cls`` the service of provider ``slug`` (a catalogue entry)."""
    registration = VendorRegistration(slug, service_cls, authenticator_cls)
    _registry[slug] = registration
    return registration


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for name in BUILT_IN:
        try:
            importlib.import_module(f"ait_connectors.vendors.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"ait_connectors.vendors.{name}":
                raise
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded: Any = entry.load()
        except Exception:
            logger.exception("could not load vendor entry point %s", entry.name)
            continue
        if isinstance(loaded, VendorRegistration):
            _registry[loaded.slug] = loaded


def get_vendor(slug: str) -> VendorRegistration:
    _discover()
    try:
        return _registry[slug]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise ConfigurationError(
            f"No connector implementation is registered for provider {slug!r} (registered: "
            f"{known}). Install the package that provides it."
        ) from None


def registered_vendors() -> dict[str, VendorRegistration]:
    _discover()
    return dict(_registry)
