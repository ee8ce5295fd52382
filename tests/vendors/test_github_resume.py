"""The per-repository walk survives a SIGKILL: a real sync process is killed in the middle of a
repository, the API then lists the repositories in another order and has one more, and the next
run resumes inside the repository it stopped in, without re-reading the finished ones.

Run as a script, this file is the sync process::

    python test_github_resume.py DB_URL KEY_HEX CONFIG_ID USER_ID
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[2] / "src"


async def _worker(db_url: str, key_hex: str, config_id: str, user_id: str) -> None:
    from ait_connectors.crypto import Cipher
    from ait_connectors.storage.db import Database
    from ait_connectors.sync import sync
    from ait_connectors.vendors.github import ConnectorGitHubService

    ConnectorGitHubService.requests_per_second = None
    database = Database(db_url)
    try:
        (result,) = await sync(
            config_id,
            user_id,
            ["commits"],
            database=database,
            cipher=Cipher(bytes.fromhex(key_hex)),
        )
        print(json.dumps({"status": result.status, "added": result.added}))
    finally:
        await database.dispose()


if __name__ == "__main__":
    sys.path.insert(0, str(SRC))
    asyncio.run(_worker(*sys.argv[1:5]))
    sys.exit(0)


# ---------------------------------------------------------------------------------------------
# The test

from sqlalchemy import text  # noqa: E402
from vendor_testkit import GitHubMock, Logged, Setup  # noqa: E402

from ait_connectors.storage.db import Database  # noqa: E402
from ait_connectors.storage.sync_models import NullableJSON  # noqa: E402
from ait_connectors.sync import sync  # noqa: E402
from support.polling import wait_until  # noqa: E402

SPOON_ID = 1300192


def _cursor(db_url: str, config_id: str) -> Any:
    """The committed cursor of the commits walk, read synchronously (from the polling loop)."""

    async def read() -> Any:
        database = Database(db_url)
        try:
            async with database.connect() as conn:
                query = text(
                    "SELECT cursor FROM sync_state WHERE connector_config_id = :c "
                    "AND entity_type = 'commits'"
                ).columns(cursor=NullableJSON)
                return (await conn.execute(query, {"c": config_id})).scalar()
        finally:
            await database.dispose()

    return asyncio.run(read())


def _held(entry: Logged) -> bool:
    # The second page of Spoon-Knife's commits: by then its first page is being committed.
    return (
        entry.path.endswith(f"/repositories/{SPOON_ID}/commits") and entry.query.get("page") == "2"
    )


async def test_sigkill_mid_repository_then_resume_with_reordered_repositories(
    github: Setup, github_mock: GitHubMock, db_url: str, encryption_key: str
) -> None:
    github_mock.hold = _held
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, __file__, db_url, encryption_key, github.config.id, github.user_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        await asyncio.to_thread(wait_until, github_mock.held.is_set, 60, "the held request")
        # Wait (with a deadline) for the first page of Spoon-Knife to be committed: the kill
        # then lands inside a repository, with a page cursor in the middle of it.
        await asyncio.to_thread(
            wait_until,
            lambda: (
                (c := _cursor(db_url, github.config.id)) is not None
                and [key for key, page in c["open"] if page is not None] == [str(SPOON_ID)]
            ),
            30,
            "Spoon-Knife's first page committed",
        )
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, stderr

    # Meanwhile the API lists the repositories in another order and there is a new one.
    github_mock.hold = None
    github_mock.release.set()
    github_mock.repos.reverse()
    newcomer = copy.deepcopy(github_mock.repos[0])
    newcomer.update(id=90000000, name="newcomer", full_name="octocat/newcomer")
    github_mock.repos.insert(0, newcomer)
    github_mock.commits["octocat/newcomer"] = copy.deepcopy(
        github_mock.commits["octocat/Spoon-Knife"]
    )
    for index, item in enumerate(github_mock.commits["octocat/newcomer"]):
        item["sha"] = f"{index + 1:040x}"
    github_mock.clear_log()

    (result,) = await sync(
        github.config.id,
        github.user_id,
        ["commits"],
        database=github.database,
        cipher=github.cipher,
    )
    assert result.ok, result.error

    walked = [r for r in github_mock.log if r.path.endswith("/commits")]
    # It went on with page 2 of Spoon-Knife, never re-read Hello-World (finished before the
    # kill), and walked the rest in id order, the newcomer last.
    assert (walked[0].path, walked[0].query.get("page")) == (
        f"/api/v3/repositories/{SPOON_ID}/commits",
        "2",
    )
    assert not [r for r in walked if "Hello-World" in r.path or "/1296269/" in r.path]
    firsts = [r.path.split("/")[-2] for r in walked if "/repos/" in r.path]
    assert firsts == ["octo-repo", "empty-repo", "protected", "newcomer"]

    async with github.database.connect() as conn:
        count, distinct = (
            await conn.execute(
                text(
                    "SELECT COUNT(*), COUNT(DISTINCT external_id) FROM records "
                    "WHERE connector_config_id = :c AND entity_type = 'commits' "
                    "AND deleted_at IS NULL"
                ),
                {"c": github.config.id},
            )
        ).one()
        statuses = [
            row[0]
            for row in await conn.execute(
                text(
                    "SELECT status FROM sync_runs WHERE connector_config_id = :c "
                    "AND entity_type = 'commits' ORDER BY started_at"
                ),
                {"c": github.config.id},
            )
        ]
    assert count == distinct == 10 + 3  # every commit once, the newcomer's included
    assert statuses == ["interrupted", "succeeded"]
