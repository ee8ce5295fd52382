"""``import ait_connectors`` loads only what the caller uses (each check in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

HEAVY = ("httpx", "sqlalchemy", "pydantic", "cryptography", "authlib", "psycopg", "alembic")
SERVING = ("fastapi", "starlette", "jinja2", "uvicorn", "typer", "procrastinate")


def _modules(code: str) -> list[str]:
    script = textwrap.dedent(code) + "\nimport sys\nprint(' '.join(sys.modules))\n"
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()


def _loaded(code: str) -> set[str]:
    return {name.split(".")[0] for name in _modules(code)}


def test_importing_the_package_loads_none_of_its_dependencies() -> None:
    loaded = _loaded("import ait_connectors")
    assert loaded.isdisjoint(HEAVY + SERVING), loaded & set(HEAVY + SERVING)


def test_a_name_loads_only_its_own_module() -> None:
    loaded = _loaded("from ait_connectors import Settings, AItError")
    assert loaded.isdisjoint(("httpx", "sqlalchemy", "authlib", *SERVING))


def test_the_github_vendor_loads_no_other_vendor_nor_the_gateway_cli_or_jobs() -> None:
    modules = _modules("from ait_connectors.registry import get_vendor; get_vendor('github')")
    assert {name.split(".")[0] for name in modules}.isdisjoint(SERVING)
    others = ("sandbox", "spotify")
    assert not [
        m for m in modules if m.startswith(tuple(f"ait_connectors.vendors.{o}" for o in others))
    ]
    faces = ("gateway", "cli", "jobs")
    assert not [m for m in modules if m.startswith(tuple(f"ait_connectors.{f}" for f in faces))]


def test_every_public_name_resolves() -> None:
    import ait_connectors

    for name in ait_connectors.__all__:
        assert getattr(ait_connectors, name) is not None
    assert set(ait_connectors.__all__) <= set(dir(ait_connectors))


def test_httpx_is_imported_without_its_cli_which_still_runs() -> None:
    # httpx 0.28 imports its CLI (click, Rich, Pygments: 6 MB) with itself when they are
    # installed; the package defers it to httpx.main().
    loaded = _loaded("import ait_connectors, httpx; httpx.Client")
    assert "httpx" in loaded
    assert loaded.isdisjoint(("click", "rich", "pygments")), loaded
    cli = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ait_connectors, httpx, sys; sys.argv[1:] = ['--help']; httpx.main()",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert "HTTPX" in cli.stdout and "Usage: httpx <URL>" in cli.stdout
