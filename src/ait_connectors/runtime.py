"""``Connectors``: settings, database, encryption and stores, opened together, and the small API a
program uses: connect a user, sync, read the records back (:mod:`.connections`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from .crypto import Cipher, load_cipher
from .metrics import configure as configure_observability
from .settings import Settings, get_settings
from .storage.configs import ConnectorConfigStore
from .storage.db import Database
from .storage.states import OAuthStateStore
from .storage.tokens import TokenStore

if TYPE_CHECKING:
    from .connections import ConnectionStatus, ConnectLink
    from .entities import Entity
    from .factory import ConnectorServiceFactory
    from .sync.changes_feed import Change, ChangeFeed
    from .sync.config import SyncRunResult

__all__ = ["Connectors", "default_base_url"]


def default_base_url(settings: Settings) -> str:
    """Where browsers reach this deployment's gateway: ``AIT_PUBLIC_URL``, else host and port."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (naming the wildcard, not binding it)
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


class Connectors:
    """Everything an application, the gateway or the CLI needs, sharing one database.

    ``async with await Connectors.open() as connectors: ...`` reads the settings, checks the
    encryption key, and migrates the embedded SQLite default on first use.
    """

    def __init__(self, settings: Settings, database: Database, cipher: Cipher) -> None:
        self.settings = settings
        self.database = database
        self.cipher = cipher
        configure_observability(settings)
        self.configs = ConnectorConfigStore(database, cipher)
        self.tokens = TokenStore(database, cipher)
        self.states = OAuthStateStore(database, cipher)

    @cached_property
    def factory(self) -> ConnectorServiceFactory:
        """Builds connectors and services (imported on first use: commands that only read the
        stores do not load the OAuth client and the vendors)."""
        from .factory import ConnectorServiceFactory

        return ConnectorServiceFactory(self.database, self.cipher, self.settings)

    @cached_property
    def feed(self) -> ChangeFeed:
        """The changes feed: pages, snapshot, retention (:class:`.changes_feed.ChangeFeed`)."""
        from datetime import timedelta

        from .sync.changes_feed import ChangeFeed

        return ChangeFeed(
            self.database, retention=timedelta(days=self.settings.changes_retention_days)
        )

    def changes(
        self,
        since: str | None = None,
        *,
        provider: str | None = None,
        entity_type: str | None = None,
        user_id: str | None = None,
        follow: bool = True,
    ) -> AsyncIterator[Change]:
        """Every change of the synced records after the cursor ``since`` (``None``: a snapshot of
        the current records first, then the changes after it), in order, each exactly once:
        ``async for change in connectors.changes(since=cursor): ...; cursor = change.cursor``.
        With ``follow`` (the default) it waits for new changes forever; without, it ends at the
        feed's current end. Raises ``FeedCursorExpiredError`` for a cursor older than the
        retention window."""
        from .sync.changes_feed import ChangeFilter

        filters = ChangeFilter(provider=provider, entity_type=entity_type, user_id=user_id)
        return self.feed.changes(since, filters=filters, follow=follow)

    @property
    def base_url(self) -> str:
        """Where browsers reach this deployment's gateway (:func:`default_base_url`)."""
        return default_base_url(self.settings)

    def __repr__(self) -> str:
        return f"Connectors({self.database!r})"

    # -- connecting a user, syncing, reading (imported on first use) ---------------------------

    async def connect_link(
        self, provider: str, *, user_id: str, config_id: str | None = None
    ) -> ConnectLink:
        """Start connecting ``provider`` for ``user_id``: send the user's browser to
        ``link.url`` and keep ``link.nonce`` in its session for :meth:`finish_connect`."""
        from .connections import connect_link

        return await connect_link(self, provider, user_id, config_id)

    async def finish_connect(
        self, provider: str, callback_url: str, *, nonce: str
    ) -> ConnectionStatus:
        """Complete the flow from the URL the provider sent the browser back to (its redirect
        URI with ``code`` and ``state``): check the state, exchange the code, store the tokens."""
        from .connections import finish_connect

        return await finish_connect(self, provider, callback_url, nonce)

    async def connection(
        self, provider: str, *, user_id: str, config_id: str | None = None
    ) -> ConnectionStatus:
        """The user's connection to ``provider``: ``.connected``, ``.needs_reauth``."""
        from .connections import connection_status

        return await connection_status(self, provider, user_id, config_id)

    async def sync(
        self,
        provider: str,
        *,
        user_id: str,
        entity_types: Sequence[str] | None = None,
        config_id: str | None = None,
    ) -> list[SyncRunResult]:
        """Sync the user's data (every entity type by default) in this process; one result per
        entity type, failures in the results (not connected, or refused by the provider:
        ``error_code == "AUTHORIZATION_REQUIRED"``)."""
        from .connections import sync_provider

        return await sync_provider(self, provider, user_id, entity_types, config_id)

    def records(
        self, provider: str, entity_type: str, *, user_id: str, config_id: str | None = None
    ) -> AsyncIterator[Entity]:
        """The user's synced records of ``entity_type`` (deleted ones left out), as entity
        models: ``async for contact in connectors.records("sandbox", "contacts", user_id=…)``."""
        from .connections import iter_records

        return iter_records(self, provider, entity_type, user_id, config_id)

    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        auto_migrate: bool | None = None,
        pool_size: int | None = None,
    ) -> Connectors:
        """Open the settings' database (``pool_size``: PostgreSQL connections kept open, unless
        ``AIT_DATABASE_POOL_SIZE`` says otherwise) and check its schema."""
        settings = settings or get_settings()
        cipher = load_cipher(settings)  # fail on a bad key before touching the database
        database = Database.from_settings(settings, pool_size=pool_size)
        try:
            await database.ensure_ready(auto_migrate=auto_migrate)
        except BaseException:
            await database.dispose()
            raise
        return cls(settings, database, cipher)

    async def close(self) -> None:
        await self.database.dispose()

    async def __aenter__(self) -> Connectors:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
