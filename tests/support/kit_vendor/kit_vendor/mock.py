"""The notes API as recorded: ``GET /api/notes?cursor=&limit=`` and ``POST /oauth/token``."""

from __future__ import annotations

import secrets
from typing import Any

from ait_connectors.testing import Logged, MockServer, Reply


def note(index: int) -> dict[str, Any]:
    return {
        "id": f"n{index}",
        "title": f"Note {index}",
        "body": f"Text of note {index}",
        "tags": ["kit"],
        "updated_at": f"2026-01-{index:02d}T10:00:00Z",
    }


class NotesMock(MockServer):
    page_cap = 2

    def __init__(self) -> None:
        super().__init__()
        self.notes = [note(i) for i in range(1, 8)]
        self.refresh_tokens: set[str] = set()

    def public(self, path: str) -> bool:
        return path == "/oauth/token"

    def unauthorized(self) -> Reply:
        return Reply(401, {"error": "invalid_token"})

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        if request.path == "/oauth/token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return Reply(400, {"error": "invalid_grant"})
            return Reply(200, {"access_token": self.new_token("nt_"), "expires_in": 3600})
        if request.path != "/api/notes":
            return Reply(404, {"error": "not_found"})
        start = int(request.query.get("cursor") or 0)
        end = start + min(int(request.query.get("limit", "50")), self.page_cap)
        more = end < len(self.notes)
        return Reply(
            200, {"notes": self.notes[start:end], "next_cursor": str(end) if more else None}
        )

    def connect(self) -> tuple[str, str]:
        refresh = f"nr_{secrets.token_hex(8)}"
        self.refresh_tokens.add(refresh)
        return self.new_token("nt_"), refresh
