"""The one list of providers that the CLI, ``GET /api/providers``, the Connect page and the
README agree on: every catalogue entry, whether a connector (vendor) is installed for it, whether
this deployment offers it, whether it has a config, and how to add one."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .providers import load_catalogue
from .registry import registered_vendors
from .settings import Settings

if TYPE_CHECKING:
    from .runtime import Connectors

__all__ = [
    "ProviderEntry",
    "matches",
    "offered_providers",
    "provider_entries",
    "unknown_provider_message",
]


@dataclass(frozen=True)
class ProviderEntry:
    """One catalogue provider as this deployment sees it.

    - ``category``: the catalogue's category (``identity``, ``crm``…), ``None`` for a spec
      registered in code without one.
    - ``connector``: a vendor package is installed: it connects and syncs (``entity_types``).
    - ``generic``: no vendor package: the generic flow connects it (OAuth, refresh, revoke, the
      proxy), and nothing is synced (``entity_types`` empty).
    - ``demo``: served by the gateway itself (the sandbox), listed last.
    - ``unavailable``: why this deployment does not offer it (a setting), or ``None``.
    - ``configured``: an enabled connector config exists (only :func:`offered_providers` knows).
    - ``how_to_add``: what to do when it is not configured and could be.
    """

    slug: str
    name: str
    category: str | None
    connector: bool
    generic: bool
    entity_types: tuple[str, ...]
    demo: bool
    unavailable: str | None
    configured: bool
    how_to_add: str | None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "entity_types": list(self.entity_types)}


def _how_to_add(slug: str, demo: bool, configured: bool) -> str | None:
    if configured or demo:
        return None
    return (
        f"Register an OAuth app with the provider, then run `ait-connectors configs add {slug} "
        "--client-id … --client-secret-stdin` (or POST /api/configs)."
    )


def matches(entry: ProviderEntry, category: str | None, query: str | None) -> bool:
    """The ``GET /api/providers`` filter: the category, and a case-insensitive substring of
    the name, slug or category."""
    if category and entry.category != category:
        return False
    if not query:
        return True
    needle = query.strip().lower()
    return any(needle in (text or "").lower() for text in (entry.name, entry.slug, entry.category))


def provider_entries(
    settings: Settings, configured: frozenset[str] = frozenset()
) -> list[ProviderEntry]:
    """Every catalogue provider: those with a connector first, demo ones next, then the rest."""
    vendors = registered_vendors()  # loading them may add their catalogue entries
    entries = []
    for slug, spec in load_catalogue().items():
        vendor = vendors.get(slug)
        demo = vendor is not None and vendor.listed_last
        entries.append(
            ProviderEntry(
                slug=slug,
                name=spec.name,
                category=spec.category,
                connector=vendor is not None,
                generic=vendor is None,
                entity_types=vendor.entity_types if vendor is not None else (),
                demo=demo,
                unavailable=vendor.unavailable(settings) if vendor is not None else None,
                configured=slug in configured,
                how_to_add=_how_to_add(slug, demo, slug in configured),
            )
        )
    return sorted(entries, key=lambda e: (not e.connector, e.demo, e.name.lower()))


async def offered_providers(connectors: Connectors) -> list[ProviderEntry]:
    """:func:`provider_entries` with ``configured`` read from the database (enabled configs)."""
    configured = frozenset(c.provider for c in await connectors.configs.list() if c.enabled)
    return provider_entries(connectors.settings, configured)


def unknown_provider_message(slug: str, settings: Settings) -> str:
    """The error for a provider slug the catalogue does not know, with the list."""
    entries = provider_entries(settings)
    usable = ", ".join(e.slug for e in entries if e.connector)
    catalogue_only = ", ".join(e.slug for e in entries if not e.connector)
    message = f"Unknown provider {slug!r}. Providers with a connector: {usable}."
    if catalogue_only:
        message += f" Connect only (generic OAuth and the proxy, no sync): {catalogue_only}."
    return message
