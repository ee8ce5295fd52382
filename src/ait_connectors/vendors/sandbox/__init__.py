"""The sandbox provider: a catalogue entry, an OAuth server and an API served by the gateway."""

from __future__ import annotations

from .setup import SANDBOX_SLUG, register_sandbox_provider

__all__ = ["SANDBOX_SLUG"]

register_sandbox_provider()
