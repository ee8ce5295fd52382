"""A process that makes changes and dies (SIGKILL) right after they commit: run by
test_worker. It registers the job queue's delivery scheduler, as the gateway does on
PostgreSQL, so each change's delivery jobs are deferred in the change's own transaction."""

from __future__ import annotations

import asyncio
import sys
import time

from pydantic import SecretStr

from ait_connectors.jobs.webhooks import defer_deliveries
from ait_connectors.oauth.tokens import TokenResponse
from ait_connectors.outgoing.events import add_delivery_scheduler
from ait_connectors.runtime import Connectors


async def main(config_id: str, users: int) -> None:
    connectors = await Connectors.open()
    add_delivery_scheduler(defer_deliveries)
    for n in range(users):
        token = TokenResponse(access_token=SecretStr(f"at-{n}"), refresh_token=None)
        await connectors.tokens.save_oauth_data(config_id, f"user-{n}", token)
    print("committed", flush=True)
    time.sleep(3600)  # killed here: nothing after the commits runs


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
