"""The vendor registry: which service (and authenticator) serves which provider.

Every vendor, built-in or third-party, is found the same way: an entry point of the group
``ait_connectors.vendors`` names a :class:`VendorRegistration` (``github =
"ait_connectors.vendors.github:VENDOR"``) or a module defining ``VENDOR``. Adding a vendor
touches no core file. :func:`register_vendor` registers one in code (tests, ``AIT_IMPORT``).
A catalogue entry without a vendor gets :func:`generic_vendor` from :func:`get_vendor`:
connectable through the generic OAuth flow and the proxy, with nothing to sync.

A registration may carry hooks that the gateway and the CLI call for every vendor, so that the
core never names one: ``mount`` adds routes to the gateway, ``prepare`` readies the vendor in a
process that uses it (e.g. creates a zero-setup connector config), ``disabled_reason`` switches
it off for a deployment.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError
from .oauth.authenticator import ConnectorAuthenticator
from .providers import ProviderSpec, load_catalogue, register_provider
from .settings import Settings
from .storage.configs import ConnectorConfig

if TYPE_CHECKING:
    from .inbound.receiver import WebhookReceiver
    from .inbound.subscriptions import Subscriptions
    from .runtime import Connectors
    from .service import ConnectorService

__all__ = [
    "ENTRY_POINT_GROUP",
    "VendorContext",
    "VendorRegistration",
    "generic_vendor",
    "get_vendor",
    "prepare_vendors",
    "register_vendor",
    "registered_vendors",
    "served_config",
    "unregister_vendor",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ait_connectors.vendors"


@dataclass(frozen=True)
class VendorContext:
    """What a vendor hook learns about the process calling it.

    - ``base_url``: where browsers reach the gateway of this deployment.
    - ``serving``: true in a gateway serving at ``base_url`` (false in a CLI command that only
      needs the vendor's config).
    - ``options``: the vendor's options given to ``create_app(vendor_options={slug: {...}})``.
    """

    settings: Settings
    base_url: str
    serving: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose``, derived from the deployment's encryption key."""
        from .crypto import load_cipher

        return load_cipher(self.settings).derive_key(purpose)


Mount = Callable[[Any, VendorContext], Any]
"""``mount(app, context)``: add routes to the gateway's FastAPI ``app``; what it returns is kept
as ``GatewayState.vendor_state[slug]``."""
Prepare = Callable[["Connectors", VendorContext], Awaitable[None]]
"""``prepare(connectors, context)``: ready the vendor in this process (gateway start-up, CLI)."""
DisabledReason = Callable[[Settings], "str | None"]
"""``disabled_reason(settings)``: ``None`` when the vendor is offered, else what turns it on."""


@dataclass(frozen=True)
class VendorRegistration:
    """One vendor: the provider slug (a catalogue entry), its service and optional hooks.

    - ``description``: a line the Connect page shows under the provider.
    - ``browser_paths``: path prefixes of mounted routes that browsers navigate to (their errors
      answer HTML).
    - ``listed_last``: a demo vendor, listed after the real providers.
    - ``provider``: the vendor's own catalogue entry (a third-party provider), registered with
      the vendor; built-in providers are in the catalogue already.
    - ``webhooks``: the vendor's webhook scheme (``POST /api/webhooks/{slug}``), see
      :mod:`ait_connectors.inbound.receiver`.
    - ``subscriptions``: push subscriptions the framework creates itself for a connection
      (Google Calendar watch channels), see :mod:`ait_connectors.inbound.subscriptions`.
    - ``redirect_to_gateway``: the OAuth callback is always the serving gateway's own
      (``{base_url}/api/{slug}/auth/callback``), whatever redirect URI its config stores (a
      provider served by the gateway itself: several gateways must not fight over one URL).
    """

    slug: str
    service_cls: type[ConnectorService[Any]]
    authenticator_cls: type[ConnectorAuthenticator] = ConnectorAuthenticator
    mount: Mount | None = None
    prepare: Prepare | None = None
    disabled_reason: DisabledReason | None = None
    description: str | None = None
    browser_paths: tuple[str, ...] = ()
    listed_last: bool = False
    redirect_to_gateway: bool = False
    provider: ProviderSpec | None = None
    webhooks: WebhookReceiver | None = None
    subscriptions: Subscriptions | None = None
    generic: bool = False  # no vendor package: the generic flow (connect, proxy; no sync)

    @property
    def entity_types(self) -> tuple[str, ...]:
        """The entity types the service declares at class level (no connection is built)."""
        return self.service_cls.entity_type_names()

    def unavailable(self, settings: Settings) -> str | None:
        """Why this deployment does not offer the vendor, or ``None``."""
        return self.disabled_reason(settings) if self.disabled_reason else None

    def served_config(self, config: ConnectorConfig, base_url: str) -> ConnectorConfig:
        """``config`` as the gateway at ``base_url`` uses it (see ``redirect_to_gateway``)."""
        if not self.redirect_to_gateway:
            return config
        callback = f"{base_url.rstrip('/')}/api/{self.slug}/auth/callback"
        return replace(config, redirect_uri=callback)


_registry: dict[str, VendorRegistration] = {}
_failures: dict[str, str] = {}
_discovered = False


def register_vendor(
    slug: str | VendorRegistration,
    service_cls: type[ConnectorService[Any]] | None = None,
    *,
    authenticator_cls: type[ConnectorAuthenticator] = ConnectorAuthenticator,
) -> VendorRegistration:
    """Make ``service_cls`` the service of provider ``slug`` (or register a whole
    :class:`VendorRegistration`); a later registration of the same slug replaces it."""
    if isinstance(slug, VendorRegistration):
        registration = slug
    else:
        if service_cls is None:
            raise TypeError("register_vendor(slug, service_cls) needs the service class")
        registration = VendorRegistration(slug, service_cls, authenticator_cls)
    _add(registration, replace=True)
    return registration


def _add(registration: VendorRegistration, *, replace: bool) -> None:
    if not replace and registration.slug in _registry:
        return
    if registration.provider is not None:
        if registration.provider.slug != registration.slug:
            raise ConfigurationError(
                f"vendor {registration.slug!r} carries the catalogue entry of "
                f"{registration.provider.slug!r}: give both the same slug"
            )
        register_provider(registration.provider)
    _registry[registration.slug] = registration
    _failures.pop(registration.slug, None)


def unregister_vendor(slug: str) -> None:
    """Forget a vendor registered in code (tests)."""
    _registry.pop(slug, None)


def _load(entry: EntryPoint) -> VendorRegistration:
    loaded: Any = entry.load()
    if isinstance(loaded, ModuleType):
        loaded = getattr(loaded, "VENDOR", None)
    if not isinstance(loaded, VendorRegistration):
        raise TypeError(
            f"it names {type(loaded).__name__}, not a VendorRegistration (point it at one, "
            f'e.g. {entry.name} = "your_package:VENDOR")'
        )
    return loaded


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    found = entry_points(group=ENTRY_POINT_GROUP)
    if not any(e.dist is not None and e.dist.name == "ait-connectors" for e in found):
        # The built-ins register here too: metadata without them is an install from before.
        logger.warning(
            "the installed ait-connectors metadata lists no built-in vendor: reinstall it "
            "(`pip install -e .` in a source checkout) so that its entry points are seen"
        )
    for entry in found:
        try:
            registration = _load(entry)
        except Exception as exc:
            # Importing the module may have registered the vendor in code: that one counts.
            if entry.name not in _registry:
                _failures[entry.name] = f"{entry.value}: {type(exc).__name__}: {exc}"
                logger.error(
                    "vendor %r could not be loaded (%s)", entry.name, _failures[entry.name]
                )
            continue
        try:
            _add(registration, replace=False)
        except ConfigurationError as exc:
            _failures[entry.name] = f"{entry.value}: {exc}"
            logger.error("vendor %r could not be registered (%s)", entry.name, exc)


def _discover_one(slug: str) -> None:
    """Load only the entry point named ``slug`` (a GitHub sync needs no other vendor's
    imports); anything else, or a failure, is left to the full discovery."""
    if _discovered or slug in _registry or slug in _failures:
        return
    for entry in entry_points(group=ENTRY_POINT_GROUP, name=slug):
        try:
            registration = _load(entry)
            if registration.slug == slug:
                _add(registration, replace=False)
        except Exception:  # noqa: S112 - the full discovery loads it again and reports why
            continue


def get_vendor(slug: str) -> VendorRegistration:
    """The registration of ``slug``; a clear error when none is installed or it failed to load.

    Only that vendor's entry point is loaded when it provides it; the others are loaded when a
    slug is not found or every vendor is listed (:func:`registered_vendors`).
    """
    _discover_one(slug)
    found = _registry.get(slug)
    if found is not None:
        return found
    _discover()
    found = _registry.get(slug)
    if found is not None:
        return found
    if slug in _failures:
        raise ConfigurationError(
            f"The vendor {slug!r} is installed but failed to load ({_failures[slug]}); "
            "fix or reinstall the package that provides it."
        )
    if slug in load_catalogue():
        return generic_vendor(slug)
    known = ", ".join(sorted(_registry)) or "none"
    raise ConfigurationError(
        f"No connector implementation is registered for provider {slug!r} (registered: "
        f"{known}). Install the package that provides it (in a source checkout, reinstall it "
        f"with `pip install -e .` so that its `{ENTRY_POINT_GROUP}` entry points are seen)."
    )


def generic_vendor(slug: str) -> VendorRegistration:
    """The registration of a catalogue entry no vendor package serves: the generic OAuth flow
    (connect, refresh, revoke, the proxy) with the base service, which declares no entity
    types, so nothing is synced."""
    from .service import ConnectorService  # the service layer builds on this module

    return VendorRegistration(slug, ConnectorService, generic=True)


def served_config(config: ConnectorConfig, base_url: str) -> ConnectorConfig:
    """``config`` as the gateway at ``base_url`` uses it (its vendor's
    :meth:`VendorRegistration.served_config`; unchanged without a registered vendor)."""
    vendor = registered_vendors().get(config.provider)
    return vendor.served_config(config, base_url) if vendor is not None else config


async def prepare_vendors(connectors: Connectors, context: VendorContext) -> None:
    """Call the ``prepare`` hook of every vendor the deployment offers."""
    for vendor in registered_vendors().values():
        if vendor.prepare is not None and vendor.unavailable(context.settings) is None:
            await vendor.prepare(connectors, context)


def loaded_vendor(slug: str) -> VendorRegistration | None:
    """The registration of ``slug`` if it is loaded already (nothing is discovered or imported:
    the metrics label vendors on every request)."""
    return _registry.get(slug)


@functools.cache
def installed_vendor_slugs() -> frozenset[str]:
    """The slugs of the installed vendors' entry points (read once; no vendor module is
    imported)."""
    return frozenset(e.name for e in entry_points(group=ENTRY_POINT_GROUP))


def registered_vendors() -> dict[str, VendorRegistration]:
    """Every vendor that loaded, by slug (one that failed is logged and left out)."""
    _discover()
    return dict(_registry)
