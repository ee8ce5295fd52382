"""Every MCP tool through the SDK's own client, over real HTTP against a real gateway: a synced
user's data, another user's session that reaches none of it (even by guessing ids), and the
401 that tells a client where to sign in."""

from __future__ import annotations

import httpx

from ait_connectors.runtime import Connectors
from ait_connectors.storage.api_keys import ApiKeyStore
from ait_connectors.testing.polling import await_until

from .conftest import McpUser, ThreadGateway, mcp_session, sandbox_connect


async def _sync(alice: McpUser) -> str:
    started = await alice.call("start_sync", provider="sandbox", entity_types=["events"])
    run_id = str(started["run_id"])

    async def done() -> bool:
        return bool((await alice.call("sync_status", run_id=run_id))["done"])

    await await_until(done, 60)
    return run_id


async def _alice_reads(alice: McpUser) -> None:
    (sandbox,) = (await alice.call("list_connections"))["connections"]
    assert sandbox["provider"] == "sandbox" and sandbox["status"] == "active"
    events = {t["entity_type"]: t for t in sandbox["entity_types"]}["events"]
    assert events["records"] == 1200 and events["last_sync_status"] == "succeeded"
    assert events["last_synced_at"] is not None and events["resource"] == "ait://sandbox/events"

    filters = [
        {"field": "type", "op": "eq", "value": "purchase"},
        {"field": "amount_cents", "op": "gte", "value": 25_000},
    ]
    first = await alice.call(
        "query_records",
        provider="sandbox",
        entity_type="events",
        filters=filters,
        order_by="amount_cents",
        descending=True,
        limit=5,
    )
    amounts = [item["amount_cents"] for item in first["items"]]
    assert len(amounts) == 5 and amounts == sorted(amounts, reverse=True)
    assert all(a >= 25_000 for a in amounts)
    assert {item["type"] for item in first["items"]} == {"purchase"}
    second = await alice.call(
        "query_records",
        provider="sandbox",
        entity_type="events",
        filters=filters,
        order_by="amount_cents",
        descending=True,
        limit=5,
        cursor=first["next_cursor"],
    )
    assert second["items"][0]["amount_cents"] <= amounts[-1]
    assert not {i["_id"] for i in second["items"]} & {i["_id"] for i in first["items"]}

    unknown = await alice.error(
        "query_records",
        provider="sandbox",
        entity_type="events",
        filters=[{"field": "colour", "op": "eq", "value": "red"}],
    )
    assert (
        "INVALID_QUERY" in unknown and "no field 'colour'" in unknown and "amount_cents" in unknown
    )

    (found,) = (await alice.call("search_records", query="777"))["results"]  # "… #777"
    assert found["_id"] == "e-00777" and found["provider"] == "sandbox"
    record = await alice.call(
        "get_record", provider="sandbox", entity_type="events", external_id="e-00777"
    )
    assert record["summary"].endswith("#777") and record["_id"] == "e-00777"

    listed = {str(r.uri) for r in (await alice.session.list_resources()).resources}
    assert {"ait://sandbox/events", "ait://sandbox/contacts"} <= listed
    read = await alice.session.read_resource("ait://sandbox/events")  # type: ignore[arg-type]
    described = read.contents[0].text  # type: ignore[union-attr]
    assert '"amount_cents"' in described and '"records": 1200' in described


async def _bob_sees_nothing(bob: McpUser, run_id: str) -> None:
    (sandbox,) = (await bob.call("list_connections"))["connections"]
    assert sandbox["status"] == "not_connected"
    assert {t["records"] for t in sandbox["entity_types"]} == {0}
    query = await bob.call("query_records", provider="sandbox", entity_type="events")
    assert query["items"] == []
    assert (await bob.call("search_records", query="777"))["results"] == []
    assert (await bob.call("search_records", query="purchase"))["results"] == []
    guessed = await bob.error(
        "get_record", provider="sandbox", entity_type="events", external_id="e-00777"
    )
    assert "RECORD_NOT_FOUND" in guessed
    # Alice's run id names her connection: for Bob it does not exist.
    assert "RUN_NOT_FOUND" in await bob.error("sync_status", run_id=run_id)
    refused = await bob.error("start_sync", provider="sandbox")
    assert "AUTHORIZATION_REQUIRED" in refused and "not connected" in refused
    read = await bob.session.read_resource("ait://sandbox/events")  # type: ignore[arg-type]
    assert '"records": 0' in read.contents[0].text  # type: ignore[union-attr]


async def test_every_tool_for_one_user_and_none_of_it_for_another(
    mcp_gateway: ThreadGateway,
) -> None:
    async with await Connectors.open(mcp_gateway.settings) as connectors:
        key = (await ApiKeyStore(connectors.database).create("assistant")).key
    with httpx.Client(headers={"X-API-Key": key}) as browser:
        assert sandbox_connect(mcp_gateway, browser, user_id="alice").status_code == 200

    async with mcp_session(mcp_gateway.base_url, f"{key}:alice") as alice:
        run_id = await _sync(alice)
        await _alice_reads(alice)
    async with mcp_session(mcp_gateway.base_url, f"{key}:bob") as bob:
        await _bob_sees_nothing(bob, run_id)


async def test_no_session_without_a_valid_credential(mcp_gateway: ThreadGateway) -> None:
    async with await Connectors.open(mcp_gateway.settings) as connectors:
        key = (await ApiKeyStore(connectors.database).create("assistant")).key
    metadata = f"{mcp_gateway.base_url}/.well-known/oauth-protected-resource/mcp"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    refused = [None, "Bearer ait_00000000_unknown:alice", f"Bearer {key}", f"Bearer {key}:"]
    async with httpx.AsyncClient(base_url=mcp_gateway.base_url) as client:
        for authorization in [*refused, "Basic eDp5"]:
            headers = {"Accept": "application/json, text/event-stream"}
            if authorization is not None:
                headers["Authorization"] = authorization
            answer = await client.post("/mcp", json=body, headers=headers)
            assert answer.status_code == 401, authorization
            challenge = answer.headers["www-authenticate"]
            assert (
                challenge.startswith("Bearer ") and f'resource_metadata="{metadata}"' in challenge
            )
            assert key not in answer.text
