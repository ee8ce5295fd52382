"""``Harness``: one vendor's mock behind a :class:`FaultProxy`, a connector config pointing at the
proxy, a connected user, and the reads the conformance checks make (stored records, token, state).
"""

from __future__ import annotations

import inspect
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import create_engine, make_url, text

from ..crypto import Cipher, generate_key
from ..factory import ConnectorServiceFactory
from ..oauth.tokens import TokenResponse
from ..registry import get_vendor
from ..service import ConnectorService
from ..storage.configs import ConnectorConfig, ConnectorConfigStore
from ..storage.db import Database
from ..storage.sync_state import ConnectionKey
from ..storage.tokens import OAuthData, TokenStore
from ..sync import SyncOptions, SyncRunResult, sync
from ..sync.config import EntityConfig
from ..sync.locks import exclusive_sync
from .declaration import EntityKit, Served, Token, VendorKit
from .proxy import FaultProxy

__all__ = ["Harness", "cursor_probe"]

USER_ID = "kit-user"
_RECORDS = (
    "SELECT external_id FROM records WHERE connector_config_id = :c AND user_id = :u "
    "AND entity_type = :t AND deleted_at IS {} NULL"
)


@dataclass
class Harness:
    """What one conformance check works with (built by :meth:`start`)."""

    kit: VendorKit
    served: Served
    proxy: FaultProxy
    database: Database
    db_url: str
    key_hex: str
    config: ConnectorConfig
    tokens: TokenStore
    user_id: str = USER_ID

    @classmethod
    @asynccontextmanager
    async def start(cls, kit: VendorKit, db_url: str) -> AsyncIterator[Harness]:
        """Serve the vendor's mock behind a proxy, store a config for it, connect a user."""
        service_cls = get_vendor(kit.vendor).service_cls  # also loads its catalogue entry
        paced = service_cls.__dict__.get("requests_per_second", _UNSET)
        service_cls.requests_per_second = None  # pacing is checked on its own, not here
        key_hex = generate_key()
        database = Database(db_url)
        try:
            with _no_ca_bundle(), kit.serve() as served:
                proxy = FaultProxy(
                    served.upstream, api_prefix=served.api_path, page_size=served.page_size
                ).start()
                try:
                    config = await _create_config(
                        database, Cipher(bytes.fromhex(key_hex)), kit, served, proxy.url
                    )
                    tokens = TokenStore(database, Cipher(bytes.fromhex(key_hex)))
                    harness = cls(kit, served, proxy, database, db_url, key_hex, config, tokens)
                    await harness.connect()
                    yield harness
                finally:
                    proxy.stop()
        finally:
            await database.dispose()
            if paced is _UNSET:
                del service_cls.requests_per_second
            else:
                service_cls.requests_per_second = paced

    @property
    def data(self) -> Any:
        return self.served.data

    def entity(self, entity_type: str) -> EntityKit:
        return self.kit.entities[entity_type]

    @property
    def cipher(self) -> Cipher:
        return Cipher(bytes.fromhex(self.key_hex))

    async def connect(
        self, *, refresh: str | None = None, user_id: str | None = None, no_expiry: bool = False
    ) -> Token:
        """Store a fresh token of the mock (``refresh`` replaces its refresh token;
        ``no_expiry``: stored without an expiry, as a token response without ``expires_in``)."""
        token = self.served.connect()
        if inspect.isawaitable(token):
            token = await token
        assert isinstance(token, Token)
        expires = None if no_expiry else token.expires_in
        refresh = refresh or token.refresh
        await self.tokens.save_oauth_data(
            self.config.id,
            user_id or self.user_id,
            TokenResponse(
                access_token=SecretStr(token.access),
                refresh_token=SecretStr(refresh) if refresh else None,
                expires_at=datetime.now(UTC) + timedelta(seconds=expires) if expires else None,
                metadata=dict(token.metadata),
            ),
        )
        return token

    async def sync(
        self, entity_type: str, *, options: SyncOptions | None = None, user_id: str | None = None
    ) -> SyncRunResult:
        (result,) = await sync(
            self.config.id,
            user_id or self.user_id,
            [entity_type],
            database=self.database,
            cipher=self.cipher,
            options=options,
        )
        return result

    async def service(self, user_id: str | None = None) -> ConnectorService[Any]:
        factory = ConnectorServiceFactory(self.database, self.cipher)
        return await factory.get_service_by_config(self.config.id, user_id or self.user_id)

    async def entity_config(self, entity_type: str) -> EntityConfig[Any]:
        service = await self.service()
        try:
            return service.entity_config(entity_type)
        finally:
            await service.aclose()

    async def source_ids(self, entity_type: str) -> set[str]:
        """The external ids of what the vendor serves now, fetched and mapped (nothing stored)."""
        service = await self.service()
        try:
            return {e.external_id for e in await service.fetch_entities(entity_type)}
        finally:
            await service.aclose()

    async def stored(self, entity_type: str, *, deleted: bool = False) -> set[str]:
        sql = text(_RECORDS.format("NOT" if deleted else ""))
        params = {"c": self.config.id, "u": self.user_id, "t": entity_type}
        async with self.database.connect() as conn:
            return {str(row[0]) for row in await conn.execute(sql, params)}

    async def token(self) -> OAuthData:
        data = await self.tokens.get_oauth_data(self.config.id, self.user_id)
        assert data is not None
        return data

    async def sync_lock_free(self, entity_type: str) -> bool:
        """Whether a sync of ``entity_type`` could start now. After a kill, PostgreSQL drops the
        dead process's session (and its advisory lock) only once it notices: a moment later."""
        key = ConnectionKey(self.config.id, self.user_id, entity_type)
        async with exclusive_sync(self.database, key) as free:
            return free

    async def run_statuses(self, entity_type: str) -> list[str]:
        sql = text(
            "SELECT status FROM sync_runs WHERE connector_config_id = :c AND user_id = :u "
            "AND entity_type = :t ORDER BY started_at"
        )
        params = {"c": self.config.id, "u": self.user_id, "t": entity_type}
        async with self.database.connect() as conn:
            return [str(row[0]) for row in await conn.execute(sql, params)]


