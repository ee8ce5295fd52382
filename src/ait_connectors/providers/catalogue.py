"""The provider catalogue: built-in entries from ``catalogue.toml`` plus runtime registrations.

The data file is read and validated once per process. Vendors defined in code (a sandbox
provider, third-party packages) add their entries with :func:`register_provider`.
"""

from __future__ import annotations

import functools
import logging
import threading
import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

from pydantic import ValidationError

from ait_connectors.errors import ConfigurationError
from ait_connectors.providers.spec import ProviderSpec

__all__ = [
    "CATALOGUE_RESOURCE",
    "get_provider",
    "load_catalogue",
    "parse_catalogue",
    "register_provider",
    "unregister_provider",
]

CATALOGUE_RESOURCE = "catalogue.toml"
_SUPPORTED_SCHEMA_VERSIONS = frozenset({1})

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_registered: dict[str, ProviderSpec] = {}


def parse_catalogue(
    data: Mapping[str, Any], *, source: str = "catalogue"
) -> dict[str, ProviderSpec]:
    """Validate a parsed catalogue document (``{"providers": {slug: {...}}}``) into specs.

    Raises :class:`ConfigurationError` naming the source and the entry when anything is wrong.
    """
    version = data.get("schema_version", 1)
    if version not in _SUPPORTED_SCHEMA_VERSIONS:
        raise ConfigurationError(
            f"{source}: unsupported schema_version {version!r} "
            f"(supported: {sorted(_SUPPORTED_SCHEMA_VERSIONS)})"
        )
    providers = data.get("providers")
    if not isinstance(providers, Mapping):
        raise ConfigurationError(f"{source}: expected a [providers.<slug>] table")
    specs: dict[str, ProviderSpec] = {}
    for slug, entry in providers.items():
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{source}: entry {slug!r} must be a table")
        fields = dict(entry)
        # The table key is the slug; a repeated slug inside the entry must agree with it.
        declared = fields.setdefault("slug", slug)
        if declared != slug:
            raise ConfigurationError(
                f"{source}: entry {slug!r} declares a different slug {declared!r}"
            )
        try:
            specs[slug] = ProviderSpec.model_validate(fields)
        except ValidationError as exc:
            raise ConfigurationError(
                f"{source}: invalid provider entry {slug!r}: {_describe(exc)}",
                {"provider": slug},
            ) from None
    return specs


def _describe(exc: ValidationError) -> str:
    """One line per problem, ``field.path: message``, without echoing input values."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"]) or "<entry>"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


@functools.cache
def _builtin_catalogue() -> dict[str, ProviderSpec]:
    resource = resources.files("ait_connectors.providers").joinpath(CATALOGUE_RESOURCE)
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(
            f"the built-in provider catalogue ({CATALOGUE_RESOURCE}) is missing from the "
            "installed package"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{CATALOGUE_RESOURCE}: not valid TOML: {exc}") from None
    return parse_catalogue(data, source=CATALOGUE_RESOURCE)


def load_catalogue() -> dict[str, ProviderSpec]:
    """All known providers: built-in entries overlaid with runtime registrations.

    The data file is parsed once (cached); each call returns a new dict, safe to modify.
    """
    merged = dict(_builtin_catalogue())
    with _lock:
        merged.update(_registered)
    return merged


def get_provider(slug: str) -> ProviderSpec:
    """The spec of ``slug``; unknown slugs raise :class:`ConfigurationError` listing known ones."""
    catalogue = load_catalogue()
    try:
        return catalogue[slug]
    except KeyError:
        known = ", ".join(sorted(catalogue)) or "(none)"
        raise ConfigurationError(
            f"unknown provider {slug!r}; known providers: {known}", {"provider": slug}
        ) from None


def register_provider(spec: ProviderSpec, *, replace: bool = False) -> None:
    """Add a provider at runtime (sandbox providers, third-party vendor packages, tests).

    Registering a slug again replaces the earlier runtime registration (a warning is logged when
    the spec differs). Shadowing a *built-in* entry needs ``replace=True``, so that a package
    cannot silently change what ``github`` means.
    """
    if not isinstance(spec, ProviderSpec):
        raise ConfigurationError(f"register_provider expects a ProviderSpec, got {type(spec)!r}")
    builtin = _builtin_catalogue()
    if spec.slug in builtin and not replace:
        raise ConfigurationError(
            f"provider {spec.slug!r} is a built-in catalogue entry; pass replace=True to "
            "override it",
            {"provider": spec.slug},
        )
    with _lock:
        previous = _registered.get(spec.slug)
        _registered[spec.slug] = spec
    if previous is not None and previous != spec:
        logger.warning("provider %r re-registered with a different spec", spec.slug)


def unregister_provider(slug: str) -> None:
    """Remove a runtime registration (built-in entries come back if it shadowed one)."""
    with _lock:
        _registered.pop(slug, None)
