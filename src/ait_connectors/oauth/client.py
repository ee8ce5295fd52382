"""``ConnectorOAuth``: the OAuth 2.0 client of one provider config, built on Authlib.

Authlib (``AsyncOAuth2Client``) builds the requests: authorization URL, token and refresh bodies,
client authentication (``client_secret_basic``/``_post``/``none``) and PKCE parameters. What
Authlib cannot express is added here, through its extension points:

- HTTP Basic + JSON body at the token endpoint (``client_secret_basic_json``): a registered
  client-auth method;
- every token response goes through ``access_token_response`` / ``refresh_token_response``
  compliance hooks that map failures onto our errors *before* Authlib parses the body (HTTP 200
  ``ok: false`` or ``error`` bodies, form-encoded bodies);
- revocation is one generic httpx request described by the catalogue (``ProviderSpec.revoke``:
  method, client authentication, where the token goes, body format), with no per-vendor branch.

Every failure is mapped in this module only: non-2xx or an error body ->
:class:`ConnectorOAuthRequestError` (``invalid_grant`` & co. on refresh ->
:class:`ConnectorOAuthRefreshTokenExpiredError`), 2xx that is not a usable JSON token ->
:class:`ConnectorOAuthJsonParseError`, timeouts and connection errors ->
:class:`ConnectorOAuthNetworkError`. No message carries a token, secret, code or verifier.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self, TypeVar, cast
from urllib.parse import parse_qsl

import httpx

from ait_connectors.errors import (
    AItError,
    ConfigurationError,
    ConnectorOAuthJsonParseError,
    ConnectorOAuthNetworkError,
    ConnectorOAuthRefreshTokenExpiredError,
    ConnectorOAuthRequestError,
    redact,
)
from ait_connectors.oauth.config import OAuthClientConfig, ResolvedOAuthConfig
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.providers.params import check_api_base
from ait_connectors.providers.spec import LIFETIME_SECONDS, ProviderSpec

__all__ = ["REFRESH_TOKEN_REJECTED_ERRORS", "ConnectorOAuth"]

_T = TypeVar("_T")
logger = logging.getLogger(__name__)

#: Error codes meaning "this refresh token is dead, the user must reconnect": RFC 6749's
#: ``invalid_grant``, Slack's ``invalid_refresh_token``/``token_expired``/``token_revoked``,
#: GitHub App's ``bad_refresh_token``.
REFRESH_TOKEN_REJECTED_ERRORS: Final = frozenset(
    {
        "invalid_grant",
        "invalid_refresh_token",
        "bad_refresh_token",
        "token_expired",
        "token_revoked",
    }
)

_KNOWN_TOKEN_TYPES: Final = frozenset({"bearer", "dpop", "mac"})
# Set by Authlib itself; a caller overriding them would produce a broken or ambiguous request.
_RESERVED_AUTHORIZE_PARAMS: Final = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
    }
)
_TOKEN_REQUEST_HEADERS: Final = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}


# ----------------------------------------------------------------------------------------------
# Response helpers


def _is_success(status: int) -> bool:
    return 200 <= status < 300


def _parse_body(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a dict: a JSON object, or form fields (GitHub without ``Accept``)."""
    text = response.text
    content_type = response.headers.get("content-type", "").lower()
    if "application/x-www-form-urlencoded" in content_type:
        fields = parse_qsl(text.strip(), keep_blank_values=True)
        return dict(fields) if fields else None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _carries_error(payload: Mapping[str, Any]) -> bool:
    # Slack answers HTTP 200 {"ok": false}; GitHub answers HTTP 200 {"error": …}.
    return payload.get("ok") is False or bool(payload.get("error"))


