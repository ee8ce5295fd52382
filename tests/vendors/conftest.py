"""Fixtures of this folder live in vendor_testkit (importable by name; a module named
``conftest`` would clash with the other test folders' conftest files)."""

from vendor_testkit import *  # noqa: F403
from vendor_testkit import _no_client_pacing  # noqa: F401  (autouse; star imports skip _names)
