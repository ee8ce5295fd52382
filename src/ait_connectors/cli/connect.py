"""``ait-connectors connect VENDOR``: the OAuth flow from a terminal.

Prints (and opens) the authorization link, then waits for the callback: on loopback it serves
the gateway itself on the redirect URI's port for the duration (so the ordinary callback route
handles it); if a gateway already listens there, or the redirect URI is not local, that gateway
handles the callback and this command watches the database for the new tokens.

A provider that takes API keys is connected with the key instead (``--api-key-stdin``,
``--key-file PATH`` or ``--key-env NAME``; never on the command line, where ``ps`` and the
shell history would show it): the key is checked with the provider, then stored encrypted.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import webbrowser
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import select

from ..errors import AItError, ConfigurationError
from ..inbound.hooks import connection_made
from ..oauth.pkce import generate_pkce_pair
from ..runtime import Connectors
from ..storage.models import OAuthStateRow
from ..storage.states import hash_state
from ._common import console, err_console, run_with
from ._vendor import find_config, serving_gateway

__all__ = ["connect"]

S = OAuthStateRow.__table__
# After the state was used, how long the tokens may take to appear before we call it a failure.
EXCHANGE_GRACE_SECONDS = 15.0


def connect(
    vendor: str = typer.Argument(..., help="Provider slug, e.g. github, spotify, sandbox."),
    user: str = typer.Option("local", "--user", help="The user the connection belongs to."),
    config_id: str | None = typer.Option(None, "--config-id", help="Default: the newest one."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Only print the link."),
    timeout: float = typer.Option(600.0, "--timeout", min=1, help="Seconds to wait."),
    param: list[str] = typer.Option(
        [],
        "--param",
        metavar="NAME=VALUE",
        help="A connection parameter (Salesforce: login_host=test.salesforce.com). Asked for "
        "when missing and the terminal is interactive; else its default is used.",
    ),
    api_key_stdin: bool = typer.Option(
        False, "--api-key-stdin", help="Connect with an API key read from standard input."
    ),
    key_file: Path | None = typer.Option(
        None, "--key-file", help="Connect with the API key in this file (CI: a mounted secret)."
    ),
    key_env: str | None = typer.Option(
        None, "--key-env", help="Connect with the API key in this environment variable."
    ),
) -> None:
    """Connect a provider for a user: open the authorization link and wait for the callback,
    or check and store an API key (for providers that take keys)."""
    given = _parse_params(param)
    key = _read_key(api_key_stdin, key_file, key_env)

    async def go(connectors: Connectors) -> str:
        config = await find_config(connectors, vendor, config_id)
        if key is not None:
            connector = connectors.factory.build_connector(config, user)
            await connector.connect_api_key(key)
            await connection_made(connectors, config, user)
            return connector.provider.name
        params = _ask_missing(config.provider, given)
        connector = connectors.factory.build_connector(config, user, params=params)
        if not connector.provider.uses_oauth:
            raise ConfigurationError(
                f"{connector.provider.name} is connected with an API key: give it with "
                "--api-key-stdin, --key-file PATH or --key-env NAME."
            )
        before = await connectors.tokens.get_oauth_data(config.id, user)
        async with serving_gateway(connectors, config, for_callback=True) as served:
            pkce = generate_pkce_pair() if connector.provider.pkce != "unsupported" else None
            state = await connectors.states.create(
                provider=vendor,
                connector_config_id=config.id,
                user_id=user,
                code_verifier=pkce.verifier if pkce else None,
                connection_params=connector.connection_params,
            )
            url = connector.authenticator.authorization_url(
                state, code_challenge=pkce.challenge if pkce else None
            )
            where = "this command" if served else "the running gateway"
            err_console.print(
                f"Open this link to connect [bold]{connector.provider.name}[/bold] for user "
                f"[bold]{user}[/bold] (the callback is handled by {where}):"
            )
            typer.echo(url)  # plain: Rich would wrap the link
            if not no_browser:
                webbrowser.open(url)
            with console.status("Waiting for the authorization…"):
                await _wait_for_tokens(connectors, config.id, user, state, before, timeout)
        return connector.provider.name

    name = run_with(go)
    console.print(f"Connected [bold]{name}[/bold] for user [bold]{user}[/bold].")


def _parse_params(values: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{value!r}: expected NAME=VALUE", param_hint="--param")
        params[name.strip()] = text.strip()
    return params


def _ask_missing(provider: str, given: dict[str, str]) -> dict[str, str]:
    """``given``, plus a prompt for each declared parameter not given (interactive only: CI
    has no stdin, and then the catalogue's default applies or validation says what is
    missing)."""
    from ..providers import get_provider

    declared: dict[str, Any] = dict(get_provider(provider).connection_params)
    params = dict(given)
    if not sys.stdin.isatty():
        return params
    for name, spec in declared.items():
        if name not in params:
            err_console.print(f"{spec.label} — allowed: {spec.allowed()}")
            params[name] = typer.prompt(spec.label, default=spec.default or "", err=True)
    return params


def _read_key(stdin: bool, path: Path | None, env: str | None) -> str | None:
    """The API key from the one source given (``None``: no key, the OAuth flow)."""
    given = [name for name, on in (("stdin", stdin), ("file", path), ("env", env)) if on]
    if len(given) > 1:
        raise typer.BadParameter(
            "give the API key one way: --api-key-stdin, --key-file or --key-env"
        )
    if stdin:
        key = sys.stdin.readline().strip()
        if not key:
            raise typer.BadParameter("--api-key-stdin was given but standard input was empty")
        return key
    if path is not None:
        try:
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read --key-file {path}: {exc.strerror}") from None
        if not key:
            raise typer.BadParameter(f"--key-file {path} is empty")
        return key
    if env is not None:
        key = os.environ.get(env, "").strip()
        if not key:
            raise typer.BadParameter(f"the environment variable {env} (--key-env) is not set")
        return key
    return None


async def _wait_for_tokens(
    connectors: Connectors,
    config_id: str,
    user: str,
    state: str,
    before: object,
    timeout: float,
) -> None:
    previous = getattr(before, "updated_at", None)
    deadline = time.monotonic() + timeout
    used_since: float | None = None
    digest = hash_state(state)
    while time.monotonic() < deadline:
        data = await connectors.tokens.get_oauth_data(config_id, user)
        if (
            data is not None
            and data.status == "active"
            and (previous is None or data.updated_at > previous)
        ):
            return
        if used_since is None:
            async with connectors.database.connect() as conn:
                used = (
                    await conn.execute(select(S.c.used_at).where(S.c.state_hash == digest))
                ).scalar()
            if used is not None:
                used_since = time.monotonic()
        elif time.monotonic() - used_since > EXCHANGE_GRACE_SECONDS:
            raise AItError(
                "CONNECT_FAILED",
                "The provider sent the user back but no tokens were stored (access denied, or "
                "the code exchange failed): see the browser window for the reason.",
            )
        await asyncio.sleep(0.3)
    raise AItError(
        "CONNECT_TIMEOUT",
        f"No authorization arrived within {timeout:g} s; run the command again to get a new link.",
    )