def _error_fields(payload: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """``(error, error_description)`` from RFC 6749, Slack or Notion-style error bodies."""
    if payload is None:
        return None, None
    error: Any = payload.get("error")
    description: Any = payload.get("error_description")
    if isinstance(error, Mapping):  # {"error": {"code"|"status": …, "message": …}}
        description = description or error.get("message")
        error = error.get("code") or error.get("status")
    if not error and payload.get("object") == "error":  # Notion API style
        error = payload.get("code")
        description = description or payload.get("message")
    return (
        redact(str(error), 100) if error else None,
        redact(str(description), 300) if description else None,
    )


def _request_time() -> datetime:
    """Now, truncated to the second: the origin ``expires_in`` is counted from.

    Servers stamp tokens with whole-second ``iat``/``exp`` (issued ``iat + expires_in``), and
    they issue the token after our request left. Counting from the start of the second the
    request was sent therefore never puts ``expires_at`` after the server's real expiry.
    """
    return datetime.now(UTC).replace(microsecond=0)


def _dig(data: Any, path: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; ``None`` when any step is missing."""
    for key in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _valid_expires_in(token_set: Mapping[str, Any]) -> bool:
    value = token_set.get("expires_in")
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return False
    try:
        return float(value) >= 0
    except (TypeError, ValueError):
        return False


def _normalised(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A copy Authlib can parse: numeric ``expires_in`` and no empty ``error`` key."""
    result = dict(payload)
    if not result.get("error"):
        result.pop("error", None)  # Authlib treats any "error" key as a failure
    expires_in = result.get("expires_in")
    if isinstance(expires_in, str):
        # Authlib does int(expires_in), which refuses "3600.0"; validated numeric before.
        result["expires_in"] = float(expires_in) if expires_in else None
    return result


# ----------------------------------------------------------------------------------------------


class ConnectorOAuth:
    """The OAuth 2.0 client of one provider (:class:`ProviderSpec`) and one app registration.

    Use as ``async with ConnectorOAuth(spec, config) as oauth: …`` or call :meth:`aclose`.
    A given ``http_client`` is used for every request and is *not* closed by :meth:`aclose`.
    Every request carries ``timeout`` (seconds).
    """

    def __init__(
        self,
        spec: ProviderSpec,
        config: OAuthClientConfig,
        *,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        params: Mapping[str, str] | None = None,
    ) -> None:
        self._spec = spec
        self._config = config
        self._params = dict(params or {})
        self._endpoints = config.resolve(spec, self._params)
        self._timeout = timeout
        self._given_http = http_client
        self._made_http: httpx.AsyncClient | None = None
        self._made_client: Any = None

    @property
    def _http(self) -> httpx.AsyncClient:
        """The HTTP client of every request (built on first use: a sync never needs it)."""
        if self._given_http is not None:
            return self._given_http
        if self._made_http is None:
            self._made_http = httpx.AsyncClient(timeout=self._timeout)
        return self._made_http

    @property
    def _client(self) -> Any:
        """Authlib's client, built on first use: Authlib is imported only when a token request
        or an authorization URL is made."""
        if self._made_client is None:
            from ._authlib import authlib_client

            config, spec = self._config, self._spec
            self._made_client = authlib_client(
                self._http,
                client_id=config.client_id,
                client_secret=(
                    config.client_secret.get_secret_value() if config.client_secret else None
                ),
                token_endpoint_auth_method=(
                    "none" if config.client_secret is None else spec.client_auth_method
                ),
                redirect_uri=config.redirect_uri,
                on_exchange=self._on_exchange_response,
                on_refresh=self._on_refresh_response,
            )
        return self._made_client

    # -- properties ----------------------------------------------------------------------------

    @property
    def spec(self) -> ProviderSpec:
        """The provider facts this client follows."""
        return self._spec

    @property
    def config(self) -> OAuthClientConfig:
        """The app registration (client id, secret, redirect URI, overrides)."""
        return self._config

    @property
    def endpoints(self) -> ResolvedOAuthConfig:
        """Effective URLs and scopes (config overrides applied over the catalogue)."""
        return self._endpoints

    @property
    def params(self) -> dict[str, str]:
        """The connection parameter values substituted into the URLs (validated by the caller)."""
        return dict(self._params)

    @property
    def supports_revocation(self) -> bool:
        """False when the provider has no revocation endpoint (:meth:`revoke` does nothing)."""
        return self._endpoints.revoke_url is not None

    def __repr__(self) -> str:
        return f"ConnectorOAuth(provider={self._spec.slug!r}, client_id={self._config.client_id!r})"

    # -- lifecycle -----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP client if this instance created it."""
        if self._made_client is not None:
            await self._made_client.aclose()  # Authlib's own (unused) connection pool
        if self._made_http is not None:
            await self._made_http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- authorization -------------------------------------------------------------------------

    def authorization_url(
        self,
        state: str,
        *,
        code_challenge: str | None = None,
        extra_params: dict[str, str] | None = None,
    ) -> str:
        """The URL to send the user to.

        Scopes are joined with ``spec.scope_separator`` into ``spec.scope_param``; the spec's
        ``extra_authorize_params`` are added, then ``extra_params`` (which win). With a
        ``code_challenge`` the request is S256 PKCE, except for providers whose spec says PKCE is
        ``unsupported`` (the challenge is then left out, and the verifier later too).

        Raises :class:`ConfigurationError` when the provider requires PKCE and no challenge is
        given, or when ``extra_params`` tries to set a parameter this method owns.
        """
        spec = self._spec
        if not state:
            raise ConfigurationError("authorization_url: state must not be empty")
        self._endpoints.require_params(spec.slug, self._endpoints.authorize_url)
        if spec.pkce == "required" and not code_challenge:
            raise ConfigurationError(
                f"{spec.name} requires PKCE: pass code_challenge (see generate_pkce_pair())",
                {"provider": spec.slug},
            )
        params: dict[str, str] = {}
        scope = spec.scope_separator.join(self._endpoints.scopes)
        if scope:
            params[spec.scope_param] = scope
        params.update(spec.extra_authorize_params)
        if extra_params:
            reserved = sorted(_RESERVED_AUTHORIZE_PARAMS.intersection(extra_params))
            if reserved:
                raise ConfigurationError(
                    f"authorization_url: extra_params may not set {', '.join(reserved)}"
                )
            params.update(extra_params)
        params.update(self._resource())
        if code_challenge and spec.pkce != "unsupported":
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"
        url, _ = self._client.create_authorization_url(
            self._endpoints.authorize_url, state=state, **params
        )
        return cast(str, url)

    # -- token endpoint ------------------------------------------------------------------------

    async def get_access_token(self, code: str, code_verifier: str | None = None) -> TokenResponse:
        """Exchange an authorization ``code`` (and PKCE ``code_verifier``) for tokens."""
        spec = self._spec
        if not code:
            raise ConfigurationError("get_access_token: the authorization code is empty")
        if spec.pkce == "required" and not code_verifier:
            raise ConfigurationError(
                f"{spec.name} requires PKCE: pass the code_verifier stored with the state",
                {"provider": spec.slug},
            )
        self._endpoints.require_params(spec.slug, self._endpoints.token_url)
        grant: dict[str, str] = {"code": code, **self._resource()}
        if code_verifier and spec.pkce != "unsupported":
            grant["code_verifier"] = code_verifier
        token_url = self._endpoints.token_url
        sent_at = _request_time()
        payload = await self._call(
            "token exchange",
            token_url,
            lambda: self._client.fetch_token(
                token_url,
                grant_type="authorization_code",
                headers=self._token_headers(),
                timeout=self._timeout,
                **grant,
            ),
        )
        return self._token_response(payload, refresh=False, sent_at=sent_at)

    async def refresh_access_token(self, refresh_token: str) -> TokenResponse:
        """Trade a refresh token for a new token set.

        When the provider does not return a new refresh token (Google, Spotify at times), the
        result carries the one presented, so that it is never lost. A refused refresh token
        raises :class:`ConnectorOAuthRefreshTokenExpiredError`.
        """
        if not refresh_token:
            raise ConfigurationError("refresh_access_token: the refresh token is empty")
        if not self._spec.refresh.offered:
            raise ConfigurationError(
                f"{self._spec.name} issues no refresh tokens (its catalogue entry says "
                "refresh.offered = false): the user must reconnect"
            )
        self._endpoints.require_params(self._spec.slug, self._endpoints.token_url)
        token_url = self._endpoints.token_url
        sent_at = _request_time()
        payload = await self._call(
            "token refresh",
            token_url,
            lambda: self._client.refresh_token(
                token_url,
                refresh_token=refresh_token,
                headers=self._token_headers(),
                timeout=self._timeout,
                **self._resource(),
            ),
        )
        return self._token_response(
            payload, refresh=True, sent_at=sent_at, presented_refresh_token=refresh_token
        )

    # -- revocation ----------------------------------------------------------------------------

    async def revoke(
        self,
        token: str,
        *,
        token_type_hint: str = "access_token",  # noqa: S107 (a hint name, not a secret)
    ) -> None:
        """Revoke ``token`` at the provider, as its catalogue entry's ``revoke`` table says.

        Providers without a revocation endpoint (Spotify: users remove access in their account
        settings) make this a no-op that returns without any request; so does a config whose
        revocation host is not one it names (a warning says how to set ``revoke_url``). Check
        :attr:`supports_revocation` to tell the user. A provider refusal raises
        :class:`ConnectorOAuthRequestError`.
        """
        url = self._endpoints.revoke_url
        if url is None:
            if self._endpoints.revoke_skipped:
                logger.warning(
                    "%s: token not revoked at the provider: %s",
                    self._spec.name,
                    self._endpoints.revoke_skipped,
                )
            return
        if not token:
            raise ConfigurationError("revoke: the token is empty")
        self._endpoints.require_params(self._spec.slug, url)
        fields: dict[str, str] = {}
        auth = self._revoke_client_auth(fields)
        request = self._revoke_request(url, token, token_type_hint, fields)
        response = await self._call(
            "token revocation", url, lambda: self._http.send(request, auth=auth)
        )
        self._check_revoke_response(response)

    def _revoke_request(
        self, url: str, token: str, token_type_hint: str, fields: dict[str, str]
    ) -> httpx.Request:
        """The one generic revocation request, built from ``spec.revoke``."""
        how = self._spec.revoke
        headers = {"Accept": "application/json"}
        if how.send_api_headers:
            headers.update(self._spec.api_headers)
        if how.token_in == "bearer":
            headers["Authorization"] = f"Bearer {token}"
        else:
            fields[how.token_field] = token
        if how.send_token_type_hint and token_type_hint:
            fields["token_type_hint"] = token_type_hint
        content: dict[str, Any] = {}
        if fields:
            content = {"json": fields} if how.body_format == "json" else {"data": fields}
        return self._http.build_request(
            how.http_method,
            url,
            headers=headers,
            timeout=self._timeout,
            **content,
        )

    def _revoke_client_auth(self, fields: dict[str, str]) -> httpx.Auth | None:
        """Client credentials of the revocation request: HTTP Basic, or added to ``fields``."""
        method = self._spec.revoke.client_auth
        secret = self._config.client_secret
        if method == "none":
            return None
        if method == "token_endpoint":
            if secret is None:  # a public client identifies itself (RFC 6749 section 2.3)
                fields["client_id"] = self._config.client_id
                return None
            method = "client_secret_post"
            if self._spec.client_auth_method in ("client_secret_basic", "client_secret_basic_json"):
                method = "client_secret_basic"
        if secret is None:
            raise ConfigurationError(
                f"{self._spec.name} token revocation needs the client secret ({method})",
                {"provider": self._spec.slug},
            )
        if method == "client_secret_post":
            fields.update(client_id=self._config.client_id, client_secret=secret.get_secret_value())
            return None
        return httpx.BasicAuth(self._config.client_id, secret.get_secret_value())

    def _check_revoke_response(self, response: httpx.Response) -> None:
        payload = _parse_body(response) if response.content else None
        if not _is_success(response.status_code) or (
            payload is not None and _carries_error(payload)
        ):
            raise self._request_error("token revocation", response, payload, refresh=False)

    # -- the one place where responses become tokens or errors -------------------------------

    def _token_headers(self) -> dict[str, str]:
        return {**_TOKEN_REQUEST_HEADERS, **self._spec.token_request_headers}

    def _resource(self) -> dict[str, str]:
        """The RFC 8707 ``resource`` parameter, on every request when the config names one."""
        resource = self._config.resource
        return {"resource": resource} if resource else {}

    async def _call(self, operation: str, url: str, send: Callable[[], Awaitable[_T]]) -> _T:
        """Run one request and map transport failures; HTTP-level mapping is in the hooks."""
        name = self._spec.name
        metadata = {"provider": self._spec.slug, "operation": operation}
        host = httpx.URL(url).host
        try:
            return await send()
        except AItError:
            raise
        except httpx.TimeoutException as exc:
            # "from None": the httpx exception holds the request, whose body carries secrets.
            raise ConnectorOAuthNetworkError(
                f"{name} {operation} timed out after {self._timeout:g}s "
                f"({type(exc).__name__}, {host})",
                metadata,
            ) from None
        except httpx.UnsupportedProtocol:
            raise ConfigurationError(
                f"{name} {operation}: unsupported URL scheme for {host or url!r}", metadata
            ) from None
        except httpx.RequestError as exc:
            raise ConnectorOAuthNetworkError(
                f"{name} {operation} failed: {type(exc).__name__} ({host}): "
                f"{redact(str(exc), 200)}",
                metadata,
            ) from None

    def _on_exchange_response(self, response: httpx.Response) -> httpx.Response:
        return self._check_token_response(response, refresh=False)

    def _on_refresh_response(self, response: httpx.Response) -> httpx.Response:
        return self._check_token_response(response, refresh=True)

    def _check_token_response(self, response: httpx.Response, *, refresh: bool) -> httpx.Response:
        """Raise for anything that is not a token; hand Authlib a clean JSON body otherwise."""
        operation = "token refresh" if refresh else "token exchange"
        name = self._spec.name
        status = response.status_code
        payload = _parse_body(response)
        if not _is_success(status) or (payload is not None and _carries_error(payload)):
            raise self._request_error(operation, response, payload, refresh=refresh)
        if payload is None:
            raise ConnectorOAuthJsonParseError(
                status,
                response.text,
                f"{name} {operation} answered HTTP {status} with a body that is not a JSON object",
            )
        token_set = self._select_token_set(payload, refresh=refresh)
        if token_set is None:
            where = f" under {self._spec.token_path!r}" if self._spec.token_path else ""
            raise ConnectorOAuthJsonParseError(
                status,
                response.text,
                f"{name} {operation} answered HTTP {status} without an access_token{where}",
            )
        if not (_valid_expires_in(token_set) and _valid_expires_in(payload)):
            raise ConnectorOAuthJsonParseError(
                status,
                response.text,
                f"{name} {operation} answered HTTP {status} with an invalid expires_in",
            )
        # Authlib parses JSON only: give it JSON whatever the vendor sent (GitHub may send form).
        return httpx.Response(status, json=_normalised(payload), request=response.request)

    def _request_error(
        self,
        operation: str,
        response: httpx.Response,
        payload: Mapping[str, Any] | None,
        *,
        refresh: bool,
    ) -> ConnectorOAuthRequestError:
        status = response.status_code
        error, description = _error_fields(payload)
        cls = ConnectorOAuthRequestError
        # invalid_grant & co. at 400/401, or inside a 2xx body (Slack), means the refresh token is
        # dead; other failures (invalid_client, 5xx) are not the user's to fix by reconnecting.
        if (
            refresh
            and error in REFRESH_TOKEN_REJECTED_ERRORS
            and (status in (400, 401) or _is_success(status))
        ):
            cls = ConnectorOAuthRefreshTokenExpiredError
        detail = f"HTTP {status}"
        if error:
            detail += f" {error}"
        if description:
            detail += f": {description}"
        return cls(
            status,
            response.text,
            f"{self._spec.name} {operation} failed ({detail})",
            error=error,
            error_description=description,
        )

    def _select_token_set(
        self, payload: Mapping[str, Any], *, refresh: bool
    ) -> Mapping[str, Any] | None:
        """The user's token set: ``spec.token_path`` (Slack ``authed_user``) or the top level."""
        path = self._spec.token_path
        if path:
            nested = _dig(payload, path)
            if isinstance(nested, Mapping) and nested.get("access_token"):
                return nested
            # A refresh concerns the one token presented; Slack answers it at the top level.
            # On an exchange the top-level token is another one (Slack's bot token): never take it.
            if refresh and payload.get("access_token"):
                return payload
            return None
        return payload if payload.get("access_token") else None

    def _token_response(
        self,
        payload: Mapping[str, Any],
        *,
        refresh: bool,
        sent_at: datetime,
        presented_refresh_token: str | None = None,
    ) -> TokenResponse:
        """Normalise a checked payload; ``expires_in`` counts from ``sent_at``."""
        token_set = self._select_token_set(payload, refresh=refresh)
        if token_set is None:  # the hook already refused this; kept for type narrowing
            raise ConnectorOAuthJsonParseError(200, "", "token response without an access_token")
        fields = dict(token_set)
        token_type = str(fields.get("token_type") or "bearer").lower()
        # Slack labels its tokens "user"/"bot": those are used as Bearer tokens.
        fields["token_type"] = token_type if token_type in _KNOWN_TOKEN_TYPES else "bearer"
        if refresh and not fields.get("refresh_token") and presented_refresh_token:
            fields["refresh_token"] = presented_refresh_token
        if not self._spec.refresh.offered:
            # Never kept, so never presented: at expiry the user reconnects (needs_reauth).
            fields.pop("refresh_token", None)
        unit = LIFETIME_SECONDS[self._spec.token_lifetime_unit]
        if unit != 1 and fields.get("expires_in") not in (None, ""):
            fields["expires_in"] = float(fields["expires_in"]) * unit
        metadata = {
            name: value
            for name, path in self._spec.metadata_fields.items()
            if (value := _dig(payload, path)) is not None
        }
        token = TokenResponse.from_payload(
            fields, now=sent_at, metadata=metadata, scope_separator=self._spec.scope_separator
        )
        api_base = self._api_base(payload, refresh=refresh)
        return token.model_copy(update={"api_base_url": api_base}) if api_base else token

    def _api_base(self, payload: Mapping[str, Any], *, refresh: bool) -> str | None:
        """The connection's API base named by the token response, checked (see
        :func:`~ait_connectors.providers.params.check_api_base`); a refresh may omit it."""
        rule = self._spec.api_base_from_token
        if rule is None:
            return None
        value = _dig(payload, rule.field)
        if value is None and refresh:
            return None  # the stored one stays
        override = self._config.api_base_url
        named = None
        if override is not None:
            parts = httpx.URL(override)
            named = f"{parts.scheme}://{parts.netloc.decode()}"
        try:
            return check_api_base(self._spec.slug, rule, value, named_origin=named)
        except ConfigurationError as exc:
            # Not the provider's error body: nothing of the response (it holds the token) kept.
            raise ConnectorOAuthRequestError(
                200, "", exc.message, error="untrusted_api_base"
            ) from None
