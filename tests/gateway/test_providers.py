"""One provider list (issue 12, point 7): the CLI, ``GET /api/providers`` and the README name
the same providers as ``ait_connectors.offering``, split the same way (connector or not)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ait_connectors.providers import load_catalogue
from ait_connectors.settings import Settings

from .conftest import ROOT, ThreadGateway, subprocess_env
from .test_cli import assert_one_line_error, run


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return subprocess_env(AIT_DATA_DIR=str(tmp_path / "data"))


def _split(settings: Settings) -> tuple[list[str], list[str]]:
    """The list as a fresh process sees it (other tests register providers in this one)."""
    del settings
    probe = (
        "from ait_connectors.offering import provider_entries; "
        "from ait_connectors.settings import Settings; "
        "e = provider_entries(Settings()); "
        "print(','.join(x.slug for x in e if x.connector)); "
        "print(','.join(x.slug for x in e if not x.connector))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=subprocess_env(), capture_output=True, text=True
    )
    usable, catalogue_only = [*out.stdout.splitlines(), "", ""][:2]
    return [s for s in usable.split(",") if s], [s for s in catalogue_only.split(",") if s]


def test_the_cli_names_every_catalogue_provider(env: dict[str, str]) -> None:
    result = run(env, "connect", "nosuchvendor")
    assert_one_line_error(result, "Unknown provider 'nosuchvendor'")
    usable, catalogue_only = _split(Settings())
    assert f"Providers with a connector: {', '.join(usable)}." in result.stderr
    generic = "Connect only (generic OAuth and the proxy, no sync)"
    if catalogue_only:
        assert f"{generic}: {', '.join(catalogue_only)}." in result.stderr
    else:
        assert generic not in result.stderr


def test_the_api_lists_every_catalogue_provider(
    gateway: ThreadGateway, api_key: str, catalogue_only: str
) -> None:
    url = f"{gateway.base_url}/api/providers"
    assert httpx.get(url).status_code == 401
    listed = httpx.get(url, headers={"X-API-Key": api_key}).json()
    by_slug = {p["slug"]: p for p in listed}
    assert set(by_slug) == set(load_catalogue())
    assert by_slug["sandbox"]["configured"] and by_slug["sandbox"]["demo"]
    assert by_slug["sandbox"]["how_to_add"] is None
    github = by_slug["github"]
    assert github["connector"] and not github["configured"]
    assert "ait-connectors configs add github" in github["how_to_add"]
    assert "repositories" in github["entity_types"]
    assert "events" in by_slug["google"]["entity_types"]
    assert github["category"] == "source_control" and not github["generic"]
    # Without a connector: connectable through the generic flow, nothing to sync.
    bare = by_slug[catalogue_only]
    assert not bare["connector"] and bare["generic"] and bare["entity_types"] == []
    assert f"ait-connectors configs add {catalogue_only}" in bare["how_to_add"]
    # Categories and search: the category, and a substring of the name, slug or category.
    get = lambda **q: [  # noqa: E731
        p["slug"] for p in httpx.get(url, params=q, headers={"X-API-Key": api_key}).json()
    ]
    assert get(category="identity") == ["auth0", "okta"]
    assert get(q="OKT") == ["okta"]
    assert set(get(q="source_con")) >= {"github"} and "okta" not in get(q="source_con")
    assert get(category="identity", q="nothing-matches") == []
    bad = httpx.get(url, params={"category": "nope"}, headers={"X-API-Key": api_key})
    assert bad.status_code == 422


def test_the_readme_names_the_same_providers() -> None:
    text = " ".join((ROOT / "README.md").read_text().split())
    section = text.split("**Providers.**", 1)[1].split("`GET /api/providers`", 1)[0]
    with_connector, generic = section.split("Every other catalogue entry", 1)
    usable, _ = _split(Settings())
    assert sorted(re.findall(r"\(`([a-z0-9_-]+)`\)", with_connector)) == sorted(usable)
    # The others are not listed by hand (the catalogue grows): the command that lists them is.
    assert re.findall(r"\(`([a-z0-9_-]+)`\)", generic) == []
    assert "`ait-connectors providers list`" in generic
