"""The provider catalogue: built-in entries, validation, runtime registration, packaging."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from ait_connectors.errors import ConfigurationError
from ait_connectors.providers import (
    ProviderSpec,
    get_provider,
    load_catalogue,
    parse_catalogue,
    register_provider,
    unregister_provider,
)
from ait_connectors.providers.spec import RevokeSpec

BUILT_IN = {"github", "spotify", "slack", "linear", "notion", "x", "google"}
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox_spec() -> Iterator[ProviderSpec]:
    spec = ProviderSpec(
        slug="sandbox",
        name="Sandbox",
        authorize_url="http://127.0.0.1:9/authorize",
        token_url="http://127.0.0.1:9/token",
    )
    before = load_catalogue().get("sandbox")  # the sandbox vendor's entry, if imported
    yield spec
    unregister_provider("sandbox")
    if before is not None:  # later tests in this process still find the sandbox provider
        register_provider(before)


def test_builtin_entries_load_and_validate() -> None:
    catalogue = load_catalogue()
    assert set(catalogue) >= BUILT_IN
    for slug, spec in catalogue.items():
        assert isinstance(spec, ProviderSpec)
        assert spec.slug == slug


def test_catalogue_is_cached_but_returned_as_a_copy() -> None:
    first = load_catalogue()
    first.pop("github")
    second = load_catalogue()
    assert "github" in second
    assert second["spotify"] is load_catalogue()["spotify"]  # parsed once


def test_github_entry() -> None:
    spec = get_provider("github")
    assert str(spec.authorize_url) == "https://github.com/login/oauth/authorize"
    assert str(spec.token_url) == "https://github.com/login/oauth/access_token"
    assert spec.revoke.http_method == "DELETE"
    assert spec.revoke.client_auth == "client_secret_basic"
    assert (spec.revoke.token_field, spec.revoke.body_format) == ("access_token", "json")
    assert "applications" in str(spec.revoke_url)
    assert spec.scope_separator == " "
    assert spec.default_scopes == ("read:user", "user:email")
    assert spec.pkce == "supported"
    assert spec.client_auth_method == "client_secret_post"
    assert spec.token_request_headers == {"Accept": "application/json"}
    assert spec.error_in_body == "oauth_error"
    assert spec.api_headers == {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    assert spec.rate_limit.remaining == "x-ratelimit-remaining"
    assert spec.rate_limit.reset == "x-ratelimit-reset"
    assert spec.rate_limit.reset_unit == "epoch_s"


def test_spotify_entry() -> None:
    spec = get_provider("spotify")
    assert spec.client_auth_method == "client_secret_basic"
    assert spec.revoke_url is None
    assert spec.pkce == "supported"
    assert "user-library-read" in spec.default_scopes
    assert spec.rate_limit.retry_after == "retry-after"
    assert spec.rate_limit.reset is None


def test_x_entry() -> None:
    spec = get_provider("x")
    assert spec.pkce == "required"
    assert spec.client_auth_method == "client_secret_basic"
    assert "offline.access" in spec.default_scopes
    assert spec.revoke == RevokeSpec()  # plain RFC 7009
    assert str(spec.revoke_url) == "https://api.x.com/2/oauth2/revoke"
    assert spec.rate_limit.remaining == "x-rate-limit-remaining"
    assert spec.rate_limit.reset == "x-rate-limit-reset"
    assert spec.rate_limit.reset_unit == "epoch_s"


def test_linear_entry() -> None:
    spec = get_provider("linear")
    assert spec.scope_separator == ","
    assert spec.default_scopes == ("read",)
    assert spec.client_auth_method == "client_secret_post"
    assert spec.pkce == "supported"
    assert spec.rate_limit.remaining == "x-ratelimit-requests-remaining"
    assert spec.rate_limit.reset == "x-ratelimit-requests-reset"
    assert spec.rate_limit.reset_unit == "epoch_ms"


def test_notion_entry() -> None:
    spec = get_provider("notion")
    assert spec.client_auth_method == "client_secret_basic_json"
    assert spec.pkce == "unsupported"
    assert spec.default_scopes == ()
    assert spec.extra_authorize_params == {"owner": "user"}
    assert spec.metadata_fields == {
        "workspace_id": "workspace_id",
        "workspace_name": "workspace_name",
        "bot_id": "bot_id",
    }
    assert spec.api_headers == {"Notion-Version": "2026-03-11"}
    assert spec.token_request_headers == {"Notion-Version": "2026-03-11"}
    assert spec.revoke.tokens == ("access_token",)


def test_slack_entry() -> None:
    spec = get_provider("slack")
    assert spec.scope_param == "user_scope"
    assert spec.token_path == "authed_user"
    assert spec.error_in_body == "slack_ok"
    assert spec.client_auth_method == "client_secret_basic"
    assert (spec.revoke.token_in, spec.revoke.client_auth) == ("bearer", "none")
    assert spec.metadata_fields["team_id"] == "team.id"
    assert "chat:write" not in spec.default_scopes


def test_google_entry() -> None:
    spec = get_provider("google")
    assert spec.client_auth_method == "client_secret_post"
    assert (spec.revoke.token_in, spec.revoke.client_auth) == ("body", "none")
    assert spec.extra_authorize_params == {
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }
    assert all("readonly" in s for s in spec.default_scopes if s.startswith("https://"))


def test_unknown_provider_lists_known_slugs() -> None:
    with pytest.raises(ConfigurationError) as info:
        get_provider("myspace")
    message = str(info.value)
    assert "'myspace'" in message
    for slug in BUILT_IN:
        assert slug in message


def test_register_and_unregister_provider(sandbox_spec: ProviderSpec) -> None:
    register_provider(sandbox_spec)
    assert get_provider("sandbox") is sandbox_spec
    assert "sandbox" in load_catalogue()
    unregister_provider("sandbox")
    with pytest.raises(ConfigurationError):
        get_provider("sandbox")


def test_reregistering_a_runtime_provider_replaces_it(sandbox_spec: ProviderSpec) -> None:
    register_provider(sandbox_spec)
    moved = sandbox_spec.model_copy(update={"name": "Sandbox 2"})
    register_provider(moved)
    assert get_provider("sandbox").name == "Sandbox 2"


def test_shadowing_a_builtin_needs_replace() -> None:
    original = get_provider("github")
    enterprise = original.model_copy(update={"name": "GitHub Enterprise"})
    with pytest.raises(ConfigurationError, match="replace=True"):
        register_provider(enterprise)
    try:
        register_provider(enterprise, replace=True)
        assert get_provider("github").name == "GitHub Enterprise"
    finally:
        unregister_provider("github")
    assert get_provider("github") is original


def test_register_refuses_non_specs() -> None:
    with pytest.raises(ConfigurationError):
        register_provider({"slug": "dict"})  # type: ignore[arg-type]


def _entry(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "Bad",
        "authorize_url": "https://bad.example/authorize",
        "token_url": "https://bad.example/token",
    }
    base.update(fields)
    return base


def test_bad_entry_error_names_the_entry_and_field() -> None:
    data = {"providers": {"fine": _entry(), "broken": _entry(token_url="not a url", pkce="maybe")}}
    with pytest.raises(ConfigurationError) as info:
        parse_catalogue(data, source="test.toml")
    message = str(info.value)
    assert "test.toml" in message
    assert "'broken'" in message
    assert "token_url" in message
    assert "pkce" in message
    assert info.value.metadata == {"provider": "broken"}


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="scopes_typo"):
        parse_catalogue({"providers": {"p": _entry(scopes_typo=["a"])}})


def test_slug_mismatch_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="different slug"):
        parse_catalogue({"providers": {"one": _entry(slug="two")}})


def test_bad_documents_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="providers"):
        parse_catalogue({"schema_version": 1})
    with pytest.raises(ConfigurationError, match="schema_version"):
        parse_catalogue({"schema_version": 99, "providers": {}})
    with pytest.raises(ConfigurationError, match="table"):
        parse_catalogue({"providers": {"p": "not a table"}})


def test_data_file_is_a_package_resource() -> None:
    resource = resources.files("ait_connectors.providers").joinpath("catalogue.toml")
    assert resource.is_file()


def test_data_file_is_in_the_wheel(tmp_path: Path) -> None:
    # hatchling is a dev dependency: in CI a missing one is a broken set-up, never a skip.
    if not os.environ.get("CI"):
        pytest.importorskip("hatchling")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "ait_connectors/providers/catalogue.toml" in names
    # Every per-category file ships too (the loader reads them all).
    folder = PROJECT_ROOT / "src/ait_connectors/providers/catalogue"
    files = {f"ait_connectors/providers/catalogue/{p.name}" for p in folder.glob("*.toml")}
    assert files and files <= names


def test_former_revoke_method_key() -> None:
    base = {
        "slug": "legacy",
        "name": "Legacy",
        "authorize_url": "https://legacy.example/authorize",
        "token_url": "https://legacy.example/token",
    }
    spec = ProviderSpec.model_validate({**base, "revoke_method": "rfc7009"})
    assert spec.revoke == RevokeSpec()
    with pytest.raises(ConfigurationError, match=r"revoke_method 'github' is no longer"):
        parse_catalogue({"providers": {"legacy": {**base, "revoke_method": "github"}}})
