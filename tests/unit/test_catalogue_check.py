"""Issue 19: the catalogue entry schema, ``providers check`` (offline, every problem of every
file), ``--probe`` against a local fake provider, and ``import-discovery`` against the OAuth
test server's own discovery document."""

from __future__ import annotations

import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ait_connectors.cli.providers import app
from ait_connectors.errors import ConfigurationError
from ait_connectors.providers import load_catalogue, parse_catalogue
from ait_connectors.providers.catalogue import check_files, shipped_sources
from ait_connectors.providers.entry import CatalogueEntry
from ait_connectors.providers.spec import CATEGORIES
from ait_connectors.testing.mock import MockServer, Reply
from support.oidc import OidcServer

runner = CliRunner()


def entry(slug: str = "acme", **change: Any) -> str:
    """One valid strict entry as TOML, with ``change`` (a value None drops the key)."""
    fields: dict[str, Any] = {
        "name": "Acme",
        "category": "crm",
        "docs_url": "https://acme.example/docs",
        "authorize_url": "https://acme.example/oauth/authorize",
        "token_url": "https://acme.example/oauth/token",
    }
    fields |= change
    lines = [f"[providers.{slug}]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in fields.items() if v is not None]
    if "provenance" not in change:
        lines += [
            f"[providers.{slug}.provenance]",
            'method = "documentation"',
            'url = "https://acme.example/docs"',
            "checked = 2026-12-03",
        ]
    return "\n".join(lines) + "\n"


def doc(*entries: str) -> str:
    return "schema_version = 1\n" + "".join(entries)


def test_shipped_entries_are_strict_catalogue_entries() -> None:
    specs, problems = check_files(shipped_sources())
    assert problems == []
    assert {"okta", "auth0"} <= set(specs)
    for spec in specs.values():
        assert isinstance(spec, CatalogueEntry) and spec.category in CATEGORIES
        assert spec.provenance.url.scheme == "https"
    assert load_catalogue()["google"].refresh.omits_refresh_token
    assert load_catalogue()["okta"].connection_params["okta_domain"]


def test_the_check_command_passes_on_the_shipped_catalogue() -> None:
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "all valid" in result.output


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    first = tmp_path / "crm.toml"
    first.write_text(
        doc(
            entry("good"),
            entry("plain", token_url="http://acme.example/token", category="nope"),
            entry("bare", provenance=None, docs_url=None),
        )
    )
    second = tmp_path / "chat.toml"
    second.write_text(doc(entry("good"), entry("other", pkce="maybe")))
    broken = tmp_path / "broken.toml"
    broken.write_text("schema_version = 1\n[providers.x\n")
    result = runner.invoke(app, ["check", str(first), str(second), str(broken)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{first}:plain: category:") for line in lines)
    assert any(line.startswith(f"{first}:bare: docs_url:") for line in lines)
    assert any(line.startswith(f"{first}:bare: provenance:") for line in lines)
    assert f"{second}:good: slug already defined in {first}" in lines
    assert any(line.startswith(f"{second}:other: pkce:") for line in lines)
    assert any(line.startswith(f"{broken}:-: not valid TOML") for line in lines)
    # The HTTPS rule is checked once the rest of the entry is valid.
    _, problems = check_files([("f.toml", doc(entry("plain", token_url="http://a.example/t")))])
    assert [str(p) for p in problems] == [
        "f.toml:plain: <entry>: Value error, token_url must use https (set allow_http = true "
        "only in a test catalogue)"
    ]


def test_strictness_is_for_catalogue_files_only() -> None:
    text = doc(entry("lax", category=None, docs_url=None, provenance=None))
    (spec,) = parse_catalogue(tomllib.loads(text)).values()  # specs built in code or tests
    assert spec.provenance is None and spec.category is None
    with pytest.raises(ConfigurationError, match=r"'lax': .*category: Field required"):
        parse_catalogue(tomllib.loads(text), strict=True)
    text = doc(entry("local", token_url="http://127.0.0.1:9/token", allow_http=True))
    assert parse_catalogue(tomllib.loads(text), strict=True)["local"]


class FakeProvider(MockServer):
    """A provider whose endpoints answer like real ones: the authorize page redirects with an
    error, the token endpoint answers ``invalid_client``. ``/gone/…`` answers 404 and
    ``/html/token`` a login page."""

    def public(self, path: str) -> bool:
        return True

    def handle(self, logged: Any, form: dict[str, str], headers: Any) -> Reply:
        if logged.path.startswith("/gone/"):
            return Reply(404, {"message": "Not Found"})
        if logged.path.endswith("/authorize"):
            return Reply(302, None, {"Location": "https://127.0.0.1/cb?error=invalid_client"})
        if logged.path == "/html/token":
            return Reply(200, b"<html>Sign in</html>", {"Content-Type": "text/html"})
        return Reply(401, {"error": "invalid_client"})


def test_probe_reports_how_each_endpoint_answers(tmp_path: Path) -> None:
    server = FakeProvider().start()
    try:
        local = {"allow_http": True}
        path = tmp_path / "probe.toml"
        path.write_text(
            doc(
                entry(
                    "fine",
                    authorize_url=f"{server.url}/a/authorize",
                    token_url=f"{server.url}/a/token",
                    **local,
                ),
                entry(
                    "missing",
                    authorize_url=f"{server.url}/gone/authorize",
                    token_url=f"{server.url}/html/token",
                    **local,
                ),
            )
        )
        result = runner.invoke(app, ["check", "--probe", str(path)])
        assert result.exit_code == 1, result.output
        lines = result.stdout.splitlines()
        assert "fine authorize: ok (HTTP 302)" in lines
        assert "fine token: ok (HTTP 401 invalid_client)" in lines
        assert "missing authorize: FAIL (HTTP 404)" in lines
        assert "missing token: FAIL (HTTP 200, text/html, no OAuth error)" in lines
        token = next(r for r in server.log if r.path == "/a/token")
        assert token.form["grant_type"] == "authorization_code"
        assert token.form["client_secret"] == "ait-connectors-probe-secret"  # post auth
    finally:
        server.stop()


def test_import_discovery_drafts_a_valid_entry(oidc_server: OidcServer) -> None:
    url = f"{oidc_server.issuer}/.well-known/openid-configuration"
    result = runner.invoke(
        app, ["import-discovery", url, "--category", "identity", "--slug", "oidctest"]
    )
    assert result.exit_code == 0, result.output
    spec = parse_catalogue(tomllib.loads(doc(result.stdout)), strict=True)["oidctest"]
    assert isinstance(spec, CatalogueEntry)
    metadata = oidc_server.metadata
    assert str(spec.authorize_url) == metadata["authorization_endpoint"]
    assert str(spec.token_url) == metadata["token_endpoint"]
    assert str(spec.revoke_url) == metadata["revocation_endpoint"]
    assert spec.pkce == "supported"  # S256 in code_challenge_methods_supported
    assert spec.client_auth_method == "client_secret_basic"
    assert "offline_access" in spec.default_scopes and "openid" in spec.default_scopes
    assert spec.refresh.offered  # refresh_token in grant_types_supported
    assert spec.provenance.method == "discovery" and str(spec.provenance.url) == url
    assert spec.provenance.checked <= date.today()
    assert spec.allow_http  # the test server is plain http: flagged in the draft
    assert "# scopes_supported:" in result.stdout


def test_import_discovery_refuses_a_document_without_endpoints(tmp_path: Path) -> None:
    server = FakeProvider().start()
    try:
        result = runner.invoke(
            app, ["import-discovery", f"{server.url}/gone/x", "--category", "identity"]
        )
        assert result.exit_code == 1 and "HTTP 404" in result.output
    finally:
        server.stop()
    result = runner.invoke(app, ["import-discovery", "https://x.example", "--category", "no"])
    assert result.exit_code == 2
