"""The gateway: an HTTP API and a Connect page over the library, for apps in any language."""

from .app import create_app, default_base_url

__all__ = ["create_app", "default_base_url"]
