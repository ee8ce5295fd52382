"""Notion's error answers (``{"object": "error", "status", "code", "message"}``) become the right
errors: 429 ``rate_limited`` and 529 ``service_overload`` wait ``Retry-After`` (integer
seconds), 403 ``restricted_resource`` / 400 ``validation_error`` fail the run saying Notion's
code and what to do, 401 ``unauthorized`` refreshes once, and every request carries the
``Notion-Version`` of the catalogue."""

from __future__ import annotations

import pytest
from notion_mock import VERSION, NotionMock, error
from vendor_testkit import Reply, Setup, run

from ait_connectors.sync import SyncOptions
from ait_connectors.testing.mock import Fault


def limited(status: int, code: str, seconds: int, **extra: object) -> Reply:
    body = error(status, code, "This request exceeds the number of requests allowed.", **extra)
    return Reply(status, body, {"Retry-After": str(seconds)})


@pytest.mark.parametrize(
    "reply",
    [
        limited(429, "rate_limited", 7, additional_data={"rate_limit_reason": "connection"}),
        limited(529, "service_overload", 7),
    ],
    ids=["429-rate_limited", "529-service_overload"],
)
async def test_retry_after_is_waited_out(
    notion: Setup, notion_mock: NotionMock, reply: Reply
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    notion_mock.faults.append(Fault("/search", reply, method="POST"))
    result = (await run(notion, "data_sources", options=SyncOptions(sleep=sleep)))["data_sources"]
    assert result.ok, result
    assert len(waits) == 1 and 6 <= waits[0] <= 7, waits  # what Notion asked, not a backoff


async def test_a_long_retry_after_stops_the_run(notion: Setup, notion_mock: NotionMock) -> None:
    reason = {"rate_limit_reason": "workspace"}  # the workspace limit may ask for minutes
    notion_mock.faults.append(
        Fault("/search", limited(429, "rate_limited", 600, additional_data=reason), method="POST")
    )
    result = (await run(notion, "pages"))["pages"]
    assert result.status == "rate_limited" and result.resume_at is not None, result


@pytest.mark.parametrize(
    ("status", "code", "hint"),
    [
        (403, "restricted_resource", "Read content"),
        (400, "validation_error", "refused the request's parameters"),
    ],
)
async def test_client_errors_say_notions_code_and_what_to_do(
    notion: Setup, notion_mock: NotionMock, status: int, code: str, hint: str
) -> None:
    message = "Insufficient permissions for this endpoint."
    notion_mock.faults.append(
        Fault("/search", Reply(status, error(status, code, message)), method="POST")
    )
    result = (await run(notion, "data_sources"))["data_sources"]
    assert result.status == "failed" and result.error_code == "VENDOR_CLIENT_ERROR", result
    assert code in (result.error or "") and hint in (result.error or ""), result.error


async def test_every_request_carries_the_catalogue_version(
    notion: Setup, notion_mock: NotionMock
) -> None:
    results = await run(notion)
    assert all(r.ok for r in results.values()), results
    api = [r for r in notion_mock.log if not r.path.startswith("/v1/oauth/")]
    assert api and {r.headers.get("notion-version") for r in api} == {VERSION}


async def test_a_missing_version_is_named(notion: Setup, notion_mock: NotionMock) -> None:
    """What Notion answers without the header (the mock checks it like Notion)."""
    notion_mock.faults.append(
        Fault(
            "/search",
            Reply(400, error(400, "missing_version", "Notion-Version header failed validation")),
            method="POST",
        )
    )
    result = (await run(notion, "pages"))["pages"]
    assert result.status == "failed" and "missing_version" in (result.error or "")
    assert "catalogue api_headers" in (result.error or "")
