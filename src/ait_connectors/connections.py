"""Connecting a user, syncing, and reading the synced records back: what :class:`Connectors`
offers a program that embeds the library (the gateway offers the same over HTTP).

The OAuth flow is the gateway's: a one-time state stored hashed with the encrypted PKCE
verifier, bound to the starting browser by a nonce (:attr:`ConnectLink.nonce`, which the
application keeps in that browser's session), consumed once by the callback, then the code
exchanged at the provider's token endpoint.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from .entities import Entity
from .errors import AItError, ConfigurationError
from .inbound.hooks import connection_made
from .mcp_remote.servers import load_mcp_provider
from .oauth.pkce import generate_pkce_pair
from .offering import unknown_provider_message
from .providers import load_catalogue
from .registry import VendorContext, get_vendor, registered_vendors, served_config
from .storage.configs import ConnectorConfig
from .storage.states import InvalidStateError

if TYPE_CHECKING:
    from .runtime import Connectors
    from .sync.config import SyncRunResult

__all__ = [
    "ConnectLink",
    "ConnectionStatus",
    "connect_link",
    "connection_status",
    "find_config",
    "finish_connect",
    "iter_records",
    "sync_provider",
]

#: Token statuses after which only the user can repair the connection (by connecting again).
REFUSED = ("needs_reauth", "revoked", "error")


@dataclass(frozen=True)
class ConnectLink:
    """A started OAuth flow for one user.

    - ``url``: the provider's authorization page: send the user's browser there.
    - ``nonce``: keep it in that browser's session (an ``HttpOnly`` cookie) and hand it to
      :meth:`Connectors.finish_connect`: only the browser that started the flow finishes it, so a
      forwarded link connects nobody.
    - ``redirect_uri``: where the provider sends the browser back (the config's).
    """

    provider: str
    user_id: str
    url: str = field(repr=False)
    redirect_uri: str
    nonce: str = field(repr=False)


@dataclass(frozen=True)
class ConnectionStatus:
    """A user's connection to a provider: ``status`` is ``not_connected``, ``active``, or a
    refused one (``needs_reauth``, ``revoked``, ``error``) with the provider's ``reason``."""

    provider: str
    user_id: str
    status: str
    reason: str | None = None

    @property
    def connected(self) -> bool:
        return self.status == "active"

    @property
    def needs_reauth(self) -> bool:
        """The provider refused the tokens: the user must connect again (data is kept)."""
        return self.status in REFUSED


async def find_config(
    connectors: Connectors, provider: str, config_id: str | None = None
) -> ConnectorConfig:
    """The enabled config of ``provider`` (or the one named), as this deployment's gateway uses
    it; a vendor's ``prepare`` hook may create it (the sandbox's zero-setup config)."""
    registration = registered_vendors().get(provider)  # loading it may add its catalogue entry
    settings = connectors.settings
    if provider not in load_catalogue() and not await load_mcp_provider(
        connectors.configs, provider
    ):  # a remote MCP server's provider is built from its config
        raise ConfigurationError(unknown_provider_message(provider, settings))
    if registration is not None:
        reason = registration.unavailable(settings)
        if reason is not None:
            raise ConfigurationError(reason)
        if registration.prepare is not None:
            context = VendorContext(settings, connectors.base_url, serving=False)
            await registration.prepare(connectors, context)
    if config_id is not None:
        config = await connectors.configs.get(config_id)
        if config.provider != provider:
            raise ConfigurationError(f"Connector config {config_id} is not a {provider} config.")
    else:
        found = await connectors.configs.find_for_provider(provider)
        if found is None:
            raise ConfigurationError(
                f"No enabled connector config for {provider}: add one with "
                f"`ait-connectors configs add {provider} --client-id … --client-secret-stdin`."
            )
        config = found
    return served_config(config, connectors.base_url)


async def connect_link(
    connectors: Connectors,
    provider: str,
    user_id: str,
    config_id: str | None = None,
    params: Mapping[str, str] | None = None,
) -> ConnectLink:
    """``params``: the provider's connection parameters (Salesforce ``login_host``), checked
    against the catalogue; omitted ones take their default."""
    config = await find_config(connectors, provider, config_id)
    connector = connectors.factory.build_connector(config, user_id, params=params or {})
    pkce = generate_pkce_pair() if connector.provider.pkce != "unsupported" else None
    nonce = secrets.token_urlsafe(32)
    state = await connectors.states.create(
        provider=provider,
        connector_config_id=config.id,
        user_id=user_id,
        code_verifier=pkce.verifier if pkce else None,
        browser_nonce=nonce,
        connection_params=connector.connection_params,
    )
    url = connector.authenticator.authorization_url(
        state, code_challenge=pkce.challenge if pkce else None
    )
    return ConnectLink(provider, user_id, url, config.redirect_uri, nonce)


async def finish_connect(
    connectors: Connectors, provider: str, callback_url: str, nonce: str
) -> ConnectionStatus:
    params = dict(parse_qsl(urlsplit(callback_url).query))
    state = params.get("state")
    if "error" in params:
        with contextlib.suppress(InvalidStateError):  # use it up: it cannot be replayed
            await connectors.states.consume(state, provider=provider, browser_nonce=nonce)
        denied = params["error"] == "access_denied"
        raise AItError(
            "ACCESS_DENIED" if denied else "PROVIDER_ERROR",
            f"The user declined access to {provider}: nothing was connected."
            if denied
            else f"{provider} reported an error ({params['error']}): nothing was connected.",
        )
    record = await connectors.states.consume(state, provider=provider, browser_nonce=nonce)
    code = params.get("code")
    if not code:
        raise AItError("MISSING_CODE", f"{provider} sent no authorization code: start again.")
    config = await find_config(connectors, provider, record.connector_config_id)
    connector = connectors.factory.build_connector(
        config, record.user_id, params=record.connection_params
    )
    verifier = record.code_verifier.get_secret_value() if record.code_verifier else None
    await connector.connect(code, code_verifier=verifier)
    await connection_made(connectors, config, record.user_id)
    return await connection_status(connectors, provider, record.user_id, config.id)


async def connection_status(
    connectors: Connectors, provider: str, user_id: str, config_id: str | None = None
) -> ConnectionStatus:
    config = await find_config(connectors, provider, config_id)
    data = await connectors.tokens.get_oauth_data(config.id, user_id)
    if data is None:
        return ConnectionStatus(provider, user_id, "not_connected")
    return ConnectionStatus(provider, user_id, str(data.status), data.status_reason)


async def sync_provider(
    connectors: Connectors,
    provider: str,
    user_id: str,
    entity_types: Sequence[str] | None,
    config_id: str | None = None,
) -> list[SyncRunResult]:
    from .sync.runs import SyncRuns  # the sync engine loads only when a program syncs

    config = await find_config(connectors, provider, config_id)
    return await SyncRuns(connectors).run(config.id, user_id, entity_types)


async def iter_records(
    connectors: Connectors,
    provider: str,
    entity_type: str,
    user_id: str,
    config_id: str | None = None,
    page_size: int = 500,
) -> AsyncIterator[Entity]:
    from .sync.reader import RecordReader

    declared = get_vendor(provider).service_cls.entity_declarations
    if entity_type not in declared:
        raise ConfigurationError(
            f"{provider} has no entity type {entity_type!r}; it has: {', '.join(declared)}."
        )
    config = await find_config(connectors, provider, config_id)
    reader, model = RecordReader(connectors.database), declared[entity_type].model
    cursor: str | None = None
    while True:  # one page in memory at a time, keyset-paged: a concurrent sync skips nothing
        page = await reader.page(
            config.id, user_id, entity_type, model, limit=page_size, cursor=cursor
        )
        for entity in page.items:
            yield entity
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
