"""Where a webhook may go: checked URLs, and the one address a delivery connects to.

A target is refused when its host resolves to a loopback, private, link-local or otherwise
non-public address, unless the deployment allows them (``AIT_WEBHOOKS_ALLOW_PRIVATE``; on by
default only on the embedded SQLite default, for local development). The check runs at
registration and again at every delivery, on the addresses the resolver returns *then*; the
request is sent to the checked address itself (the URL's host kept in ``Host`` and in TLS's
server name), so a DNS answer that changes between the check and the connection (rebinding)
cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ..errors import AItError

__all__ = [
    "Resolver",
    "Target",
    "TargetRefusedError",
    "check_url",
    "forbidden_reason",
    "resolve_target",
    "system_resolver",
]

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL = 2000


class TargetRefusedError(AItError):
    """The URL is malformed, or resolves to an address this deployment does not send to."""

    def __init__(self, message: str) -> None:
        super().__init__("WEBHOOK_TARGET_REFUSED", message)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public one (``None``: it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "non-public"
    return None


def check_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a well-formed http(s) URL without credentials in it."""
    if len(url) > MAX_URL:
        raise TargetRefusedError(f"The webhook URL is longer than {MAX_URL} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefusedError(f"The webhook URL is malformed: {exc}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefusedError("The webhook URL must be http:// or https:// with a host.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefusedError(
            "The webhook URL must not carry credentials (user:password@): receivers verify "
            "the signature instead."
        )
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class Target:
    """Where one attempt connects: ``url`` has the checked address in place of the host."""

    url: str
    host_header: str
    server_name: str | None  # TLS SNI and certificate name (https only)
    address: str


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve_target(url: str, *, allow_private: bool, resolver: Resolver) -> Target:
    """Check ``url`` and pick the address to connect to; :class:`TargetRefusedError` if not."""
    scheme, host, port = check_url(url)
    literal = _literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await resolver(host, port)
        except OSError as exc:
            raise TargetRefusedError(
                f"The webhook host {host!r} cannot be resolved: {exc}."
            ) from None
        if not addresses:
            raise TargetRefusedError(f"The webhook host {host!r} resolves to no address.")
    parsed = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if not allow_private:
        for address in parsed:
            reason = forbidden_reason(address)
            if reason is not None:
                raise TargetRefusedError(
                    f"The webhook host {host!r} resolves to a {reason} address ({address}): "
                    "refused. Use a public address, or allow private targets with "
                    "AIT_WEBHOOKS_ALLOW_PRIVATE=true (local development)."
                )
    chosen = parsed[0]
    parts = urlsplit(url)
    netloc_host = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    pinned = urlunsplit(parts._replace(netloc=f"{netloc_host}:{port}"))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(
        url=pinned,
        host_header=host_header,
        server_name=host if scheme == "https" and literal is None else None,
        address=str(chosen),
    )
