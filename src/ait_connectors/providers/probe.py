"""``providers check --probe``: does each entry's endpoint answer as the entry claims?

Two requests per OAuth entry, both bound to fail: an authorization request with a bogus client
(the endpoint should answer a page or a redirect, not 404 or 5xx) and a code exchange with a
bogus code and client (the endpoint should answer an OAuth error JSON such as
``invalid_client`` or ``invalid_grant``). No credential of any kind is sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from .params import fill_params
from .spec import ProviderSpec

__all__ = ["ProbeResult", "probe_catalogue", "probe_entry"]

_CLIENT_ID = "ait-connectors-probe"
_REDIRECT = "https://127.0.0.1/ait-connectors-probe/callback"


@dataclass(frozen=True)
class ProbeResult:
    """One endpoint of one entry: ``ok`` and what was seen (``detail``)."""

    slug: str
    endpoint: str  # "authorize" | "token"
    ok: bool | None  # None: not probed (``detail`` says why)
    detail: str

    def __str__(self) -> str:
        mark = {True: "ok", False: "FAIL", None: "skip"}[self.ok]
        return f"{self.slug} {self.endpoint}: {mark} ({self.detail})"


def _values(spec: ProviderSpec, given: Mapping[str, str]) -> dict[str, str] | str:
    """Connection parameter values to probe with (given, else the default, else the first
    choice), or why there are none (a per-customer host without a default)."""
    values = {}
    for name, param in spec.connection_params.items():
        value = given.get(name) or param.default or next(iter(param.choices), None)
        if value is None:
            return f"needs --param {spec.slug}.{name}=…"
        values[name] = value
    return values | {"client_id": _CLIENT_ID}


async def _authorize(http: httpx.AsyncClient, spec: ProviderSpec, url: str) -> ProbeResult:
    query = {
        "response_type": "code",
        "client_id": _CLIENT_ID,
        "redirect_uri": _REDIRECT,
        "state": "ait-connectors-probe",
        spec.scope_param: spec.scope_separator.join(spec.default_scopes),
        **spec.extra_authorize_params,
    }
    separator = "&" if "?" in url else "?"
    try:
        response = await http.get(f"{url}{separator}{urlencode(query)}")
    except httpx.HTTPError as exc:
        return ProbeResult(spec.slug, "authorize", False, f"no answer: {type(exc).__name__}")
    status = response.status_code
    ok = status < 400 or status in (400, 401, 403)
    return ProbeResult(spec.slug, "authorize", ok, f"HTTP {status}")


def _token_request(spec: ProviderSpec) -> dict[str, object]:
    fields = {
        "grant_type": "authorization_code",
        "code": "ait-connectors-probe-code",
        "redirect_uri": _REDIRECT,
        "client_id": _CLIENT_ID,
    }
    headers = dict(spec.token_request_headers)
    secret = "ait-connectors-probe-secret"
    method = spec.client_auth_method
    if method in ("client_secret_basic", "client_secret_basic_json"):
        basic = base64.b64encode(f"{_CLIENT_ID}:{secret}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    elif method == "client_secret_post":
        fields["client_secret"] = secret
    if method == "client_secret_basic_json":
        return {"json": fields, "headers": headers}
    return {"data": fields, "headers": headers}


def _oauth_error(response: httpx.Response) -> str | None:
    """The ``error`` of an OAuth (or Slack ``ok: false``) error body, else ``None``."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str | dict):
        error = body["error"]
        return error if isinstance(error, str) else str(error.get("code") or error)
    return None


async def _token(http: httpx.AsyncClient, spec: ProviderSpec, url: str) -> ProbeResult:
    try:
        response = await http.post(url, **_token_request(spec))  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        return ProbeResult(spec.slug, "token", False, f"no answer: {type(exc).__name__}")
    status = response.status_code
    error = _oauth_error(response)
    if status >= 500 or status == 404 or error is None:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return ProbeResult(spec.slug, "token", False, f"HTTP {status}, {kind}, no OAuth error")
    return ProbeResult(spec.slug, "token", True, f"HTTP {status} {error}")


async def probe_entry(
    http: httpx.AsyncClient, spec: ProviderSpec, params: Mapping[str, str] | None = None
) -> list[ProbeResult]:
    """Probe one entry's authorization and token endpoints (an API-key entry is skipped);
    ``params``: connection parameter values (a per-customer host)."""
    if not spec.uses_oauth or spec.authorize_url is None or spec.token_url is None:
        return [ProbeResult(spec.slug, "oauth", None, "no OAuth endpoints")]
    values = _values(spec, params or {})
    if isinstance(values, str):
        return [ProbeResult(spec.slug, "oauth", None, values)]
    authorize = fill_params(str(spec.authorize_url), values)
    token = fill_params(str(spec.token_url), values)
    return list(await asyncio.gather(_authorize(http, spec, authorize), _token(http, spec, token)))


async def probe_catalogue(
    specs: Iterable[ProviderSpec],
    *,
    params: Mapping[str, Mapping[str, str]] | None = None,
    timeout: float = 15.0,
    concurrency: int = 8,
) -> list[ProbeResult]:
    """Probe every entry, ``concurrency`` at a time; results in the entries' order.
    ``params``: slug -> connection parameter values."""
    gate = asyncio.Semaphore(concurrency)
    headers = {"User-Agent": "ait-connectors providers check --probe"}
    async with httpx.AsyncClient(timeout=timeout, headers=headers) as http:

        async def one(spec: ProviderSpec) -> list[ProbeResult]:
            async with gate:
                return await probe_entry(http, spec, (params or {}).get(spec.slug))

        found = await asyncio.gather(*(one(spec) for spec in specs))
    return [result for results in found for result in results]
