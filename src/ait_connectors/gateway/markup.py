"""Messages written for a terminal and for JSON (commands in `backticks`), shown in HTML."""

from __future__ import annotations

from markupsafe import Markup, escape

__all__ = ["code_spans"]


def code_spans(text: object) -> Markup:
    """``text`` escaped, with each `backticked` span as ``<code>``; unbalanced backticks stay
    as they are."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:
        return escape(str(text))
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if i % 2 else escape(part)
        for i, part in enumerate(parts)
    )
