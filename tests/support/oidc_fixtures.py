"""Pytest fixtures for the real OAuth 2.0 test server.

Register them from ``tests/conftest.py`` with ``pytest_plugins = ["support.oidc_fixtures"]``
(``tests/`` is on ``sys.path`` because it has no ``__init__.py``), or star-import this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support.oidc import OidcServer

__all__ = ["oidc_server", "oidc_server_factory"]

OidcServerFactory = Callable[..., OidcServer]


@pytest.fixture(scope="session")
def oidc_server() -> Iterator[OidcServer]:
    """One server for the whole session: refresh token rotation on, access tokens live 3 s.

    Shared: call ``oidc_server.reset_stats()`` before asserting on counters.
    """
    server = OidcServer(access_token_ttl=3, rotate_refresh_token=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def oidc_server_factory() -> Iterator[OidcServerFactory]:
    """``oidc_server_factory(**options)`` starts a dedicated server (options: the fields of
    :class:`support.oidc.OidcServer`, e.g. ``rotate_refresh_token=False``); all the servers
    it started are stopped when the test ends."""
    servers: list[OidcServer] = []

    def factory(**options: Any) -> OidcServer:
        server = OidcServer(**options)
        servers.append(server)
        return server.start()

    try:
        yield factory
    finally:
        for server in servers:
            server.stop()
