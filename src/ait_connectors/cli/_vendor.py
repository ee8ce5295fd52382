"""Finding a provider's connector config from the CLI, and serving the gateway when needed."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from ..errors import ConfigurationError
from ..providers import get_provider
from ..registry import registered_vendors
from ..runtime import Connectors
from ..storage.configs import ConnectorConfig
from ._gateway import bind, gateway_in_background, is_loopback, split_origin

__all__ = ["find_config", "serving_gateway"]

logger = logging.getLogger(__name__)


async def find_config(
    connectors: Connectors, vendor: str, config_id: str | None = None
) -> ConnectorConfig:
    """The enabled config of ``vendor`` (or the one named), as this deployment's gateway uses
    it (the library's :func:`ait_connectors.connections.find_config`)."""
    from ..connections import find_config as find

    return await find(connectors, vendor, config_id)


def _origin(url: str) -> str:
    host, port = split_origin(url)
    scheme = url.split("://", 1)[0]
    return f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}"


@contextlib.asynccontextmanager
async def serving_gateway(
    connectors: Connectors, config: ConnectorConfig, *, for_callback: bool
) -> AsyncIterator[bool]:
    """Serve the gateway on loopback for this command when nothing listens there yet: at the
    config's redirect URI (``for_callback``) and, for a vendor that mounts its API on the
    gateway, where that API lives.

    Yields whether this command serves it (if not, a running gateway is assumed to).
    """
    urls = []
    if for_callback:
        urls.append(config.redirect_uri)
    registration = registered_vendors().get(config.provider)
    if registration is not None and registration.mount is not None:
        spec_api = get_provider(config.provider).api_base_url
        api = config.overrides.get("api_base_url") or (str(spec_api) if spec_api else None)
        urls.append(api or config.redirect_uri)
    origins = list(dict.fromkeys(_origin(u) for u in urls))
    async with contextlib.AsyncExitStack() as stack:
        served = False
        for origin in origins:
            host, port = split_origin(origin)
            if not is_loopback(host):
                continue
            try:
                sock = bind(host, port)
            except ConfigurationError:
                logger.debug("%s is taken: assuming a gateway serves it", origin)
                continue
            await stack.enter_async_context(gateway_in_background(connectors, sock, origin))
            served = True
        yield served
