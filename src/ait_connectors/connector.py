"""``BaseConnector``: one user's connection to one connector config, and its token lifecycle.

Guarantees (DESIGN.md, Token lifecycle):

- nothing stored and no code → ``AuthorizationRequiredError`` without any network call;
- a token counts as expired ``skew`` seconds before ``expires_at``; no expiry means it never does;
- a refresh is single-flight in the process (an asyncio lock per connection) and across processes
  (the token row's database lock, then a re-read: a token another process wrote is used as is);
  the new pair is written with ``version + 1`` in the lock's transaction;
- only network failures are retried (3 attempts: waits of 1 s then 2 s, with jitter);
- ``invalid_grant`` marks the connection ``needs_reauth`` (tokens kept) and asks for a reconnect;
  a refresh mark committed before each request tells, after a kill mid-refresh, what happened;
- ``ConnectorAuth`` adds the bearer token and, on a 401, refreshes once and retries; a second
  401 marks the connection ``needs_reauth``. It holds the token between requests and reads the
  store again only at the token's expiry or after a 401.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import stamina
from pydantic import SecretStr

from .errors import (
    AItError,
    AuthorizationRequiredError,
    ConnectorOAuthNetworkError,
    ConnectorOAuthRefreshTokenExpiredError,
)
from .keyauth import (
    API_KEY_TOKEN_TYPE,
    KEY_REFUSED_REASON,
    check_api_key,
    key_headers,
    validate_key,
)
from .metrics.series import observe_refresh
from .oauth.authenticator import ConnectorAuthenticator, revoke_tokens
from .oauth.tokens import TokenResponse
from .providers.spec import ProviderSpec
from .storage.models import TokenStatus
from .storage.tokens import OAuthData, RefreshLock, TokenStore

__all__ = ["PENDING_BASE", "BaseConnector", "ConnectorAuth"]

logger = logging.getLogger(__name__)

# 3 attempts: waits of 1 s, then 2 s, each plus up to 0.5 s of jitter (no cap can act on them).
REFRESH_ATTEMPTS = 3
REFRESH_WAIT_INITIAL = 1.0

_LockKey = tuple[str, str]
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_LockKey, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _process_lock(key: _LockKey) -> asyncio.Lock:
    """The in-process lock of one connection (locks belong to one event loop)."""
    per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
    lock = per_loop.get(key)
    if lock is None:
        lock = per_loop[key] = asyncio.Lock()
    return lock


class BaseConnector:
    """A user's connection to one connector config.

    ``connect(code)`` completes an authorization; ``connect()`` returns a valid token set,
    refreshing it when needed. ``http_client()`` gives an ``httpx.AsyncClient`` for the vendor API
    that keeps itself authorised.

    ``connection_params`` are the values the user supplied when connecting (validated against the
    catalogue); ``authenticator_for`` rebuilds the authenticator for another set of them, used
    when the stored connection turns out to hold different ones. ``api_base_url`` is the
    connection's own API base once known (a provider whose token response names it: after
    :meth:`load` or any token read), else the config's or the catalogue's.
    """

    def __init__(
        self,
        *,
        provider: ProviderSpec,
        connector_config_id: str,
        user_id: str,
        authenticator: ConnectorAuthenticator,
        tokens: TokenStore,
        api_base_url: str | None = None,
        skew: float = 60.0,
        timeout: float = 30.0,
        connection_params: Mapping[str, str] | None = None,
        authenticator_for: Callable[[dict[str, str]], ConnectorAuthenticator] | None = None,
        vendor_options: Mapping[str, str] | None = None,
    ) -> None:
        self.provider = provider
        self.connector_config_id = connector_config_id
        self.user_id = user_id
        self.authenticator = authenticator
        self.tokens = tokens
        self._static_base = api_base_url or (
            str(provider.api_base_url) if provider.api_base_url else None
        )
        self._connection_base: str | None = None
        self.connection_params = dict(connection_params or {})
        self._authenticator_for = authenticator_for
        #: The config's non-URL settings for its vendor (e.g. Salesforce ``sobjects``).
        self.vendor_options = dict(vendor_options or {})
        self.skew = skew
        self.timeout = timeout

    @property
    def api_base_url(self) -> str | None:
        """The API base of this connection: its own (from the token response) once known."""
        return self._connection_base or self._static_base

    async def load(self) -> OAuthData | None:
        """Read the stored connection (no refresh, no network): its parameters and API base
        become this connector's. ``None`` when it was never connected."""
        data = await self.tokens.get_oauth_data(self.connector_config_id, self.user_id)
        return self._adopt(data) if data is not None else None

    def _adopt(self, data: OAuthData) -> OAuthData:
        """Take the stored connection's API base and parameters (a token read or a refresh)."""
        if self.provider.api_base_from_token is not None:
            self._connection_base = data.api_base_url
        stored = data.connection_params
        if stored and stored != self.connection_params and self._authenticator_for is not None:
            self.authenticator = self._authenticator_for(dict(stored))
            self.connection_params = dict(stored)
            self._static_base = self.authenticator.oauth.endpoints.api_base_url or self._static_base
        return data

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider.slug!r}, "
            f"connector_config_id={self.connector_config_id!r}, user_id={self.user_id!r})"
        )

    @property
    def _key(self) -> _LockKey:
        return (self.connector_config_id, self.user_id)

    async def connect(
        self, code: str | None = None, *, code_verifier: str | None = None
    ) -> OAuthData:
        """With ``code``: exchange it and store the tokens. Without: a valid stored token set."""
        if code is not None:
            token = await self.authenticator.authenticate(code, code_verifier)
            data = await self.tokens.save_oauth_data(
                self.connector_config_id, self.user_id, token, params=self.connection_params
            )
            logger.info("connected %s for user %s", self.provider.slug, self.user_id)
            return self._adopt(data)
        return self._adopt(await self._valid_token())

    async def connect_api_key(self, key: str) -> OAuthData:
        """Store a pasted API key after the provider's cheap check accepted it.

        A malformed or refused key raises :class:`~ait_connectors.keyauth.InvalidApiKeyError`
        and stores nothing (an existing connection is left as it was).
        """
        key = validate_key(self.provider, key)
        checked = await check_api_key(self.provider, self.api_base_url, key, timeout=self.timeout)
        extra = getattr(self.authenticator, "api_key_metadata", None)
        metadata = {"auth": "api_key", **(extra(key, checked) if extra else {})}
        token = TokenResponse(
            access_token=SecretStr(key), token_type=API_KEY_TOKEN_TYPE, metadata=metadata
        )
        data = await self.tokens.save_oauth_data(self.connector_config_id, self.user_id, token)
        logger.info("connected %s with an API key for user %s", self.provider.slug, self.user_id)
        return data

    def request_headers(self, data: OAuthData) -> dict[str, str]:
        """The headers that authenticate an API request of this connection."""
        secret = data.access_token.get_secret_value()
        if data.token_type == API_KEY_TOKEN_TYPE:
            return key_headers(self.provider, secret)
        # Duck-typed authenticators (tests, older vendors) may lack the hooks: the defaults.
        hook = getattr(self.authenticator, "request_headers", None)
        if hook is None:
            return {"Authorization": f"Bearer {secret}"}
        headers: dict[str, str] = hook(secret, data.metadata)
        return headers

    def refreshes(self, data: OAuthData) -> bool:
        """Whether a 401 is worth a refresh (never for an API key, nor for a vendor whose API
        calls do not use the OAuth token)."""
        refreshes = getattr(self.authenticator, "refresh_on_unauthorized", True)
        return data.token_type != API_KEY_TOKEN_TYPE and bool(refreshes)

    def refused_reason(self, data: OAuthData) -> str:
        if data.token_type == API_KEY_TOKEN_TYPE:
            return KEY_REFUSED_REASON
        return str(getattr(self.authenticator, "refused_reason", "the API refused the token"))

    async def get_access_token(self) -> str:
        """A valid access token (refreshed first when it is about to expire)."""
        return (await self.connect()).access_token.get_secret_value()

    async def refresh(self, *, rejected_token: str | None = None) -> OAuthData:
        """Refresh now, unless the token the API rejected was already replaced."""
        return self._adopt(await self._valid_token(rejected_token=rejected_token, force=True))

    def _usable(self, data: OAuthData, *, force: bool, rejected_token: str | None) -> bool:
        if force:
            # A 401 means this token is dead; any other token is a newer one somebody wrote.
            return (
                rejected_token is not None
                and data.access_token.get_secret_value() != rejected_token
            )
        return not data.is_expired(skew=self.skew)

    def _check_status(self, data: OAuthData | None) -> OAuthData:
        if data is None:
            raise AuthorizationRequiredError(
                f"{self.provider.name} is not connected for this user: connect it first.",
                reason="not_connected",
            )
        if data.status != TokenStatus.ACTIVE:
            raise AuthorizationRequiredError(
                f"{self.provider.name} needs the user to reconnect ({data.status}: "
                f"{data.status_reason or 'no reason recorded'}).",
                reason=data.status_reason or data.status,
            )
        return data

    async def _valid_token(
        self, *, force: bool = False, rejected_token: str | None = None
    ) -> OAuthData:
        data = self._check_status(
            await self.tokens.get_oauth_data(self.connector_config_id, self.user_id)
        )
        if self._usable(data, force=force, rejected_token=rejected_token):
            return data
        async with _process_lock(self._key):
            # Another task of this process may have refreshed while we waited.
            data = self._check_status(
                await self.tokens.get_oauth_data(self.connector_config_id, self.user_id)
            )
            if self._usable(data, force=force, rejected_token=rejected_token or _token(data)):
                observe_refresh(self.provider.slug, "already_refreshed")
                return data
            return await self._refresh_under_lock(force=force, rejected_token=rejected_token)

    async def _refresh_under_lock(self, *, force: bool, rejected_token: str | None) -> OAuthData:
        # Committed before the row lock's transaction: it survives this process being killed
        # while the request is out; an earlier mark still there is a refresh that never stored.
        earlier = await self.tokens.mark_refresh_started(self.connector_config_id, self.user_id)
        async with self.tokens.refresh_lock(self.connector_config_id, self.user_id) as lock:
            outcome = await self._refresh_locked(
                lock, force=force, rejected_token=rejected_token, earlier=earlier
            )
        if isinstance(outcome, OAuthData):
            return outcome
        # Raised after the transaction committed, so the needs_reauth status is stored.
        logger.warning(
            "%s connection of user %s needs reauthorization: %s",
            self.provider.slug,
            self.user_id,
            outcome.reason,
        )
        raise outcome

    async def _refresh_locked(
        self,
        lock: RefreshLock,
        *,
        force: bool,
        rejected_token: str | None,
        earlier: datetime | None,
    ) -> OAuthData | AuthorizationRequiredError:
        """The refresh proper, under the row lock: the token to use, or why the user must act."""
        current = lock.current
        # Re-read under the database lock: another process may have refreshed already.
        if (
            current is None
            or current.status != TokenStatus.ACTIVE
            or self._usable(current, force=force, rejected_token=rejected_token or _token(current))
        ):
            if earlier is None:  # our own mark: no request is sent after all
                await lock.clear_refresh_mark()
            if current is not None and current.status == TokenStatus.ACTIVE:
                observe_refresh(self.provider.slug, "already_refreshed")
            try:
                return self._check_status(current)
            except AuthorizationRequiredError as exc:
                return exc
        self._adopt(current)  # the refresh goes to the URLs of this connection's parameters
        if current.refresh_token is None:
            observe_refresh(self.provider.slug, "no_refresh_token")
            reason = (
                "the access token was rejected and there is no refresh token"
                if force
                else "the access token expired and there is no refresh token"
            )
        else:
            try:
                token = await self._request_refresh(current.refresh_token.get_secret_value())
            except ConnectorOAuthRefreshTokenExpiredError as exc:
                reason = self._refused_reason(exc, earlier)
            else:
                if not token.metadata and current.metadata:
                    token = token.model_copy(update={"metadata": current.metadata})
                saved = await lock.save(token)
                logger.info(
                    "refreshed %s token for user %s (version %d)",
                    self.provider.slug,
                    self.user_id,
                    saved.version,
                )
                return saved
        await lock.set_status(TokenStatus.NEEDS_REAUTH, reason)
        return AuthorizationRequiredError(
            f"{self.provider.name} needs the user to reconnect: {reason}.", reason=reason
        )

    def _refused_reason(
        self, exc: ConnectorOAuthRefreshTokenExpiredError, earlier: datetime | None
    ) -> str:
        """Why the provider refused; says so when an earlier refresh never stored its result."""
        error = exc.error or "invalid_grant"
        if earlier is None:
            return f"refresh refused by {self.provider.name}: {error}"
        # The provider most likely rotated the refresh token for that lost request and now
        # treats the old one as replayed: only a new authorization helps.
        return (
            f"a refresh was interrupted at {earlier.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC "
            f"(process killed or response lost?); {self.provider.name} then refused the old "
            f"refresh token ({error}): reconnect"
        )

    async def _request_refresh(self, refresh_token: str) -> TokenResponse:
        """The refresh request (network failures retried), its outcome and time counted."""
        started = time.perf_counter()
        try:
            token = await self._send_refresh(refresh_token)
        except ConnectorOAuthRefreshTokenExpiredError:
            observe_refresh(self.provider.slug, "refused", time.perf_counter() - started)
            raise
        except Exception:
            observe_refresh(self.provider.slug, "error", time.perf_counter() - started)
            raise
        observe_refresh(self.provider.slug, "refreshed", time.perf_counter() - started)
        return token

    async def _send_refresh(self, refresh_token: str) -> TokenResponse:
        async for attempt in stamina.retry_context(
            on=ConnectorOAuthNetworkError,
            attempts=REFRESH_ATTEMPTS,
            wait_initial=REFRESH_WAIT_INITIAL,
            wait_exp_base=2,
            wait_jitter=0.5,
            timeout=None,
        ):
            with attempt:
                return await self.authenticator.refresh_token(refresh_token)
        raise AssertionError("unreachable")  # pragma: no cover

    async def disconnect(self, *, revoke: bool = True) -> bool:
        """Revoke at the provider (when it can) and delete the stored tokens."""
        data = await self.tokens.get_oauth_data(self.connector_config_id, self.user_id)
        if data is None:
            return False
        self._adopt(data)
        # A pasted key cannot be revoked from here: the user rolls it at the provider.
        if revoke and data.token_type != API_KEY_TOKEN_TYPE:
            held = {
                "refresh_token": _secret(data.refresh_token),
                "access_token": _secret(data.access_token),
            }
            try:
                hook = getattr(self.authenticator, "revoke_connection", None)
                if hook is not None:
                    await hook(held, data.metadata)
                else:
                    await revoke_tokens(self.authenticator, self.provider, held)
            except Exception as exc:  # the user asked to disconnect: never keep tokens for this
                logger.warning("revoking the %s token failed: %s", self.provider.slug, exc)
        return await self.tokens.clear_oauth_data(self.connector_config_id, self.user_id)

    def http_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An API client: base URL, the provider's headers, a timeout and ``ConnectorAuth``."""
        headers = {**self.provider.api_headers, **kwargs.pop("headers", {})}
        base = self.api_base_url
        if base is None and self.provider.api_base_from_token is not None:
            base = PENDING_BASE  # rebased by ConnectorAuth once the connection's base is read
        return httpx.AsyncClient(
            base_url=base or "",
            auth=ConnectorAuth(self),
            timeout=kwargs.pop("timeout", self.timeout),
            headers=headers,
            **kwargs,
        )


