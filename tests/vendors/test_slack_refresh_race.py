"""Slack token rotation under a refresh race: 4 OS processes x 10 tasks want the token of one
expired connection. Slack revokes a refresh token once it was used, so a second refresh would
be refused (and the connection lost): exactly one refresh may happen, and the rotated refresh
token Slack issued is the one stored."""

from __future__ import annotations

import pytest
from slack_mock import SlackMock, slack_fixture, slack_server_fixture  # noqa: F401 (fixtures)
from vendor_testkit import RACE_ON_POSTGRESQL, Setup

from support import race_worker

# Many PostgreSQL connections (several processes): never beside another such test (max_connections).
pytestmark = pytest.mark.xdist_group("pg_many_connections")

PROCESSES = 4
TASKS = 10


@RACE_ON_POSTGRESQL
async def test_one_refresh_and_the_rotated_token_kept(
    slack: Setup, slack_server: SlackMock, encryption_key: str, db_url: str
) -> None:
    slack_server.rotation = True
    slack_server.delays["oauth.v2.access"] = 0.3  # every process is inside the window at once
    connector = await slack.factory.get_connector(slack.config.id, "racer")
    before = await connector.connect(slack_server.issue_code())
    assert before.refresh_token is not None
    await race_worker.expire(slack.database, "racer")
    slack_server.clear_log()
    results = race_worker.run_race(
        connector, db_url, encryption_key, processes=PROCESSES, tasks=TASKS
    )

    assert not [r for r in results if r.startswith("ERROR")], results[:3]
    assert len(set(results)) == 1 and len(results) == PROCESSES * TASKS
    assert len(slack_server.requests("oauth.v2.access", method="POST")) == 1
    after = await slack.tokens.get_oauth_data(slack.config.id, "racer")
    assert after is not None and after.version == before.version + 1
    assert after.access_token.get_secret_value() == results[0]
    assert after.refresh_token is not None
    rotated = after.refresh_token.get_secret_value()
    assert rotated != before.refresh_token.get_secret_value()
    assert rotated in slack_server.refresh_tokens  # the live one, never the revoked one
    assert after.metadata.get("team_id") == "T0ACMEWS1"
