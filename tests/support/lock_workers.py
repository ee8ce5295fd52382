"""OS processes for the two-process tests of tests/core/test_two_processes.py.

``consume_state``: consume one OAuth state; an engine hook holds every ``UPDATE oauth_states``
at a barrier shared with the other process, so that both have read the state as unused before
either writes, whenever the database lets them (SQLite's ``BEGIN IMMEDIATE`` does not, and the
barrier then gives up after its timeout).

``refresh``: ask a real ``BaseConnector`` for a token; its authenticator is scripted through
events shared with the test: the first process holds its refresh open until the test lets go.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import event

from ait_connectors.crypto import Cipher
from ait_connectors.factory import ConnectorServiceFactory
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.settings import Settings
from ait_connectors.storage.db import Database
from ait_connectors.storage.states import InvalidStateError, OAuthStateStore

WAIT = 60.0  # upper bound on any wait for the other party: a broken test fails, never hangs


def consume_state(args: dict[str, Any], barrier: Any, results: Any) -> None:
    """Consume ``args["state"]``; put ``"won"``, ``"used"`` or an error line on ``results``."""

    async def run() -> str:
        database = Database(args["db_url"])

        @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
        def hold(*hook_args: Any) -> None:
            statement: str = hook_args[2]
            if statement.lstrip().upper().startswith("UPDATE OAUTH_STATES"):
                # Broken when the other process cannot get here first (its write is serialised).
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=args["barrier_timeout"])

        states = OAuthStateStore(database, Cipher(bytes.fromhex(args["key"])))
        try:
            await states.consume(args["state"], provider=args["provider"])
            return "won"
        except InvalidStateError as exc:
            return exc.reason
        finally:
            await database.dispose()

    try:
        results.put(asyncio.run(run()))
    except BaseException as exc:  # report, don't hang the parent
        results.put(f"ERROR {type(exc).__name__}: {exc}")


class _HeldRefresh:
    """A refresh that, in the process called ``first``, waits for the test's ``go``."""

    def __init__(self, name: str, events: dict[str, Any], calls: Any) -> None:
        self.name, self.events, self.calls = name, events, calls

    async def refresh_token(self, refresh_token: str) -> TokenResponse:
        self.calls.put(f"{self.name} refreshed with {refresh_token}")
        if self.name == "first":
            self.events["first_inside"].set()
            await asyncio.to_thread(self.events["go"].wait, WAIT)
        else:
            self.events["second_inside"].set()
        return TokenResponse(
            access_token=SecretStr(f"access-from-{self.name}"),
            refresh_token=SecretStr(f"refresh-from-{self.name}"),
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )


def refresh(args: dict[str, Any], name: str, events: dict[str, Any], calls: Any, out: Any) -> None:
    """Get the connection's token; put ``(name, token or error)`` on ``out``."""

    async def run() -> str:
        database = Database(args["db_url"])
        factory = ConnectorServiceFactory(
            database, Cipher(bytes.fromhex(args["key"])), Settings(token_expiry_skew=0)
        )
        try:
            connector = await factory.get_connector(args["config_id"], args["user_id"])
            connector.authenticator = _HeldRefresh(name, events, calls)  # type: ignore[assignment]
            if name == "second":
                events["second_starting"].set()
            return await connector.get_access_token()
        finally:
            await database.dispose()

    try:
        out.put((name, asyncio.run(run())))
    except BaseException as exc:
        out.put((name, f"ERROR {type(exc).__name__}: {exc}"))
