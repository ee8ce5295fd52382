"""The provider catalogue: built-in entries from ``catalogue.toml`` and ``catalogue/*.toml``
plus runtime registrations.

The data file is read and validated once per process. Vendors defined in code (a sandbox
provider, third-party packages) add their entries with :func:`register_provider`.
"""

from __future__ import annotations

import functools
import logging
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from pydantic import ValidationError

from ait_connectors.errors import ConfigurationError
from ait_connectors.providers.entry import CatalogueEntry
from ait_connectors.providers.spec import ProviderSpec

__all__ = [
    "CATALOGUE_FOLDER",
    "CATALOGUE_RESOURCE",
    "Problem",
    "catalogue_files",
    "check_files",
    "get_provider",
    "load_catalogue",
    "parse_catalogue",
    "register_provider",
    "shipped_sources",
    "unregister_provider",
]

CATALOGUE_RESOURCE = "catalogue.toml"
CATALOGUE_FOLDER = "catalogue"  # one more file per category: catalogue/<category>.toml
_SUPPORTED_SCHEMA_VERSIONS = frozenset({1})

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_registered: dict[str, ProviderSpec] = {}


def parse_catalogue(
    data: Mapping[str, Any], *, source: str = "catalogue", strict: bool = False
) -> dict[str, ProviderSpec]:
    """Validate a parsed catalogue document (``{"providers": {slug: {...}}}``) into specs.

    ``strict``: entries are :class:`CatalogueEntry` (category, docs and provenance required,
    HTTPS only), as in the shipped catalogue files. Raises :class:`ConfigurationError` naming
    the source and the entry when anything is wrong.
    """
    specs, problems = _parse(data, source, strict=strict)
    if problems:
        first = problems[0]
        details = "; ".join(p.detail for p in problems if p.slug == first.slug)
        message = Problem(first.source, first.slug, details).message
        raise ConfigurationError(message, {"provider": first.slug} if first.slug else {})
    return specs


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a catalogue file: ``source:slug: detail``."""

    source: str
    slug: str | None
    detail: str

    @property
    def message(self) -> str:
        if self.slug is None:
            return f"{self.source}: {self.detail}"
        return f"{self.source}: invalid provider entry {self.slug!r}: {self.detail}"

    def __str__(self) -> str:
        return f"{self.source}:{self.slug or '-'}: {self.detail}"


def _parse(
    data: Mapping[str, Any], source: str, *, strict: bool
) -> tuple[dict[str, ProviderSpec], list[Problem]]:
    """Every valid entry, and every problem (not only the first)."""
    version = data.get("schema_version", 1 if not strict else None)
    if version not in _SUPPORTED_SCHEMA_VERSIONS:
        detail = f"unsupported schema_version {version!r} (supported: 1)"
        return {}, [Problem(source, None, detail)]
    providers = data.get("providers")
    if not isinstance(providers, Mapping):
        return {}, [Problem(source, None, "expected a [providers.<slug>] table")]
    model = CatalogueEntry if strict else ProviderSpec
    specs: dict[str, ProviderSpec] = {}
    problems: list[Problem] = []
    for slug, entry in providers.items():
        if not isinstance(entry, Mapping):
            problems.append(Problem(source, slug, "the entry must be a table"))
            continue
        fields = dict(entry)
        # The table key is the slug; a repeated slug inside the entry must agree with it.
        declared = fields.setdefault("slug", slug)
        if declared != slug:
            problems.append(Problem(source, slug, f"declares a different slug {declared!r}"))
            continue
        try:
            specs[slug] = model.model_validate(fields)
        except ValidationError as exc:
            problems.extend(Problem(source, slug, detail) for detail in _describe(exc))
    return specs, problems


def _describe(exc: ValidationError) -> list[str]:
    """One line per problem, ``field.path: message``, without echoing input values."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"]) or "<entry>"
        parts.append(f"{location}: {error['msg']}")
    return parts


def catalogue_files() -> list[Traversable]:
    """The shipped catalogue files: ``catalogue.toml``, then ``catalogue/*.toml`` by name."""
    package = resources.files("ait_connectors.providers")
    folder = package.joinpath(CATALOGUE_FOLDER)
    extra = sorted(
        (f for f in folder.iterdir() if f.name.endswith(".toml")) if folder.is_dir() else [],
        key=lambda f: f.name,
    )
    return [package.joinpath(CATALOGUE_RESOURCE), *extra]


def check_files(
    files: Iterable[tuple[str, str]],
) -> tuple[dict[str, ProviderSpec], list[Problem]]:
    """Parse ``(source name, TOML text)`` pairs strictly: the merged entries and *every*
    problem of every file (bad TOML, schema, URL shapes, a slug defined twice)."""
    merged: dict[str, ProviderSpec] = {}
    where: dict[str, str] = {}
    problems: list[Problem] = []
    for source, text in files:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            problems.append(Problem(source, None, f"not valid TOML: {exc}"))
            continue
        specs, found = _parse(data, source, strict=True)
        problems.extend(found)
        for slug, spec in specs.items():
            if slug in where:
                problems.append(Problem(source, slug, f"slug already defined in {where[slug]}"))
                continue
            where[slug] = source
            merged[slug] = spec
    return merged, problems


def _read(resource: Traversable) -> str:
    try:
        return resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(
            f"the built-in provider catalogue ({resource.name}) is missing from the "
            "installed package"
        ) from None


def shipped_sources() -> list[tuple[str, str]]:
    """``(name, text)`` of every shipped catalogue file (names relative to the package)."""
    names = [CATALOGUE_RESOURCE]
    files = catalogue_files()
    names += [f"{CATALOGUE_FOLDER}/{f.name}" for f in files[1:]]
    return [(name, _read(f)) for name, f in zip(names, files, strict=True)]


@functools.cache
def _builtin_catalogue() -> dict[str, ProviderSpec]:
    specs, problems = check_files(shipped_sources())
    if problems:
        listed = "; ".join(str(p) for p in problems)
        raise ConfigurationError(
            f"the built-in provider catalogue is invalid ({listed}); "
            "run `ait-connectors providers check`"
        )
    return specs


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
