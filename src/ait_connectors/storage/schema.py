"""All tables' metadata in one place, for migrations and tests."""

from __future__ import annotations

from ..inbound import channels as _channel_models  # noqa: F401  (the push channel table)
from ..inbound import models as _inbound_models  # noqa: F401  (the provider webhook tables)
from ..outgoing import models as _webhook_models  # noqa: F401  (the outgoing webhook tables)
from . import (  # noqa: F401  (register their tables on Base.metadata)
    changes_models,
    mcp_auth_models,
    sync_models,
)
from .models import Base

target_metadata = Base.metadata

__all__ = ["target_metadata"]
