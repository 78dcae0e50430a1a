"""A CyberArk-Identity-like IdP on 127.0.0.1 for the pull tests (issue 13):
a SCIM 2.0 API at /scim (Users and Groups, the roles, read only) behind an
OAuth2 client-credentials token endpoint at /oauth2/token/app1.

Tests change its users and roles directly (`add_user`, `remove_user`,
`add_group`, `remove_group`, `remove_member`), shape its answers (`page_size`,
`token_uses`, `expires_in`, `client_auth`, `scope`, `scope_missing`, `delay`,
`fail(...)`) and read what it saw (`requests`, `tokens_issued`, `listed(...)`)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
TOKEN_PATH = "/oauth2/token/app1"
FILTER = re.compile(r'^\s*(\w+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.I)


class FakeIdP:
    def __init__(self, page_size: int = 100, client_id: str = "rollcall-app", client_secret: str | None = None,
                 client_auth: str = "either", scope: str | None = "scim", token_uses: int | None = None,
                 expires_in: int = 3600, delay: float = 0.0):
        assert client_auth in ("basic", "body", "either")
        self.page_size, self.client_id, self.client_auth, self.scope = page_size, client_id, client_auth, scope
        self.client_secret = client_secret or "cs-" + secrets.token_urlsafe(24)
        self.token_uses, self.expires_in, self.delay = token_uses, expires_in, delay
        self.scope_missing = False  # the SCIM API answers 403 to every valid token
        self.users: dict[str, dict] = {}  # idp id -> {id, userName, active, ...}, in creation order
        self.groups: dict[str, dict] = {}  # idp id -> {id, displayName, members: [idp user ids]}
        self.tokens: dict[str, dict] = {}  # access token -> {uses, expires}
        self.tokens_issued = 0
        self.requests: list[dict] = []
        self.faults: list[dict] = []
        self.lock = threading.RLock()
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                idp._handle(self, "GET")

            def do_POST(self):
                idp._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.scim_url, self.token_url = self.url + "/scim", self.url + TOKEN_PATH
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the directory, changed by the tests --------------------------------
    def add_user(self, user_name: str, active: bool = True, id: str | None = None) -> str:
        uid = id or str(uuid.uuid4())
        with self.lock:
            self.users[uid] = {"id": uid, "userName": user_name, "active": active}
        return uid

    def remove_user(self, uid: str) -> None:
        """Gone from the app, and so from every role, as in CyberArk."""
        with self.lock:
            del self.users[uid]
            for g in self.groups.values():
                g["members"] = [m for m in g["members"] if m != uid]

    def add_group(self, name: str, members=(), id: str | None = None) -> str:
        gid = id or str(uuid.uuid4())
        with self.lock:
            self.groups[gid] = {"id": gid, "displayName": name, "members": list(members)}
        return gid

    def remove_group(self, gid: str) -> None:
        with self.lock:
            del self.groups[gid]

    def remove_member(self, gid: str, uid: str) -> None:
        with self.lock:
            self.groups[gid]["members"].remove(uid)

    def fail(self, path: str, status: int = 500, start_index: int | None = None, nth: int = 1, times: int = 1) -> None:
        """Answers `status` to the nth (and the next times-1) GET of `path`
        (with that startIndex, when given) from now on."""
        with self.lock:
            self.faults.append({"path": path, "status": status, "start": start_index, "nth": nth, "times": times, "seen": 0})

    # -- what it saw ----------------------------------------------------------
    def api_requests(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] != TOKEN_PATH]

    def token_requests(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == TOKEN_PATH]

    def listed(self, path: str, status: int = 200) -> list[int]:
        """The startIndex of each unfiltered list GET of `path` answered `status`."""
        return [int(r["query"].get("startIndex", 1)) for r in self.api_requests()
                if r["path"] == path and "filter" not in r["query"] and r["status"] == status]

    # -- HTTP -------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        path, query = unquote(url.path), dict(parse_qsl(url.query))
        body = h.rfile.read(int(h.headers.get("content-length") or 0)).decode("utf-8", "replace")
        auth = h.headers.get("authorization") or ""
        form = dict(parse_qsl(body)) if method == "POST" else {}
        kind = auth.split(" ", 1)[0].lower() if auth else ("body" if "client_secret" in form else None)
        rec = {"method": method, "path": path, "query": query, "auth": kind, "status": None, "at": time.time()}
        with self.lock:
            self.requests.append(rec)
        if self.delay and path != TOKEN_PATH:
            time.sleep(self.delay)
        if method == "POST" and path == TOKEN_PATH:
            status, answer = self._token(auth, form)
        elif method == "GET" and path.startswith("/scim/"):
            status, answer = self._scim(auth, path, query)
        else:
            status, answer = 404, {"error": "not_found"}
        rec["status"] = status
        data = json.dumps(answer).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json" if path == TOKEN_PATH else "application/scim+json")
        if status == 401 and path == TOKEN_PATH:
            h.send_header("WWW-Authenticate", 'Basic realm="token"')
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Connection", "close")  # workerd would reuse a socket http.server closes
        h.end_headers()
        h.wfile.write(data)

    def _token(self, auth: str, form: dict) -> tuple[int, dict]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        basic = body = False
        if auth.lower().startswith("basic ") and self.client_auth in ("basic", "either"):
            try:
                cid, _, csec = base64.b64decode(auth[6:].strip()).decode().partition(":")
                basic = (unquote_plus(cid), unquote_plus(csec)) == (self.client_id, self.client_secret)
            except ValueError:
                basic = False
        if self.client_auth in ("body", "either"):
            body = (form.get("client_id"), form.get("client_secret")) == (self.client_id, self.client_secret)
        if not (basic or body):
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        if self.scope and self.scope not in form.get("scope", "").split():
            return 400, {"error": "invalid_scope", "error_description": f"scope {self.scope} is required"}
        token = "at-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = {"uses": 0, "expires": time.time() + self.expires_in}
            self.tokens_issued += 1
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}

    def _scim(self, auth: str, path: str, query: dict) -> tuple[int, dict]:
        with self.lock:
            t = self.tokens.get(auth[7:].strip()) if auth[:7].lower() == "bearer " else None
            if t:
                t["uses"] += 1
            if not t or time.time() > t["expires"] or (self.token_uses is not None and t["uses"] > self.token_uses):
                return 401, error(401, "The access token is missing, unknown or expired")
            if self.scope_missing:
                return 403, error(403, "The token lacks the scope this API needs")
            for f in self.faults:
                if f["path"] == path and (f["start"] is None or query.get("startIndex") == str(f["start"])):
                    f["seen"] += 1
                    if f["nth"] <= f["seen"] < f["nth"] + f["times"]:
                        return f["status"], error(f["status"], "Injected failure")
            parts = path.strip("/").split("/")  # scim, Users|Groups[, id]
            if len(parts) not in (2, 3) or parts[1] not in ("Users", "Groups"):
                return 404, error(404, "No such endpoint")
            users = parts[1] == "Users"
            items = [self._user(u) for u in self.users.values()] if users else [self._group(g) for g in self.groups.values()]
        if len(parts) == 3:
            found = [r for r in items if r["id"] == parts[2]]
            return (200, found[0]) if found else (404, error(404, f"{parts[1][:-1]} {parts[2]} not found"))
        if "filter" in query:
            m = FILTER.match(query["filter"])
            attr = "userName" if users else "displayName"
            if not m or m.group(1).lower() != attr.lower():
                return 400, {**error(400, f"Only {attr} eq \"...\" is supported"), "scimType": "invalidFilter"}
            want = re.sub(r"\\(.)", r"\1", m.group(2)).lower()
            items = [r for r in items if r[attr].lower() == want]
        try:
            start = max(1, int(query.get("startIndex", 1)))
            count = min(max(0, int(query.get("count", self.page_size))), self.page_size)
        except ValueError:
            return 400, {**error(400, "startIndex and count must be integers"), "scimType": "invalidValue"}
        page = items[start - 1:start - 1 + count]
        return 200, {"schemas": [LIST], "totalResults": len(items), "startIndex": start,
                     "itemsPerPage": len(page), "Resources": page}

    def _user(self, u: dict) -> dict:
        local = u["userName"].split("@")[0]
        return {"schemas": [USER], "id": u["id"], "userName": u["userName"], "active": u["active"],
                "displayName": local.title(), "name": {"givenName": local.title(), "familyName": "Test"},
                "emails": [{"value": u["userName"], "type": "work", "primary": True}], "meta": {"resourceType": "User"}}

    def _group(self, g: dict) -> dict:
        names = {uid: self.users[uid]["userName"] for uid in g["members"] if uid in self.users}
        return {"schemas": [GROUP], "id": g["id"], "displayName": g["displayName"],
                "members": [{"value": uid, "display": names.get(uid, uid)} for uid in g["members"]],
                "meta": {"resourceType": "Group"}}


def error(status: int, detail: str) -> dict:
    return {"schemas": [ERROR], "status": str(status), "detail": detail}
