"""Gmail's first sync of a large mailbox in bounded memory (issue 14).

The local Gmail mock (``tests/vendors/google_mock_media.py``) serves, from a process of its own,
a mailbox of ``--messages`` generated messages (built from their number on demand); each
measured sync runs in a fresh process of its own against SQLite: the shipped Google vendor's
``gmail_messages`` (``messages.list`` pages of 100 ids, ``messages.get`` in batches of 50).
Peak RSS is compared with that of a sync of a small mailbox: bounded memory means about the same.

    .venv/bin/python -m bench.gmail_mailbox                      # 100,000 vs 2,000 messages
    .venv/bin/python -m bench.gmail_mailbox --messages 20000

Exits 0 when the large sync's peak RSS stays within ``--slack-mb`` (default 40) of the small
one's, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .measure import cpu_seconds, peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
ACCESS, REFRESH = "bench-access", "bench-refresh"
USER = "bench-user"
_SERVER = """
import sys, time
sys.path.insert(0, {mocks!r})
from google_mock import GoogleMock
from google_mock_media import GMAIL, Mailbox
mock = GoogleMock(products=("gmail",))
mock.media.mailbox = Mailbox.sample(count=0, generated={count})
mock.tokens.add({access!r}); mock.refresh_tokens.add({refresh!r})
mock.scopes_of[{access!r}] = mock.scopes_of[{refresh!r}] = {{GMAIL}}
mock.start()
print(mock.url, flush=True)
while True:
    time.sleep(3600)
"""


def _serve(count: int) -> tuple[subprocess.Popen[bytes], str]:
    """The Google mock (Gmail only) in its own process; its URL + ``/api``."""
    code = _SERVER.format(
        mocks=str(ROOT / "tests" / "vendors"), count=count, access=ACCESS, refresh=REFRESH
    )
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert server.stdout is not None
    url = server.stdout.readline().decode().strip()  # printed once it listens
    if not url.startswith("http://127.0.0.1:"):
        server.kill()
        raise RuntimeError("the Gmail mock did not start")
    return server, f"{url}/api"


async def _sync(api_base_url: str, directory: str) -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    from pydantic import SecretStr

    from ait_connectors import Connectors, Settings, TokenResponse

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{directory}/bench.db", encryption_key="ab" * 32
    )
    async with await Connectors.open(settings, auto_migrate=True) as connectors:
        config = await connectors.configs.create(
            "google",
            client_id="bench-client",
            client_secret="bench-secret",
            redirect_uri="http://127.0.0.1:8765/api/google/auth/callback",
            overrides={
                "api_base_url": api_base_url,
                "token_url": api_base_url.removesuffix("/api") + "/token",
            },
        )
        await connectors.tokens.save_oauth_data(
            config.id,
            USER,
            TokenResponse(
                access_token=SecretStr(ACCESS),
                refresh_token=SecretStr(REFRESH),
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            ),
        )
        service = await connectors.factory.get_service_by_config(config.id, USER)
        rss_at_start = peak_rss_mb()
        started, cpu = time.perf_counter(), cpu_seconds()
        (result,) = await service.sync(["gmail_messages"])
        return {
            "status": result.status,
            "error": result.error,
            "added": result.added,
            "pages": result.pages,
            "seconds": round(time.perf_counter() - started, 1),
            "cpu_seconds": round(cpu_seconds() - cpu, 1),
            "rss_at_start_mb": round(rss_at_start, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "quota": result.warnings[-1] if result.warnings else None,
        }


def _child(api_base_url: str, queue: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="ait-gmail-bench-") as directory:
        queue.put(asyncio.run(_sync(api_base_url, directory)))


def measure(count: int) -> dict[str, Any]:
    """One full sync of a mailbox of ``count`` messages, in a fresh process."""
    server, url = _serve(count)
    try:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=_child, args=(url, queue))
        child.start()
        result: dict[str, Any] = queue.get(timeout=1800)
        child.join(60)
    finally:
        server.terminate()
        server.wait(10)
    return {"messages": count, **result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=2_000)
    parser.add_argument("--slack-mb", type=float, default=40.0)
    args = parser.parse_args()
    os.environ.setdefault("AIT_LOG_LEVEL", "WARNING")
    small, large = measure(args.small), measure(args.messages)
    print(json.dumps({"small": small, "large": large}, indent=2))
    ok = (
        small["status"] == large["status"] == "succeeded"
        and large["added"] == args.messages
        and large["peak_rss_mb"] <= small["peak_rss_mb"] + args.slack_mb
    )
    print("bounded" if ok else "NOT bounded (or the sync failed)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
