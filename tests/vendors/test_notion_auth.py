"""Notion tokens through the real OAuth client against the local Notion token endpoint: the code
exchange (HTTP Basic, a JSON body, ``Notion-Version``), tokens without expiry refreshed only on
a 401, rotating refresh tokens (``refresh_token: null`` keeps the old one), a refused refresh
(``invalid_grant`` in Notion's error shape) → ``needs_reauth``, and revocation on disconnect."""

from __future__ import annotations

import base64
import json
import multiprocessing
from typing import Any

import notion_refresh_worker
import pytest
from notion_mock import BOT, CLIENT_ID, CLIENT_SECRET, VERSION, WORKSPACE, NotionMock
from vendor_testkit import RACE_ON_POSTGRESQL, Setup, run

from ait_connectors.errors import ConnectorOAuthRequestError
from ait_connectors.sync import SyncRunResult, sync

TOKEN = "/v1/oauth/token"
REVOKE = "/v1/oauth/revoke"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()


async def run_as(setup: Setup, user_id: str, entity_type: str) -> SyncRunResult:
    (result,) = await sync(
        setup.config.id,
        user_id,
        [entity_type],
        database=setup.database,
        cipher=setup.cipher,
    )
    return result


def token_bodies(mock: NotionMock, path: str = TOKEN) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in mock.requests(path, method="POST")]


async def test_code_exchange_is_basic_json_with_the_version(
    notion: Setup, notion_mock: NotionMock
) -> None:
    notion_mock.codes.add("code-from-the-callback")
    connector = await notion.factory.get_connector(notion.config.id, "user-2")
    data = await connector.connect("code-from-the-callback")
    (request,) = notion_mock.requests(TOKEN, method="POST")
    assert request.headers["authorization"] == BASIC
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["notion-version"] == VERSION
    # Credentials only in the header; no PKCE verifier (Notion documents none).
    assert json.loads(request.body) == {
        "grant_type": "authorization_code",
        "code": "code-from-the-callback",
        "redirect_uri": "http://127.0.0.1:8765/api/notion/auth/callback",
    }
    assert data.expires_at is None  # Notion's token response carries no expires_in
    assert data.refresh_token is not None
    assert data.metadata == {
        "workspace_id": WORKSPACE,
        "workspace_name": "Kit Workspace",
        "bot_id": BOT,
    }


async def test_a_workspace_owned_token_with_nulls_connects(
    notion: Setup, notion_mock: NotionMock
) -> None:
    notion_mock.workspace_owned = True
    notion_mock.codes.add("code-2")
    connector = await notion.factory.get_connector(notion.config.id, "user-4")
    data = await connector.connect("code-2")
    assert data.metadata == {"workspace_id": WORKSPACE, "bot_id": BOT}  # no null kept
    assert (await run_as(notion, "user-4", "data_sources")).ok


async def test_a_refused_code_is_a_clear_error(notion: Setup, notion_mock: NotionMock) -> None:
    connector = await notion.factory.get_connector(notion.config.id, "user-3")
    with pytest.raises(ConnectorOAuthRequestError) as raised:
        await connector.connect("a-code-notion-never-issued")
    assert raised.value.status_code == 400 and "invalid_grant" in str(raised.value)
    assert CLIENT_SECRET not in str(raised.value) and CLIENT_SECRET not in repr(raised.value)


async def test_token_without_expiry_is_refreshed_only_on_401_and_rotates(
    notion: Setup, notion_mock: NotionMock
) -> None:
    before = await notion.tokens.get_oauth_data(notion.config.id, notion.user_id)
    assert before is not None and before.refresh_token is not None
    assert (await run(notion, "data_sources"))["data_sources"].ok
    assert token_bodies(notion_mock) == []  # no expiry: never refreshed ahead of time
    notion_mock.revoke_all_tokens()  # Notion now answers 401 unauthorized
    assert (await run(notion, "data_sources"))["data_sources"].ok
    (body,) = token_bodies(notion_mock)
    old = before.refresh_token.get_secret_value()
    assert body == {"grant_type": "refresh_token", "refresh_token": old}
    after = await notion.tokens.get_oauth_data(notion.config.id, notion.user_id)
    assert after is not None and after.refresh_token is not None
    assert after.refresh_token.get_secret_value() != old  # a new refresh token, stored
    assert after.refresh_token.get_secret_value() in notion_mock.refresh_tokens
    assert after.metadata["workspace_id"] == WORKSPACE  # kept through the refresh


