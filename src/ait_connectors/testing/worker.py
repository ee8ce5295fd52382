"""Sync processes for the SIGKILL check, forked from one pre-imported parent.

Starting a Python process and importing the package costs seconds on a loaded machine; the kit
needs one killed process per entity type. So :class:`ForkServer` starts
``python -m ait_connectors.testing.worker`` once: it imports the package and discovers the vendors,
then reads one JSON command per line and forks a child per command, answering the child's pid.
The child runs one real ``sync()`` and exits; the test kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any

__all__ = ["ForkServer"]


class ForkServer:
    """The test side: one forking parent process for the whole test session."""

    _instance: ForkServer | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ait_connectors.testing.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    @classmethod
    def shared(cls) -> ForkServer:
        with cls._lock:
            if cls._instance is None or cls._instance.proc.poll() is not None:
                cls._instance = cls()
            return cls._instance

    def start_sync(self, **command: Any) -> int:
        """Fork a child that syncs ``command`` (see :func:`_child`); its pid."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self._lock:
            self.proc.stdin.write(json.dumps(command) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the kit's fork server died")
        return int(line)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _child(command: dict[str, Any]) -> None:
    from ..crypto import Cipher
    from ..registry import get_vendor
    from ..storage.db import Database
    from ..sync import sync

    for name, value in command["env"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_vendor(command["vendor"]).service_cls.requests_per_second = None  # as in the test
    database = Database(command["db_url"])
    try:
        await sync(
            command["config_id"],
            command["user_id"],
            [command["entity_type"]],
            database=database,
            cipher=Cipher(bytes.fromhex(command["key_hex"])),
        )
    finally:
        await database.dispose()


def _serve() -> None:
    import ait_connectors.sync  # noqa: F401  (imported once, before forking)
    from ait_connectors.registry import registered_vendors

    registered_vendors()  # discovery (entry points) before forking, too
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            try:
                asyncio.run(_child(json.loads(line)))
            finally:
                os._exit(0)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