_UNSET = object()


@contextmanager
def _no_ca_bundle() -> Iterator[None]:
    """Every sync builds a few httpx clients, and each loads the CA bundle (~0.1 s of CPU). The
    kit's mocks are plain HTTP on loopback: an empty CA directory makes that cheap (the SIGKILL
    check's worker process inherits it)."""
    names = ("SSL_CERT_FILE", "SSL_CERT_DIR")
    saved = {name: os.environ.pop(name, None) for name in names}
    with tempfile.TemporaryDirectory(prefix="ait-kit-ca-") as empty:
        os.environ["SSL_CERT_DIR"] = empty
        try:
            yield
        finally:
            for name, value in saved.items():
                os.environ.pop(name, None)
                if value is not None:
                    os.environ[name] = value


async def _create_config(
    database: Database, cipher: Cipher, kit: VendorKit, served: Served, base: str
) -> ConnectorConfig:
    overrides = {
        "api_base_url": base + served.api_path,
        "token_url": base + served.token_path,
        **{name: base + path for name, path in served.overrides.items()},
    }
    return await ConnectorConfigStore(database, cipher).create(
        kit.vendor,
        client_id=served.client_id,
        client_secret=served.client_secret,
        redirect_uri=f"http://127.0.0.1:8765/api/{kit.vendor}/auth/callback",
        name=f"kit-{secrets.token_hex(3)}",
        overrides=overrides,
    )


def cursor_probe(
    harness: Harness, entity_type: str
) -> tuple[Callable[[], bool], Callable[[], None]]:
    """A synchronous "has a page cursor been committed?" check (for the proxy's request
    threads, while another process syncs), and the function that closes its engine."""
    url = make_url(harness.db_url)
    if url.drivername == "sqlite+aiosqlite":
        url = url.set(drivername="sqlite")
    engine = create_engine(url)
    sql = text(
        "SELECT cursor FROM sync_state WHERE connector_config_id = :c AND user_id = :u "
        "AND entity_type = :t"
    )
    params = {"c": harness.config.id, "u": harness.user_id, "t": entity_type}

    def committed() -> bool:
        try:
            with engine.connect() as conn:
                value = conn.execute(sql, params).scalar()
        except Exception:  # the writer holds the lock right now: not yet
            return False
        return value is not None and value != "null"

    return committed, engine.dispose
