"""``ait-connectors providers``: list, check and probe the catalogue; draft entries from
discovery documents."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigurationError
from ..providers.catalogue import check_files, shipped_sources
from ..providers.discovery import draft_entry, fetch_discovery
from ..providers.probe import probe_catalogue
from ..providers.spec import CATEGORIES

app = typer.Typer(
    help="The provider catalogue: list, check (and --probe), import-discovery.",
    no_args_is_help=True,
)


def _sources(files: list[Path] | None) -> list[tuple[str, str]]:
    if not files:
        return shipped_sources()
    sources = []
    for path in files:
        try:
            sources.append((str(path), path.read_text(encoding="utf-8")))
        except OSError as exc:
            typer.echo(f"{path}: cannot read it ({exc.strerror})", err=True)
            raise typer.Exit(2) from None
    return sources


def _param_values(given: list[str] | None) -> dict[str, dict[str, str]]:
    values: dict[str, dict[str, str]] = {}
    for item in given or ():
        key, sep, value = item.partition("=")
        slug, dot, name = key.partition(".")
        if not (sep and dot and slug and name and value):
            typer.echo(f"--param {item!r}: expected SLUG.NAME=VALUE", err=True)
            raise typer.Exit(2)
        values.setdefault(slug, {})[name] = value
    return values


@app.command("list")
def list_providers(
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
) -> None:
    """Every shipped catalogue entry: slug, category, name."""
    specs, _ = check_files(shipped_sources())
    for slug, spec in sorted(specs.items(), key=lambda i: (i[1].category or "", i[0])):
        if category is None or spec.category == category:
            typer.echo(f"{slug}\t{spec.category or '-'}\t{spec.name}")


@app.command("check")
def check(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Catalogue files to check (default: the shipped catalogue)."),
    ] = None,
    probe: Annotated[
        bool,
        typer.Option(
            "--probe",
            help="Also send a bogus authorization and token request to every entry (needs "
            "the network) and report whether each endpoint answers as claimed.",
        ),
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(help="SLUG.NAME=VALUE: a connection parameter for --probe (Okta domain)."),
    ] = None,
) -> None:
    """Validate every entry offline: schema, URL shapes, HTTPS, provenance, no duplicate slug.

    Every problem of every file is printed as ``file:slug: message``.
    """
    sources = _sources(files)
    specs, problems = check_files(sources)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        typer.echo(f"{len(problems)} problem(s) in the catalogue.", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(specs)} entries in {len(sources)} file(s): all valid.")
    if not probe:
        return
    values = _param_values(param)
    results = asyncio.run(probe_catalogue(specs.values(), params=values))
    for result in results:
        typer.echo(str(result))
    failed = [r for r in results if r.ok is False]
    if failed:
        typer.echo(f"{len(failed)} endpoint(s) did not answer as claimed.", err=True)
        raise typer.Exit(1)


@app.command("import-discovery")
def import_discovery(
    url: Annotated[str, typer.Argument(help="The discovery document's URL.")],
    category: Annotated[str, typer.Option(help=f"One of: {', '.join(CATEGORIES)}.")],
    slug: Annotated[str | None, typer.Option(help="Default: from the issuer's host.")] = None,
    name: Annotated[str | None, typer.Option(help="Default: the issuer's host.")] = None,
) -> None:
    """Print a catalogue entry draft (TOML) from an RFC 8414 or OpenID discovery document."""
    if category not in CATEGORIES:
        typer.echo(f"--category {category!r}: use one of {', '.join(CATEGORIES)}", err=True)
        raise typer.Exit(2)
    try:
        document = asyncio.run(fetch_discovery(url))
        today = datetime.now(UTC).date()
        text = draft_entry(document, url, category=category, checked=today, slug=slug, name=name)
    except ConfigurationError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(text, nl=False)