async def test_refresh_answering_null_refresh_token_keeps_the_old_one(
    notion: Setup, notion_mock: NotionMock
) -> None:
    before = await notion.tokens.get_oauth_data(notion.config.id, notion.user_id)
    assert before is not None and before.refresh_token is not None
    notion_mock.refresh_omits_refresh_token = True  # the schema allows ``refresh_token: null``
    notion_mock.revoke_all_tokens()
    assert (await run(notion, "data_sources"))["data_sources"].ok
    after = await notion.tokens.get_oauth_data(notion.config.id, notion.user_id)
    assert after is not None and after.refresh_token is not None
    assert after.refresh_token.get_secret_value() == before.refresh_token.get_secret_value()


async def test_refused_refresh_asks_for_a_reconnect(notion: Setup, notion_mock: NotionMock) -> None:
    notion_mock.refresh_tokens.clear()  # Notion answers 400 invalid_grant (its error shape)
    notion_mock.revoke_all_tokens()
    result = (await run(notion, "pages"))["pages"]
    assert result.status == "failed" and result.error_code == "AUTHORIZATION_REQUIRED", result
    token = await notion.tokens.get_oauth_data(notion.config.id, notion.user_id)
    assert token is not None and token.status == "needs_reauth"
    assert token.refresh_token is not None  # kept for diagnosis


async def test_disconnect_revokes_at_notion(notion: Setup, notion_mock: NotionMock) -> None:
    token = await notion.tokens.get_oauth_data(notion.config.id, notion.user_id)
    assert token is not None
    access = token.access_token.get_secret_value()
    connector = await notion.factory.get_connector(notion.config.id, notion.user_id)
    assert await connector.disconnect()
    (request,) = notion_mock.requests(REVOKE, method="POST")
    assert request.headers["authorization"] == BASIC
    assert request.headers["notion-version"] == VERSION
    assert json.loads(request.body) == {"token": access}  # the documented body, nothing else
    assert request.status == 200 and notion_mock.revoked == [access]
    assert access not in notion_mock.tokens


@RACE_ON_POSTGRESQL
async def test_rotated_refresh_token_is_never_lost_across_processes(
    notion: Setup, notion_mock: NotionMock, db_url: str, encryption_key: str
) -> None:
    """3 OS processes x 5 tasks see the same access token rejected at once: Notion is asked for
    one refresh (its refresh tokens are single use: a second one would be refused and the
    connection lost), and every task ends with the one new token, stored with its new refresh
    token."""
    before = await notion.tokens.get_oauth_data(notion.config.id, notion.user_id)
    assert before is not None and before.refresh_token is not None
    notion_mock.delays["/v1/oauth/token"] = 0.3  # every process inside the refresh at once
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    args = json.dumps(
        {
            "db_url": db_url,
            "key": encryption_key,
            "config_id": notion.config.id,
            "user_id": notion.user_id,
            "rejected": before.access_token.get_secret_value(),
            "tasks": 5,
        }
    )
    processes = [
        ctx.Process(target=notion_refresh_worker.run, args=(args, barrier, queue)) for _ in "abc"
    ]
    for process in processes:
        process.start()
    results = [token for _ in processes for token in queue.get(timeout=120)]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert not [r for r in results if r.startswith("ERROR")], results[:3]
    assert len(results) == 15 and len(set(results)) == 1
    assert len(token_bodies(notion_mock)) == 1, "refreshed more than once"
    after = await notion.tokens.get_oauth_data(notion.config.id, notion.user_id)
    assert after is not None and after.access_token.get_secret_value() == results[0]
    assert after.refresh_token is not None and after.version == before.version + 1
    assert after.refresh_token.get_secret_value() in notion_mock.refresh_tokens  # the new one
