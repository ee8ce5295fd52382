"""Logging with a redaction filter: no token, secret or verifier reaches a handler."""

from __future__ import annotations

import logging

from .errors import redact

__all__ = ["RedactingFilter", "configure_logging"]


class RedactingFilter(logging.Filter):
    """Masks token-like values in every record's rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, max_length=10_000)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str | None = None) -> None:
    """Log to stderr through the redaction filter (idempotent)."""
    root = logging.getLogger("ait_connectors")
    if level:
        root.setLevel(level)
    elif root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    if not any(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
