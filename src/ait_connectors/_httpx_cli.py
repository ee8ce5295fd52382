"""httpx without its command-line client.

``import httpx`` (0.28) also imports ``httpx._main``, its CLI, whenever click, Rich and Pygments
are installed, as they are beside this package's own CLI: 6 MB of RSS and tens of milliseconds
in every process that only makes requests (a sync, the gateway). Upstream knows (encode/httpx
discussion 3523, pull request 3547). Until it changes, a stand-in ``httpx._main`` is registered
when httpx is first imported; its ``main`` loads the real CLI on call, so ``httpx.main()`` still
works.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["defer_httpx_cli"]

_CLI = "httpx._main"


def _main(*args: Any, **kwargs: Any) -> Any:
    if getattr(sys.modules.get(_CLI), "main", None) is _main:
        del sys.modules[_CLI]
    return importlib.import_module(_CLI).main(*args, **kwargs)


class _OnHttpxImport:
    """A meta-path hook that finds nothing: it registers the stand-in as httpx starts to be
    imported, then removes itself."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "httpx":
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            if _CLI not in sys.modules:
                stand_in = types.ModuleType(_CLI, "httpx's CLI, imported by httpx.main().")
                stand_in.main = _main  # type: ignore[attr-defined]
                sys.modules[_CLI] = stand_in


def defer_httpx_cli() -> None:
    """Install the hook, unless httpx is already imported (then there is nothing to save)."""
    if "httpx" not in sys.modules and not any(isinstance(f, _OnHttpxImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _OnHttpxImport())
