"""Connection parameters and the per-connection API base: the catalogue's schema and checks.

A provider may need facts only the user knows (Salesforce: production, sandbox or a My Domain
login host; others: a subdomain, a region). It declares them as ``connection_params``; each is
constrained by allowed values and/or a full-match pattern, so a value can never inject another
host into a URL. Values are substituted as ``{name}`` into the provider's URLs.

A provider may also say that its token response names the connection's API host
(``api_base_from_token``, Salesforce ``instance_url``): that URL must be https and its host must
match one of the declared host patterns, or the token is refused, so a hostile token endpoint
cannot send our bearer token elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import ConfigurationError

__all__ = [
    "ApiBaseFromToken",
    "ConnectionParam",
    "check_api_base",
    "fill_params",
    "placeholders",
    "validate_params",
]

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}|%7B([a-z][a-z0-9_]*)%7D", re.IGNORECASE)
_MAX_VALUE = 253  # a DNS name's length; no parameter needs more


class ConnectionParam(BaseModel):
    """One field supplied when connecting: the allowed ``choices`` (value -> label) and/or a
    full-match ``pattern`` for other values. At least one of the two is required."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    description: str | None = None
    choices: dict[str, str] = Field(default_factory=dict)
    pattern: str | None = None
    pattern_hint: str | None = None  # what the pattern accepts, in words (shown on errors)
    default: str | None = None

    @model_validator(mode="after")
    def _constrained(self) -> ConnectionParam:
        if not self.choices and not self.pattern:
            raise ValueError("a connection parameter needs choices or a pattern (or both)")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        if self.default is not None and not self.accepts(self.default):
            raise ValueError(f"default {self.default!r} is not an allowed value")
        return self

    def accepts(self, value: str) -> bool:
        if not value or len(value) > _MAX_VALUE:
            return False
        if value in self.choices:
            return True
        return self.pattern is not None and re.fullmatch(self.pattern, value) is not None

    def allowed(self) -> str:
        """The allowed values, in words, for error messages and prompts."""
        parts = [f"{value} ({label})" for value, label in self.choices.items()]
        if self.pattern is not None:
            parts.append(self.pattern_hint or f"a value matching {self.pattern}")
        return ", ".join(parts)


class ApiBaseFromToken(BaseModel):
    """Where the token response names the connection's API base, and which hosts it may name.

    ``allowed_hosts`` are host names where a leading ``*.`` stands for one or more DNS labels
    (``*.my.salesforce.com``). The URL must be https, on the default port, without user info.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str = Field(min_length=1)  # dotted path in the token response
    allowed_hosts: tuple[str, ...] = Field(min_length=1)
    path: str = ""  # appended to the named origin (e.g. an API version prefix)


def placeholders(url: str) -> set[str]:
    """The ``{name}`` placeholders in ``url`` (raw or percent-encoded)."""
    return {a or b for a, b in _PLACEHOLDER.findall(url)}


def fill_params(url: str, values: Mapping[str, str]) -> str:
    """``url`` with each declared ``{name}`` replaced by its (validated) value, percent-encoded;
    ``{client_id}`` and unknown names are left for later."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in values:
            return quote(values[name], safe=":")  # host:port stays one; "/", "@", "?" never do
        return match.group(0)

    return _PLACEHOLDER.sub(one, url)


def validate_params(
    provider: str, declared: Mapping[str, ConnectionParam], given: Mapping[str, str] | None
) -> dict[str, str]:
    """The connection's parameter values: ``given`` checked against the declarations, defaults
    filled in. Raises :class:`ConfigurationError` saying which value is wrong and what is
    allowed; unknown names are refused too (a typo must not pass silently)."""
    given = {k: v.strip() for k, v in (given or {}).items() if v is not None and v.strip()}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise ConfigurationError(
            f"{provider}: unknown connection parameter {', '.join(unknown)} "
            f"(this provider takes: {known})",
            {"provider": provider},
        )
    values: dict[str, str] = {}
    for name, param in declared.items():
        value = given.get(name, param.default)
        if value is None:
            raise ConfigurationError(
                f"{provider}: connection parameter {name!r} ({param.label}) is required; "
                f"allowed: {param.allowed()}",
                {"provider": provider, "param": name},
            )
        if not param.accepts(value):
            raise ConfigurationError(
                f"{provider}: {value[:80]!r} is not a valid {param.label} ({name}); "
                f"allowed: {param.allowed()}",
                {"provider": provider, "param": name},
            )
        values[name] = value
    return values


def _host_matches(host: str, pattern: str) -> bool:
    pattern = pattern.lower()
    if pattern.startswith("*."):
        suffix = pattern[1:]
        head = host[: -len(suffix)] if host.endswith(suffix) else ""
        return bool(re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", head))
    return host == pattern


def check_api_base(
    provider: str, rule: ApiBaseFromToken, value: object, *, named_origin: str | None = None
) -> str:
    """The API base URL a token response named, checked; raises :class:`ConfigurationError`.

    ``named_origin``: an origin the connector config names itself (a local test server, a
    private deployment); a URL on exactly that origin is accepted too, http included.
    """
    where = f"{provider} token response: {rule.field}"
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where} is missing; the token was not stored")
    parts = urlsplit(value)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    ok_shape = (
        parts.username is None and parts.password is None and not parts.query and not parts.fragment
    )
    host = (parts.hostname or "").lower()
    if ok_shape and named_origin is not None and origin == named_origin.lower().rstrip("/"):
        return origin + rule.path
    if not (
        ok_shape
        and parts.scheme == "https"
        and port in (None, 443)
        and parts.path in ("", "/")
        and any(_host_matches(host, pattern) for pattern in rule.allowed_hosts)
    ):
        raise ConfigurationError(
            f"{where} names {value[:120]!r}, which is not an https URL on an allowed host "
            f"({', '.join(rule.allowed_hosts)}); the token was refused so that it is never "
            "sent to that host",
            {"provider": provider},
        )
    return f"https://{host}{rule.path}"
