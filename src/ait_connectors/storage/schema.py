"""All tables' metadata in one place, for migrations and tests."""

from __future__ import annotations

from .models import Base

target_metadata = Base.metadata

__all__ = ["target_metadata"]
