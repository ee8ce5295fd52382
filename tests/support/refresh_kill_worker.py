"""A process that refreshes one connection and freezes once the provider has answered.

The refresh is real (``BaseConnector`` against the OAuth test server); only the HTTP transport
is wrapped: after the token endpoint's answer to a refresh has been read, the process prints
``ROTATED`` and waits forever, so that the test can SIGKILL it exactly between "the provider
rotated the refresh token" and "the new pair was stored". Run as
``python refresh_kill_worker.py '<json args>'``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx

from ait_connectors.crypto import Cipher
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.oauth import ConnectorAuthenticator
from ait_connectors.providers import register_provider
from ait_connectors.providers.spec import ProviderSpec
from ait_connectors.storage.db import Database


class FreezeAfterRefresh(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if b"grant_type=refresh_token" in request.content:
            await response.aread()
            print("ROTATED", response.status_code, flush=True)
            await asyncio.Event().wait()  # until SIGKILL
        return response


async def main(args: dict[str, Any]) -> None:
    spec = ProviderSpec.model_validate(args["spec"])
    register_provider(spec)
    database = Database(args["db_url"])
    factory = ConnectorServiceFactory(database, Cipher(bytes.fromhex(args["key"])))
    config = await factory.configs.get(args["config_id"])
    connector = factory.build_connector(config, args["user_id"])
    http = httpx.AsyncClient(transport=FreezeAfterRefresh())
    connector.authenticator = ConnectorAuthenticator.from_config(
        spec, config.oauth_config(), http_client=http
    )
    print("READY", flush=True)
    await connector.get_access_token()
    print("UNEXPECTED: the refresh completed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
