"""Fixtures of this folder live in sync_fixtures (importable by name; a module named
``conftest`` would clash with the other test folders' conftest files)."""

from sync_fixtures import *  # noqa: F403
from sync_fixtures import _no_backoff_waits  # noqa: F401  (autouse; star imports skip _names)
