"""A local Salesforce org on 127.0.0.1: the REST query resources and the OAuth endpoints.

It behaves like Salesforce where the connector depends on it (facts from Salesforce's docs:
developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm,
…/dome_queryall.htm, …/headers_api_usage.htm, …/errorcodes.htm, and
help.salesforce.com …remoteaccess_oauth_web_server_flow.htm and
…remoteaccess_oauth_refresh_token_flow.htm):

- ``GET /services/data/v62.0/query?q=`` and ``…/queryAll?q=`` with the SOQL the connector sends
  (``SELECT fields FROM Object WHERE [IsDeleted = false] [AND] [SystemModstamp >= literal]
  ORDER BY SystemModstamp, Id``): ``{totalSize, done, records, nextRecordsUrl}``, records carrying
  ``attributes`` and only the selected fields; batches of ``page_cap`` records, the rest behind
  ``nextRecordsUrl`` (``/services/data/v62.0/query/<locator>-<offset>``, fetched with no
  parameters). ``query`` leaves deleted records out, ``queryAll`` includes them.
- Every API answer carries ``Sforce-Limit-Info: api-usage=used/limit``; past the limit the API
  answers 403 ``[{"errorCode": "REQUEST_LIMIT_EXCEEDED", …}]``. An unknown or expired token
  answers 401 ``[{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]``.
- ``POST /services/oauth2/token``: the authorization-code grant (PKCE ``code_verifier`` checked
  when the code was issued with a challenge) and the refresh grant. Token responses have no
  ``expires_in``; they carry ``instance_url`` (this server, or :attr:`instance_url` when a test
  plays a hostile token endpoint), ``id``, ``issued_at``, ``signature``. With :attr:`rotate` the
  refresh grant returns a new refresh token and the old one is dead; without, none is returned
  and the same one stays valid. A dead one answers 400 ``invalid_grant``.
- ``POST /services/oauth2/revoke`` (form ``token``): the token (and, for a refresh token, its
  access tokens) is dead.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from ait_connectors.testing.mock import Logged, MockServer, Reply

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "OBJECTS", "SalesforceMock", "sample_data"]

CLIENT_ID = "salesforce-client-id"
CLIENT_SECRET = "salesforce-client-secret"
VERSION_PATH = "/services/data/v62.0"
OBJECTS = ("Account", "Contact", "Opportunity", "Lead", "Case")
_SOQL = re.compile(
    r"^SELECT (?P<fields>[\w, ]+) FROM (?P<object>\w+) WHERE (?P<where>.+?) "
    r"ORDER BY SystemModstamp, Id$"
)
_SINCE = re.compile(r"^SystemModstamp >= (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$")
_PREFIX = {"Account": "001", "Contact": "003", "Opportunity": "006", "Lead": "00Q", "Case": "500"}


def _stamp(day: int, second: int = 0) -> str:
    return f"2026-01-{day:02d}T10:00:{second:02d}.000+0000"


def _record(sobject: str, n: int, **fields: Any) -> dict[str, Any]:
    record_id = f"{_PREFIX[sobject]}5g00000{n:04d}AAAAA{n % 10}"[:18]
    return {
        "attributes": {"type": sobject, "url": f"{VERSION_PATH}/sobjects/{sobject}/{record_id}"},
        "Id": record_id,
        "IsDeleted": False,
        "CreatedDate": _stamp(1),
        "LastModifiedDate": _stamp(1 + n),
        # Two records of each object share a SystemModstamp: the overlap must not lose one.
        "SystemModstamp": _stamp(1 + min(n, 4)),
        **fields,
    }


def sample_data() -> dict[str, list[dict[str, Any]]]:
    """Five records of each object (the shape the query resource returns)."""
    rows = range(1, 6)
    return {
        "Account": [
            _record(
                "Account",
                n,
                Name=f"Account {n}",
                Type="Customer",
                Industry="Energy",
                Website=f"https://a{n}.example",
                Phone="+1 555 0100",
                BillingCity="Paris",
                BillingCountry="France",
                NumberOfEmployees=10 * n,
                OwnerId="0055g00000OWNERAAA",
                ParentId=None,
            )
            for n in rows
        ],
        "Contact": [
            _record(
                "Contact",
                n,
                FirstName="Ada",
                LastName=f"Contact{n}",
                Name=f"Ada Contact{n}",
                Email=f"c{n}@example.com",
                Phone=None,
                Title="CTO",
                AccountId="0015g00000001AAAAA1",
                OwnerId="0055g00000OWNERAAA",
            )
            for n in rows
        ],
        "Opportunity": [
            _record(
                "Opportunity",
                n,
                Name=f"Deal {n}",
                AccountId="0015g00000001AAAAA1",
                StageName="Prospecting",
                Amount=1000.5 * n,
                Probability=10.0,
                CloseDate="2026-06-30",
                IsClosed=False,
                IsWon=False,
                OwnerId="0055g00000OWNERAAA",
            )
            for n in rows
        ],
        "Lead": [
            _record(
                "Lead",
                n,
                FirstName="Lin",
                LastName=f"Lead{n}",
                Company=f"Co {n}",
                Email=f"l{n}@example.com",
                Status="Open - Not Contacted",
                IsConverted=False,
                ConvertedAccountId=None,
                OwnerId="0055g00000OWNERAAA",
            )
            for n in rows
        ],
        "Case": [
            _record(
                "Case",
                n,
                CaseNumber=f"{n:08d}",
                Subject=f"Case {n}",
                Status="New",
                Priority="Medium",
                Origin="Web",
                AccountId="0015g00000001AAAAA1",
                ContactId=None,
                IsClosed=False,
                ClosedDate=None,
                OwnerId="0055g00000OWNERAAA",
            )
            for n in rows
        ],
    }


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, [{"message": message, "errorCode": code}])


class SalesforceMock(MockServer):
    """One org: ``data[object]`` holds its live records (deleted ones have ``IsDeleted``)."""

    prefix = VERSION_PATH

    def __init__(self, *, rotate: bool = False) -> None:
        super().__init__()
        self.data = sample_data()
        self.rotate = rotate
        self.instance_url: str | None = None  # None: this server's own URL
        self.refresh_tokens: dict[str, set[str]] = {}  # refresh token -> its access tokens
        self.codes: dict[str, str | None] = {}  # code -> PKCE challenge
        self.revoked: list[str] = []
        self.locators: dict[str, list[dict[str, Any]]] = {}
        self.api_used, self.api_limit = 100, 15000
        self.authorize_hosts: list[str] = []

    # -- OAuth ------------------------------------------------------------------------------

    def public(self, path: str) -> bool:
        return "/services/oauth2/" in path

    def unauthorized(self) -> Reply:
        return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def new_code(self, challenge: str | None = None) -> str:
        code = secrets.token_urlsafe(12)
        with self.lock:
            self.codes[code] = challenge
        return code

    def token_pair(self) -> tuple[str, str]:
        """A fresh access token and the refresh token it belongs to."""
        refresh = f"5Aep{secrets.token_hex(10)}"
        access = self.new_token("00D5g!")
        with self.lock:
            self.refresh_tokens[refresh] = {access}
        return access, refresh

    def _token_body(self, access: str, refresh: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": access,
            "instance_url": self.instance_url or self.url,
            "id": "https://login.salesforce.com/id/00D5g000000ORGAAA/0055g00000OWNERAAA",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
            "scope": "api refresh_token",
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        return body

    def _token(self, form: dict[str, str]) -> Reply:
        grant = form.get("grant_type")
        if form.get("client_id") != CLIENT_ID:
            return Reply(400, {"error": "invalid_client_id", "error_description": "client"})
        if grant == "authorization_code":
            with self.lock:
                known = form.get("code", "") in self.codes
                challenge = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier")
            if not known or (challenge and (not verifier or _challenge(verifier) != challenge)):
                return Reply(400, {"error": "invalid_grant", "error_description": "invalid code"})
            access, refresh = self.token_pair()
            return Reply(200, self._token_body(access, refresh))
        if grant == "refresh_token":
            old = form.get("refresh_token", "")
            with self.lock:
                alive = old in self.refresh_tokens
                if alive and self.rotate:
                    del self.refresh_tokens[old]
            if not alive:
                return Reply(
                    400, {"error": "invalid_grant", "error_description": "expired access/refresh"}
                )
            access = self.new_token("00D5g!")
            if self.rotate:
                refresh: str | None = f"5Aep{secrets.token_hex(10)}"
                with self.lock:
                    self.refresh_tokens[refresh] = {access}
            else:
                refresh = None
                with self.lock:
                    self.refresh_tokens[old].add(access)
            return Reply(200, self._token_body(access, refresh))
        return Reply(400, {"error": "unsupported_grant_type", "error_description": str(grant)})

    def _revoke(self, form: dict[str, str]) -> Reply:
        token = form.get("token", "")
        with self.lock:
            self.revoked.append(token)
            for access in self.refresh_tokens.pop(token, set()):
                self.tokens.discard(access)
            self.tokens.discard(token)
        return Reply(200)

    # -- API --------------------------------------------------------------------------------

    def _authorize(self, request: Logged) -> Reply:
        """``GET /<login host>/services/oauth2/authorize``: the user approves at once; the login
        host (a config may put ``{login_host}`` in its authorize URL override) is recorded."""
        query = request.query
        with self.lock:
            self.authorize_hosts.append(request.path.split("/")[1])
        code = self.new_code(query.get("code_challenge"))
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return Reply(302, headers={"Location": target})

    def handle(self, request: Logged, form: dict[str, str], headers: Any) -> Reply:
        path = request.path
        if path.endswith("/services/oauth2/authorize"):
            return self._authorize(request)
        if path == "/services/oauth2/token" and request.method == "POST":
            return self._token(form)
        if path == "/services/oauth2/revoke" and request.method == "POST":
            return self._revoke(form)
        with self.lock:
            self.api_used += 1
            over = self.api_used > self.api_limit
        limit = {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_limit}"}
        if over:
            reply = _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        elif path in (f"{VERSION_PATH}/query", f"{VERSION_PATH}/queryAll"):
            reply = self._query(request.query.get("q", ""), all_rows=path.endswith("queryAll"))
        elif path.startswith(f"{VERSION_PATH}/query/"):
            reply = self._more(path.rsplit("/", 1)[1])
        else:
            reply = _error(404, "NOT_FOUND", "The requested resource does not exist")
        reply.headers.update(limit)
        return reply

    def _query(self, soql: str, *, all_rows: bool) -> Reply:
        match = _SOQL.match(soql)
        if match is None or match["object"] not in self.data:
            return _error(400, "MALFORMED_QUERY", "unexpected query")
        fields = [f.strip() for f in match["fields"].split(",")]
        where = match["where"]
        live = where.startswith("IsDeleted = false")
        rest = where.removeprefix("IsDeleted = false").removeprefix(" AND ")
        since = _SINCE.match(rest)
        if rest and since is None:
            return _error(400, "MALFORMED_QUERY", f"unexpected WHERE {where}")
        rows = []
        with self.lock:
            records = copy.deepcopy(self.data[match["object"]])
        for record in records:
            if record.get("IsDeleted") and (not all_rows or live):
                continue
            if since is not None and _norm(record["SystemModstamp"]) < since.group(1)[:-1]:
                continue
            shown = {"attributes": record["attributes"]}
            shown.update({f: record[f] for f in fields if f in record})
            rows.append(shown)
        rows.sort(key=lambda r: (_norm(r["SystemModstamp"]), r["Id"]))
        locator = f"01g5g{secrets.token_hex(6)}"
        with self.lock:
            self.locators[locator] = rows
        return self._batch(locator, 0)

    def _more(self, ident: str) -> Reply:
        locator, _, offset = ident.rpartition("-")
        with self.lock:
            known = locator in self.locators
        if not known or not offset.isdigit():
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._batch(locator, int(offset))

    def _batch(self, locator: str, offset: int) -> Reply:
        with self.lock:
            rows = self.locators[locator]
        end = offset + self.page_cap
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": end >= len(rows),
            "records": rows[offset:end],
        }
        if end < len(rows):
            body["nextRecordsUrl"] = f"{VERSION_PATH}/query/{locator}-{end}"
        return Reply(200, body)


def _norm(stamp: str) -> str:
    """``2026-01-02T10:00:00.000+0000`` -> ``2026-01-02T10:00:00`` (sortable, comparable)."""
    return stamp[:19]
