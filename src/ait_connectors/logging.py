"""Logging with a redaction filter: no token, secret or verifier reaches a handler."""

from __future__ import annotations

import logging

from .errors import redact

__all__ = ["RedactingFilter", "configure_logging"]

_FORMATTER = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Masks token-like values in every record's rendered message, traceback and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, max_length=10_000)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # A traceback repeats exception messages, which may quote a request or a response:
        # render it here, redacted; formatters use ``exc_text`` when it is set.
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, max_length=50_000)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, max_length=50_000)
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
