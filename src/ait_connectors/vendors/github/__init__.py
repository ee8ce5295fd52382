"""GitHub: repositories, commits, pull requests and issues (catalogue entry ``github``).

OAuth is the catalogue's standard flow: OAuth-app tokens carry no expiry and are never
refreshed; GitHub-App user tokens expire (8 h) and are refreshed by the core like any other.
"""

from __future__ import annotations

from ait_connectors.vendor import VendorRegistration

from .service import ConnectorGitHubService
from .webhooks import GitHubWebhooks

__all__ = ["VENDOR", "ConnectorGitHubService", "GitHubWebhooks"]

VENDOR = VendorRegistration("github", ConnectorGitHubService, webhooks=GitHubWebhooks())
