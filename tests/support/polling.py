"""Polling with a deadline (the kit's helpers, shared by every test)."""

from ait_connectors.testing.polling import await_until, wait_until

__all__ = ["await_until", "wait_until"]
