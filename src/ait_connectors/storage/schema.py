"""All tables' metadata in one place, for migrations and tests."""

from __future__ import annotations

from ..inbound import channels as _channel_models  # noqa: F401  (the push channel table)
from ..outgoing import models as _webhook_models  # noqa: F401  (the outgoing webhook tables)
from . import changes_models, sync_models  # noqa: F401  (register their tables on Base.metadata)
from .models import Base

target_metadata = Base.metadata

__all__ = ["target_metadata"]
