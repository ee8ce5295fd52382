"""YouTube Data API v3 and Gmail API products of the local Google (``google_mock``).

Importing this module registers products ``youtube`` and ``gmail`` in ``google_mock``'s
registry; a ``GoogleMock`` then serves, under its ``/api``, the YouTube lists
(``subscriptions``, ``playlists``, ``playlistItems``, ``videos``), the Gmail methods
(``profile``, ``messages`` list/get, ``history``, ``labels`` list/get) and the batch endpoint
(``/batch/gmail/v1``, ``multipart/mixed``), next to Calendar and People, behind the same OAuth
endpoints. The mailbox can be made of explicit messages and of ``generated`` ones built from
their number on demand, so that a 100,000-message mailbox costs no memory here.

Facts mirrored (with their sources): YouTube's 403 ``quotaExceeded`` body
(https://developers.google.com/youtube/v3/docs/errors) when the daily budget (``quota``) is
spent, 1 unit per list call; Gmail's history 404 for a ``startHistoryId`` older than what it
keeps (users.history.list); batch answers per inner call with ``Content-ID: response-…``
(https://developers.google.com/gmail/api/guides/batch); a refresh answer without
``refresh_token``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from google_mock import GoogleMock, product

from ait_connectors.testing.mock import Logged, Reply

YOUTUBE = "https://www.googleapis.com/auth/youtube.readonly"
GMAIL = "https://www.googleapis.com/auth/gmail.readonly"


def _error(status: int, reason: str, message: str, domain: str = "global") -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }


QUOTA_EXCEEDED = _error(
    403,
    "quotaExceeded",
    "The request cannot be completed because you have exceeded your quota.",
    "youtube.quota",
)
NOT_FOUND = {
    "error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}
}
RATE_LIMITED = _error(429, "rateLimitExceeded", "Too many concurrent requests for user.")


def _page(
    items: list[Any], query: dict[str, str], default: int, cap: int
) -> tuple[list[Any], str | None]:
    size = max(1, min(int(query.get("maxResults") or default), cap))
    start = int((query.get("pageToken") or "t0")[1:])
    chunk = items[start : start + size]
    return chunk, f"t{start + size}" if start + size < len(items) else None


# -- YouTube ---------------------------------------------------------------------------------


def subscription(n: int) -> dict[str, Any]:
    return {
        "kind": "youtube#subscription",
        "id": f"sub{n}",
        "snippet": {
            "title": f"Channel {n}",
            "description": f"About channel {n}",
            "publishedAt": f"2024-01-0{n % 9 + 1}T10:00:00Z",
            "resourceId": {"kind": "youtube#channel", "channelId": f"UCchan{n}"},
            "thumbnails": {"default": {"url": f"https://i.example/ch{n}.jpg"}},
        },
        "contentDetails": {"totalItemCount": 10 + n, "newItemCount": n % 3},
    }


def playlist(n: int, items: int) -> dict[str, Any]:
    return {
        "id": f"PL{n}",
        "snippet": {
            "title": f"Playlist {n}",
            "description": "",
            "publishedAt": "2024-02-01T10:00:00Z",
            "channelId": "UCme",
            "channelTitle": "Me",
            "thumbnails": {"default": {"url": f"https://i.example/pl{n}.jpg"}},
        },
        "status": {"privacyStatus": "private" if n % 2 else "public"},
        "contentDetails": {"itemCount": items},
    }


def playlist_item(playlist_id: str, n: int) -> dict[str, Any]:
    return {
        "id": f"{playlist_id}-item{n}",
        "snippet": {
            "playlistId": playlist_id,
            "position": n,
            "title": f"Video {n} of {playlist_id}",
            "description": "A video",
            "publishedAt": "2024-03-01T10:00:00Z",
            "videoOwnerChannelId": f"UCowner{n}",
            "videoOwnerChannelTitle": f"Owner {n}",
            "resourceId": {"kind": "youtube#video", "videoId": f"vid{playlist_id}{n}"},
        },
        "contentDetails": {
            "videoId": f"vid{playlist_id}{n}",
            "videoPublishedAt": "2023-12-01T00:00:00Z",
        },
        "status": {"privacyStatus": "public"},
    }


def liked_video(n: int) -> dict[str, Any]:
    return {
        "id": f"liked{n}",
        "snippet": {
            "title": f"Liked video {n}",
            "description": "Good",
            "channelId": f"UCl{n}",
            "channelTitle": f"Liked channel {n}",
            "publishedAt": "2022-05-05T05:05:05Z",
            "categoryId": "10",
            "tags": ["music", f"t{n}"],
            "thumbnails": {"default": {"url": f"https://i.example/v{n}.jpg"}},
        },
        "contentDetails": {"duration": f"PT{n + 1}M"},
    }


@dataclass
class YouTubeData:
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    playlists: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    liked: list[dict[str, Any]] = field(default_factory=list)
    quota: int | None = None  # units left today (None: unlimited)
    units: int = 0  # units spent, as Google would count them

    @classmethod
    def sample(
        cls, subscriptions: int = 7, playlists: int = 6, items: int = 5, liked: int = 7
    ) -> YouTubeData:
        data = cls(
            [subscription(n) for n in range(subscriptions)],
            [playlist(n, items) for n in range(playlists)],
            liked=[liked_video(n) for n in range(liked)],
        )
        data.items = {
            p["id"]: [playlist_item(p["id"], n) for n in range(items)] for p in data.playlists
        }
        return data

    def all_items(self) -> list[dict[str, Any]]:
        listed = {p["id"] for p in self.playlists}
        return [i for pid, items in self.items.items() if pid in listed for i in items]


# -- Gmail -----------------------------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def message(
    message_id: str, n: int, labels: list[str] | None = None, history_id: int = 1
) -> dict[str, Any]:
    """A message resource as ``format=full`` answers it (``metadata`` drops the body parts)."""
    return {
        "id": message_id,
        "threadId": f"th{n // 3}",
        "labelIds": labels if labels is not None else ["INBOX", "UNREAD"] if n % 2 else ["INBOX"],
        "snippet": f"Hello number {n}, this is the start of the message",
        "historyId": str(history_id),
        "internalDate": str(1_700_000_000_000 + n * 60_000),
        "sizeEstimate": 2048 + n,
        "payload": {
            "mimeType": "multipart/alternative",
            "headers": [
                {"name": "Subject", "value": f"Subject {n}"},
                {"name": "From", "value": f"Sender {n} <s{n}@example.com>"},
                {"name": "To", "value": "me@example.com"},
                {"name": "Date", "value": "Tue, 14 Nov 2023 22:13:20 +0000"},
                {"name": "Message-ID", "value": f"<m{n}@example.com>"},
                {"name": "X-Other", "value": "not asked for"},
            ],
            "parts": [
                {
                    "mimeType": "text/plain",
                    "body": {"size": 20, "data": _b64(f"Body of message {n}\n")},
                },
                {"mimeType": "text/html", "body": {"size": 30, "data": _b64(f"<p>Body {n}</p>")}},
            ],
        },
    }


def _metadata(full: dict[str, Any], headers: list[str]) -> dict[str, Any]:
    wanted = {h.lower() for h in headers}
    payload = full.get("payload")
    if not isinstance(payload, dict):
        return {k: v for k, v in full.items() if k != "payload"}
    kept = [h for h in payload.get("headers") or () if not wanted or h["name"].lower() in wanted]
    return {**full, "payload": {"mimeType": payload.get("mimeType"), "headers": kept}}


SYSTEM_LABELS = ["INBOX", "SENT", "TRASH", "SPAM", "UNREAD", "STARRED"]


@dataclass
class Mailbox:
    """Explicit messages (newest first) then ``generated`` ones; a history of changes."""

    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    generated: int = 0
    labels: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    history_id: int = 100
    floor: int = 0  # a startHistoryId below this answers 404

    @classmethod
    def sample(cls, count: int = 5, generated: int = 0) -> Mailbox:
        box = cls(generated=generated)
        for n in range(count):
            box.messages[f"m{n:04d}"] = message(f"m{n:04d}", n, history_id=box.history_id)
        box.labels = [{"id": i, "name": i, "type": "system"} for i in SYSTEM_LABELS]
        box.labels.append(
            {
                "id": "Label_1",
                "name": "Receipts",
                "type": "user",
                "messageListVisibility": "show",
                "labelListVisibility": "labelShow",
                "color": {"textColor": "#000000", "backgroundColor": "#ffffff"},
            }
        )
        return box

    def ids(self) -> list[str]:
        return list(self.messages) + [f"g{n:07d}" for n in range(self.generated)]

    def get(self, message_id: str) -> dict[str, Any] | None:
        if message_id in self.messages:
            return self.messages[message_id]
        if (
            message_id.startswith("g")
            and message_id[1:].isdigit()
            and int(message_id[1:]) < self.generated
        ):
            return message(message_id, int(message_id[1:]))
        return None

    def _record(self, kind: str, msg: dict[str, Any], **extra: Any) -> None:
        self.history_id += 1
        entry = {
            "message": {
                "id": msg["id"],
                "threadId": msg.get("threadId"),
                "labelIds": msg.get("labelIds"),
            }
        }
        self.history.append({"id": str(self.history_id), kind: [{**entry, **extra}]})
        msg["historyId"] = str(self.history_id)

    def add(self, n: int) -> dict[str, Any]:
        msg = message(f"new{n}", n)
        self.messages = {msg["id"]: msg, **self.messages}  # newest first
        self._record("messagesAdded", msg)
        return msg

    def relabel(self, message_id: str, add: list[str] = (), remove: list[str] = ()) -> None:  # type: ignore[assignment]
        msg = self.messages[message_id]
        msg["labelIds"] = [x for x in msg["labelIds"] if x not in remove] + list(add)
        if add:
            self._record("labelsAdded", msg, labelIds=list(add))
        if remove:
            self._record("labelsRemoved", msg, labelIds=list(remove))

    def delete(self, message_id: str) -> None:
        msg = self.messages.pop(message_id)
        self._record("messagesDeleted", msg)

    def expire_history(self) -> None:
        """Gmail no longer keeps the history up to now: older ids answer 404."""
        self.floor = self.history_id


# -- the routes ------------------------------------------------------------------------------


@dataclass
class Call:
    """One API call as Gmail/YouTube count it (a batch's inner calls one by one)."""

    method: str
    path: str
    query: dict[str, str]
    inner: bool = False  # a call inside a batch


@dataclass
class Media:
    """The YouTube and Gmail state of one mock (``mock.media``)."""

    youtube: YouTubeData = field(default_factory=YouTubeData.sample)
    mailbox: Mailbox = field(default_factory=Mailbox.sample)
    log: list[Call] = field(default_factory=list)
    inner_limited: int = 0  # the next N batch inner calls answer 429

    def calls(self, fragment: str = "", *, inner: bool | None = None) -> list[Call]:
        return [c for c in self.log if fragment in c.path and (inner is None or c.inner == inner)]


def media(mock: GoogleMock) -> Media:
    found: Media | None = getattr(mock, "media", None)
    if found is None:
        found = mock.media = Media()  # type: ignore[attr-defined]
    return found


def answer(
    mock: GoogleMock,
    path: str,
    query: dict[str, str],
    multi: list[tuple[str, str]],
    inner: bool = False,
) -> tuple[int, Any]:
    data = media(mock)
    with mock.lock:
        data.log.append(Call("GET", path, query, inner))
        if path.startswith("/youtube/v3/"):
            return _youtube(data.youtube, path.removeprefix("/youtube/v3/"), query)
        if path.startswith("/gmail/v1/users/me/"):
            return _gmail(data.mailbox, path.removeprefix("/gmail/v1/users/me/"), query, multi)
    return 404, NOT_FOUND


def _youtube(data: YouTubeData, name: str, query: dict[str, str]) -> tuple[int, Any]:
    if data.quota is not None:
        if data.quota <= 0:
            return 403, QUOTA_EXCEEDED
        data.quota -= 1
    data.units += 1
    if name == "subscriptions":
        items = data.subscriptions
    elif name == "playlists":
        items = data.playlists
    elif name == "playlistItems":
        if query.get("playlistId") not in data.items:
            return 404, _error(404, "playlistNotFound", "The playlist cannot be found.")
        items = data.items[query["playlistId"]]
    elif name == "videos" and query.get("myRating") == "like":
        items = data.liked
    else:
        return 404, NOT_FOUND
    chunk, token = _page(items, query, 5, 50)
    body: dict[str, Any] = {
        "kind": "youtube#listResponse",
        "items": chunk,
        "pageInfo": {"totalResults": len(items)},
    }
    if token:
        body["nextPageToken"] = token
    return 200, body


def _gmail(
    box: Mailbox, name: str, query: dict[str, str], multi: list[tuple[str, str]]
) -> tuple[int, Any]:
    if name == "profile":
        return 200, {"emailAddress": "me@example.com", "historyId": str(box.history_id)}
    if name == "messages":
        chunk, token = _page(box.ids(), query, 100, 500)
        listed = [{"id": i, "threadId": (box.get(i) or {}).get("threadId")} for i in chunk]
        return 200, {"messages": listed, **({"nextPageToken": token} if token else {})}
    if name.startswith("messages/"):
        found = box.get(name.removeprefix("messages/"))
        if found is None:
            return 404, NOT_FOUND
        if query.get("format", "full") == "full":
            return 200, found
        return 200, _metadata(found, [v for k, v in multi if k == "metadataHeaders"])
    if name == "history":
        start = int(query.get("startHistoryId") or 0)
        if start < box.floor or start <= 0:
            return 404, NOT_FOUND
        records = [r for r in box.history if int(r["id"]) > start]
        chunk, token = _page(records, query, 100, 500)
        body = {"history": chunk, "historyId": str(box.history_id)}
        return 200, {**body, **({"nextPageToken": token} if token else {})}
    if name == "labels":
        return 200, {
            "labels": [
                {k: v for k, v in label.items() if not k.endswith(("Total", "Unread"))}
                for label in box.labels
            ]
        }
    if name.startswith("labels/"):
        return _label(box, name.removeprefix("labels/"))
    return 404, NOT_FOUND


def _label(box: Mailbox, label_id: str) -> tuple[int, Any]:
    label = next((x for x in box.labels if x["id"] == label_id), None)
    if label is None:
        return 404, NOT_FOUND
    ids = box.ids()[: min(len(box.messages) + box.generated, 1000)]
    total = sum(1 for i in ids if label["id"] in (box.get(i) or {}).get("labelIds", ()))
    return 200, {
        "messagesTotal": total,
        "messagesUnread": 0,
        "threadsTotal": total,
        "threadsUnread": 0,
        **label,
    }


def _get(mock: GoogleMock, request: Logged, match: re.Match[str]) -> Reply:
    path = request.path.removeprefix("/api")
    status, body = answer(mock, path, request.query, list(request.query.items()))
    return Reply(status, body)


def _parts(raw: bytes, boundary: str) -> list[tuple[str, str, str]]:
    parts = []
    for chunk in raw.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, http = chunk.strip(b"\r\n").partition(b"\r\n\r\n")
        cid = next(
            (
                line.split(b":", 1)[1].strip().decode()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-id")
            ),
            "<none>",
        )
        method, target, _ = http.split(b"\r\n", 1)[0].decode().split(" ", 2)
        parts.append((cid.strip("<>"), method, target))
    return parts


def _batch(mock: GoogleMock, request: Logged, match: re.Match[str]) -> Reply:
    """https://developers.google.com/gmail/api/guides/batch"""
    content_type = request.headers.get("content-type", "")
    boundary = content_type.partition("boundary=")[2].strip('"')
    if not content_type.startswith("multipart/mixed") or not boundary:
        return Reply(400, _error(400, "badRequest", "Bad batch request"))
    parts = _parts(request.body, boundary)
    if len(parts) > 100:
        return Reply(400, _error(400, "badRequest", "Too many requests in a batch."))
    data = media(mock)
    out = "batch_" + secrets.token_hex(8)
    body = []
    for cid, _method, target in parts:
        url = urlsplit(target)
        multi = parse_qsl(url.query)
        with mock.lock:
            limited = data.inner_limited > 0
            data.inner_limited -= limited
            if limited:
                data.log.append(Call("GET", url.path, dict(multi), True))
        if limited:
            status, found = 429, RATE_LIMITED
        else:
            status, found = answer(mock, url.path, dict(multi), multi, inner=True)
        text = json.dumps(found)
        body.append(
            f"--{out}\r\nContent-Type: application/http\r\nContent-ID: <response-{cid}>\r\n\r\n"
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json; charset=UTF-8\r\n"
            f"Content-Length: {len(text)}\r\n\r\n{text}\r\n"
        )
    payload = "".join(body) + f"--{out}--\r\n"
    return Reply(200, payload.encode(), {"Content-Type": f"multipart/mixed; boundary={out}"})


@product("youtube")
def install_youtube(mock: GoogleMock) -> None:
    media(mock)
    mock.route("GET", r"/youtube/v3/[A-Za-z]+", _get, scope=YOUTUBE)


@product("gmail")
def install_gmail(mock: GoogleMock) -> None:
    media(mock)
    mock.route("GET", r"/gmail/v1/users/me/.+", _get, scope=GMAIL)
    mock.route("POST", r"/batch/gmail/v1", _batch, scope=GMAIL)