def _token(data: OAuthData) -> str:
    return data.access_token.get_secret_value()


#: The base URL of a client built before the connection's own API base was read.
PENDING_BASE = "https://connection-api-base.invalid"


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _to_connection_base(
    connector: BaseConnector, request: httpx.Request, moved_from: str = PENDING_BASE
) -> None:
    """Send ``request`` to the connection's own API host, and only there.

    For a provider whose token response names the API host, the bearer token must never go
    anywhere else: a request built on :data:`PENDING_BASE` is moved onto the connection's base;
    any other origin is refused before the token is attached. ``moved_from``: the base the
    request was built on (the former base, when a refresh named a new one).
    """
    base = connector.api_base_url
    if base is None:
        raise AItError(
            "API_BASE_UNKNOWN",
            f"{connector.provider.name}: this connection has no API base URL stored; reconnect it",
        )
    target = httpx.URL(base)
    url = request.url
    moved_from = moved_from.rstrip("/")
    if str(url).startswith(moved_from) and moved_from != str(target).rstrip("/"):
        rest = str(url)[len(moved_from) :]
        url = httpx.URL(str(target).rstrip("/") + rest)
        request.url = url
        request.headers["Host"] = url.netloc.decode("ascii")
    if _origin(url) != _origin(target):
        raise AItError(
            "FOREIGN_API_HOST",
            f"{connector.provider.name}: refusing to send this connection's token to "
            f"{url.scheme}://{url.host}, which is not its API host",
        )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class ConnectorAuth(httpx.Auth):
    """Adds the bearer token; on a 401 refreshes once and retries the request once.

    The token is held between requests (one client, one sync): it is read from the store (and
    refreshed if due) only for the first request, when it is about to expire, and after a 401.
    That is safe: a token another process refreshed meanwhile is found in the store at our next
    401 (the refresh then uses it instead of refreshing again) or at the held token's expiry.
    """

    def __init__(self, connector: BaseConnector) -> None:
        self.connector = connector
        self._held: OAuthData | None = None

    def __repr__(self) -> str:
        return f"ConnectorAuth({self.connector!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("ConnectorAuth needs an httpx.AsyncClient")

    async def _current(self) -> OAuthData:
        held = self._held
        if held is None or held.is_expired(skew=self.connector.skew):
            held = self._held = await self.connector.connect()
        return held

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        held = await self._current()
        token = _token(held)
        connector = self.connector
        rebased = connector.provider.api_base_from_token is not None
        if rebased:
            _to_connection_base(connector, request)
        request.headers.update(connector.request_headers(held))
        response = yield request
        if response.status_code != 401:
            return
        self._held = None
        if not connector.refreshes(held):
            # An API key (or a vendor's platform key) has nothing to refresh: only the user can
            # fix it. Ask for a reconnect at once, saying why.
            reason = connector.refused_reason(held)
            await connector.tokens.set_status(
                connector.connector_config_id, connector.user_id, TokenStatus.NEEDS_REAUTH, reason
            )
            raise AuthorizationRequiredError(
                f"{connector.provider.name} needs the user to reconnect: {reason}.", reason=reason
            )
        before = connector.api_base_url
        data = await connector.refresh(rejected_token=token)
        self._held = data
        if rebased and before:
            _to_connection_base(connector, request, moved_from=before)
        request.headers.update(connector.request_headers(data))
        response = yield request
        if response.status_code == 401:
            self._held = None
            # A token refreshed a moment ago is refused too: only the user can fix that
            # (access revoked, app uninstalled). Ask for a reconnect instead of retrying.
            await connector.tokens.set_status(
                connector.connector_config_id,
                connector.user_id,
                TokenStatus.NEEDS_REAUTH,
                "the API refused a freshly refreshed token",
            )
