"""A gateway in its own OS process, for the multi-process tests.

``python gateway_proc.py PORT``; the settings come from ``AIT_*`` variables, and
``GATEWAY_TEST_PROVIDER`` (a ProviderSpec as JSON) registers a test provider first, the way a
third-party vendor package would.
"""

from __future__ import annotations

import os
import sys

import uvicorn

from ait_connectors.gateway import create_app
from ait_connectors.providers import ProviderSpec, register_provider
from ait_connectors.settings import get_settings


def main() -> None:
    port = int(sys.argv[1])
    spec = os.environ.get("GATEWAY_TEST_PROVIDER")
    if spec:
        register_provider(ProviderSpec.model_validate_json(spec))
    settings = get_settings().model_copy(update={"port": port})
    # Behind a shared public URL (AIT_PUBLIC_URL) browsers reach it there, else on its port.
    app = create_app(settings, base_url=settings.public_url or f"http://127.0.0.1:{port}")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
