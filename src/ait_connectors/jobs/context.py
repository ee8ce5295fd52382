"""What a job learns from the worker that runs it."""

from __future__ import annotations

from procrastinate import JobContext

from ..runtime import Connectors

__all__ = ["connectors_of"]


def connectors_of(context: JobContext) -> Connectors:
    """The worker's runtime (``ait-connectors worker`` puts it in the job context)."""
    connectors = context.additional_context.get("connectors")
    if not isinstance(connectors, Connectors):
        raise RuntimeError("jobs run in `ait-connectors worker`, which provides the runtime")
    return connectors
