"""Issue "Safe at the public edge": what a stranger on the Internet can make
the Worker do. Authentication comes before anything else a request asks
for, and a refused caller costs one D1 call whatever the directory's size;
every size the Worker accepts is capped, the largest allowed request still
works and a refused one writes nothing; odd numbers, deep JSON, bad UTF-8
and mutated requests never end in a 5xx or a panic; cost headers and
plain-http webhooks are off unless asked for.

Every test checks the Worker's log for a panic written while it ran."""

from __future__ import annotations

import json
import os
import random
import secrets
import time
import uuid
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from harness import Worker, raw_request

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
MAX_PAYLOAD = 1_048_576
OAUTH_MAX = 16 * 1024
COST_HEADERS = ("x-rollcall-d1-calls", "x-rollcall-d1-rows-read", "x-rollcall-d1-rows-written")
CRASH_MARKS = ("panicked", "RuntimeError: unreachable", "Uncaught")

# Workers whose logs are checked after every test (the session Worker, and
# the safe-defaults Worker once it is started).
_watched: list[Worker] = []


@pytest.fixture(autouse=True)
def no_panic(worker):
    if worker not in _watched:
        _watched.append(worker)
    offsets = {id(w): w.log_offset() for w in _watched}
    yield
    for w in list(_watched):
        text = w.log_since(offsets.get(id(w), 0))
        for mark in CRASH_MARKS:
            assert mark not in text, f"{mark!r} in the Worker log during this test:\n" + "\n".join(
                line for line in text.splitlines() if mark in line)[:3000]


# -- shared directories --------------------------------------------------------

class EventLog:
    """A directory's events, read only past the last one already seen."""

    def __init__(self, d):
        self.d, self.mark = d, None
        self.new()

    def new(self) -> list[dict]:
        evs = self.d.events(**({"after": self.mark} if self.mark else {}))
        if evs:
            self.mark = evs[-1]["id"]
        return evs


@pytest.fixture(scope="module")
def big(worker):
    """A directory with 1,001 users (one more than any cap allows)."""
    d = worker.new_directory(name="Big directory")
    ids = d.seed_users(1001, "big")
    return SimpleNamespace(d=d, ids=ids, events=EventLog(d))


@pytest.fixture(scope="module")
def other(worker):
    """A directory of another organisation."""
    return worker.new_directory(name="Other directory")


@pytest.fixture(scope="module")
def safe_worker():
    """A Worker with the top-level wrangler.toml defaults: no EXPOSE_COST
    and no ALLOW_HTTP_LOOPBACK_WEBHOOKS."""
    w = Worker()
    for k in ("EXPOSE_COST", "ALLOW_HTTP_LOOPBACK_WEBHOOKS"):
        w.vars.pop(k, None)
    w.start()
    _watched.append(w)
    yield w
    _watched.remove(w)
    w.stop()


# -- helpers ------------------------------------------------------------------

def unknown_directory() -> str:
    return "directory_" + uuid.uuid4().hex


def wrong_token() -> str:
    return "rcs_" + secrets.token_urlsafe(32)


def scim_error(r, status: int) -> dict:
    """Asserts a SCIM error body of `status`; returns it."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:500]}"
    body = r.json()
    assert body.get("schemas") == [ERROR], body
    assert body.get("status") == str(status), body
    return body


def no_cost_headers(r) -> None:
    present = [h for h in COST_HEADERS if h in {k.lower() for k in r.headers}]
    assert not present, f"{r.status_code} carries {present}"


def refused_cost(rec, what: str) -> None:
    """A refused caller's request, as the Worker logged it, cost at most one
    D1 call, ten rows read and nothing written."""
    assert rec is not None, f"{what}: no request record in the Worker log"
    assert rec.get("status") == 401, f"{what}: logged {rec}"
    assert rec["d1_calls"] <= 1 and rec["rows_read"] <= 10 and rec["rows_written"] == 0, f"{what}: logged {rec}"


def send(worker, method: str, path: str, auth: str | None = None, body: bytes | None = None, chunks=None,
         content_type: str | None = "application/scim+json", headers: dict | None = None):
    h = dict(headers or {})
    if auth:
        h["Authorization"] = auth
    if (body is not None or chunks is not None) and content_type:
        h["Content-Type"] = content_type
    return raw_request(worker.url, method, path, h, body=body, chunks=chunks)


def absorb_after_refused_stream(worker) -> None:
    """When the request after a chunked body refused part-way fails (a 503 or a
    hang under wrangler dev, fixed by draining the refused body), one
    throwaway request lets the rest of the test speak of its own requests."""
    try:
        raw_request(worker.url, "POST", "/health", {}, body=b"", timeout=15)
    except OSError:
        pass


def chunked(data: bytes, size: int = 65536):
    return lambda: (data[i:i + size] for i in range(0, len(data), size))


def padded(obj, total: int) -> bytes:
    """`obj` as JSON followed by spaces up to `total` bytes (still valid JSON)."""
    b = json.dumps(obj).encode()
    assert len(b) <= total
    return b + b" " * (total - len(b))


def members(ids) -> list[dict]:
    return [{"value": i} for i in ids]


def patch(*ops) -> dict:
    return {"schemas": [PATCH], "Operations": list(ops)}


# -- authentication comes first -------------------------------------------------

def _hostile():
    """Requests that would earn a 400/404/405/413/415 from a trusted caller."""
    fake_members = members("user_" + uuid.uuid4().hex for _ in range(20_000))
    big_body = padded({"userName": "big@x.test"}, 2 * MAX_PAYLOAD)
    deep = b"[" * 10_000 + b"]" * 10_000
    return {
        "GET /Users with a 10 KB filter": ("GET", "/Users?filter=" + quote('userName eq "' + "a" * 10_000 + '"'), None, None),
        "GET /Users sorted, counted and paged": ("GET", "/Users?filter=userName+sw+%22big%22&sortBy=userName&sortOrder=descending&count=500&startIndex=400", None, None),
        "GET /Users/{id}": ("GET", f"/Users/user_{uuid.uuid4().hex}", None, None),
        "GET /ServiceProviderConfig": ("GET", "/ServiceProviderConfig", None, None),
        "GET /Schemas": ("GET", "/Schemas", None, None),
        "GET an unknown endpoint": ("GET", "/Nope/42", None, None),
        "DELETE /Users (wrong method)": ("DELETE", "/Users", None, None),
        "POST /Users with invalid JSON": ("POST", "/Users", b'{"userName":', None),
        "POST /Users with invalid UTF-8": ("POST", "/Users", b'{"userName":"\xff\xfe@x.test"}', None),
        "POST /Users with 10,000 nested arrays": ("POST", "/Users", deep, None),
        "POST /Users as text/plain": ("POST", "/Users", b"userName=x", "text/plain"),
        "POST /Groups with 20,000 member ids": ("POST", "/Groups", json.dumps({"displayName": "Huge", "members": fake_members}).encode(), None),
        "PATCH /Groups/{id} with 20,000 member ids": ("PATCH", f"/Groups/group_{uuid.uuid4().hex}", json.dumps(patch({"op": "add", "path": "members", "value": fake_members})).encode(), None),
        "POST /.search": ("POST", "/.search", json.dumps({"schemas": [SEARCH], "filter": 'userName sw "big"', "count": 500}).encode(), None),
        "POST /Users with a 2 MiB body": ("POST", "/Users", big_body, None),
        "POST /Users with a 2 MiB chunked body": ("POST", "/Users", chunked(big_body), None),
    }


HOSTILE = _hostile()
MALFORMED_IDS = ["nope", "x" * 2000, "%27%20OR%201%3D1--", "%00", "%F0%9F%92%A9", "directory_%ff", "..%2F..%2Fv1%2Forganizations", "directory_" + "0" * 32]


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_refused_caller_gets_401_whatever_it_asks_and_costs_one_d1_call(worker, big, other, kind):
    method, suffix, body, extra = HOSTILE[kind]
    content_type = extra if isinstance(extra, str) else "application/scim+json"
    malformed = MALFORMED_IDS[list(HOSTILE).index(kind) % len(MALFORMED_IDS)]
    d = big.d
    variants = [
        ("no token", d.id, None),
        ("a wrong token", d.id, f"Bearer {wrong_token()}"),
        ("another directory's token", d.id, f"Bearer {other.token}"),
        ("a forged access token", d.id, "Bearer rca_" + d.id + ".token_x.99999999999.AAAA"),
        ("an unknown directory", unknown_directory(), f"Bearer {d.token}"),
        (f"a malformed directory id {malformed[:40]!r}", malformed, f"Bearer {d.token}"),
    ]
    bodies = {}
    for name, dir_id, auth in variants:
        what = f"{kind} with {name}"
        r, rec = worker.logged(lambda: send(worker, method, f"/scim/v2/{dir_id}{suffix}", auth,
                                            body=None if callable(body) else body,
                                            chunks=body() if callable(body) else None, content_type=content_type),
                               method=method)
        assert r.status_code == 401, f"{what}: expected 401, got {r.status_code} {r.text[:300]}"
        scim_error(r, 401)
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), f"{what}: {r.headers}"
        no_cost_headers(r)
        refused_cost(rec, what)
        if auth:
            bodies[name] = r.json()
    first = next(iter(bodies.values()))
    assert all(b == first for b in bodies.values()), f"{kind}: the 401 bodies differ: {bodies}"


def test_every_malformed_directory_id_gets_the_wrong_token_answer(worker, big):
    reference = send(worker, "GET", f"/scim/v2/{big.d.id}/Users", f"Bearer {wrong_token()}")
    scim_error(reference, 401)
    for dir_id in MALFORMED_IDS + ["directory_", "%20", "Users", "v1", "directory_" + uuid.uuid4().hex.upper()]:
        for auth in (f"Bearer {big.d.token}", "Basic dXNlcjpwYXNz", "Bearer", "Bearer " + "x" * 8000):
            r = send(worker, "GET", f"/scim/v2/{dir_id}/Users", auth)
            assert r.status_code == 401, f"GET /scim/v2/{dir_id[:60]}/Users ({auth[:20]}): got {r.status_code} {r.text[:300]}"
            assert r.json() == reference.json(), f"{dir_id[:60]}: {r.text[:300]} != {reference.text[:300]}"
            assert r.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_a_wrong_token_reads_at_most_ten_rows_of_a_large_directory(worker, big):
    """The same list/search queries cost the valid token hundreds of rows."""
    queries = [
        ("GET", "/Users?count=500", None),
        ("GET", "/Users?filter=userName+sw+%22big%22&sortBy=userName&sortOrder=descending&count=500&startIndex=1", None),
        ("GET", "/Users?filter=" + quote('title pr or nickName co "x" or emails[type eq "work" and value co "big"]'), None),
        ("GET", "/Groups?count=500", None),
        ("POST", "/Users/.search", {"schemas": [SEARCH], "filter": 'userName co "big"', "sortBy": "userName", "count": 500}),
        ("POST", "/.search", {"schemas": [SEARCH], "startIndex": 900, "count": 100}),
        ("PUT", f"/Users/{big.ids[5]}", {"userName": "big5@bench.test", "title": "nope"}),
        ("PATCH", f"/Users/{big.ids[5]}", patch({"op": "replace", "path": "title", "value": "nope"})),
        ("DELETE", f"/Users/{big.ids[5]}", None),
        ("POST", "/Users", {"userName": "stranger@x.test"}),
        ("POST", "/Groups", {"displayName": "Everyone", "members": members(big.ids[:1000])}),
    ]
    for method, suffix, body in queries:
        for auth in (f"Bearer {wrong_token()}", None):
            data = json.dumps(body).encode() if body is not None else None
            r, rec = worker.logged(lambda: send(worker, method, f"/scim/v2/{big.d.id}{suffix}", auth, body=data), method=method)
            assert r.status_code == 401, f"{method} {suffix[:80]}: {r.status_code} {r.text[:200]}"
            refused_cost(rec, f"{method} {suffix[:80]} ({'wrong' if auth else 'no'} token)")
    u = big.d.scim("GET", f"/Users/{big.ids[5]}")
    assert u.status_code == 200 and "title" not in u.json(), u.text[:300]


def test_each_request_is_logged_as_one_json_line_with_its_cost(worker, big):
    r, rec = worker.logged(lambda: big.d.scim("GET", "/Users?count=3"), method="GET")
    assert r.status_code == 200
    assert rec is not None, worker.log_since(0)[-2000:]
    assert {"msg", "method", "path", "status", "d1_calls", "rows_read", "rows_written", "ms"} <= set(rec), rec
    assert rec["path"] == f"/scim/v2/{big.d.id}/Users", rec
    assert rec["status"] == 200 and isinstance(rec["ms"], (int, float)), rec
    assert (rec["d1_calls"], rec["rows_read"], rec["rows_written"]) == tuple(int(r.headers[h]) for h in COST_HEADERS), (rec, r.headers)
    assert rec["route"] == "/scim/v2/{directory}/Users" and rec["directory_id"] == big.d.id, rec
    assert rec["events"] == 0 and rec["error"] is None, rec
    r, rec = worker.logged(lambda: worker.api("GET", "/v1/organizations?limit=1"), method="GET")
    assert rec is not None and rec["path"] == "/v1/organizations" and rec["status"] == 200, rec
    assert rec["route"] == "/v1/organizations" and rec["directory_id"] is None, rec
    # A write logs the events it wrote; an id in the path is a placeholder in the route.
    r, rec = worker.logged(lambda: big.d.scim("POST", "/Users", {"userName": "logged-route@x.test"}), method="POST")
    assert r.status_code == 201 and rec is not None, rec
    assert rec["route"] == "/scim/v2/{directory}/Users" and rec["events"] == 1, rec
    uid = r.json()["id"]
    r, rec = worker.logged(lambda: big.d.scim("GET", f"/Users/{uid}"), method="GET")
    assert rec is not None and rec["route"] == "/scim/v2/{directory}/Users/{id}" and uid not in rec["route"], rec


def test_no_token_or_secret_ever_reaches_the_log(worker, directory):
    offset = worker.log_offset()
    wrong = wrong_token()
    secrets_sent = [directory.token, wrong]
    assert directory.scim("GET", "/Users").status_code == 200
    assert directory.scim("POST", "/Users", {"userName": "logged@x.test"}).status_code == 201
    assert directory.scim("GET", "/Users", token=wrong).status_code == 401
    client = worker.api("POST", f"/v1/directories/{directory.id}/tokens", {"type": "oauth_client"})
    assert client.status_code == 201, client.text
    cid, secret = client.json()["client_id"], client.json()["client_secret"]
    secrets_sent.append(secret)
    tok = oauth_token(worker, directory.id, cid, secret)
    assert tok.status_code == 200, tok.text
    access = tok.json()["access_token"]
    secrets_sent.append(access)
    assert directory.scim("GET", "/Users", token=access).status_code == 200
    assert oauth_token(worker, directory.id, cid, secret + "x").status_code == 401
    time.sleep(0.5)
    text = worker.log_since(offset)
    assert '"msg":"request"' in text.replace(" ", "")
    for s in secrets_sent:
        assert s not in text, f"a token ({s[:8]}…) is in the Worker log"
    assert (secret + "x") not in text


# -- whitelabel hosts and OAuth -------------------------------------------------

def oauth_token(worker, dir_id: str, client_id: str, secret: str, host: str | None = None, pad: int = 0, chunks=False):
    form = f"grant_type=client_credentials&client_id={quote(client_id)}&client_secret={quote(secret)}"
    if pad:
        form += "&pad=" + "x" * (pad - len(form) - len("&pad="))
    data = form.encode()
    headers = {"Host": host} if host else {}
    return send(worker, "POST", f"/scim/v2/{dir_id}/oauth/token", body=None if chunks else data,
                chunks=chunked(data, 4096)() if chunks else None, content_type="application/x-www-form-urlencoded", headers=headers)


@pytest.fixture(scope="module")
def whitelabel(worker, other):
    mine = worker.new_directory(name="Whitelabel directory")
    host = f"scim-{secrets.token_hex(4)}.customer.test"
    r = worker.api("POST", "/v1/domains", {"hostname": host, "organization_id": mine.org})
    assert r.status_code == 201, r.text
    return SimpleNamespace(d=mine, host=host)


def test_a_whitelabel_host_answers_404_for_any_directory_but_its_organisations(worker, whitelabel, other):
    host, mine = whitelabel.host, whitelabel.d

    def get(dir_id, auth, suffix="/Users?count=1", method="GET", body=None):
        return send(worker, method, f"/scim/v2/{dir_id}{suffix}", auth, body=body, headers={"Host": host})

    assert get(mine.id, f"Bearer {mine.token}").status_code == 200
    for auth in (f"Bearer {wrong_token()}", f"Bearer {other.token}", None):
        r = get(mine.id, auth)
        scim_error(r, 401)
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer")
    for dir_id, auth, label in [
        (other.id, f"Bearer {other.token}", "another organisation's directory with its own token"),
        (other.id, f"Bearer {wrong_token()}", "another organisation's directory with a wrong token"),
        (other.id, None, "another organisation's directory without a token"),
        (unknown_directory(), f"Bearer {mine.token}", "an unknown directory"),
        ("%00", f"Bearer {mine.token}", "a malformed directory id"),
    ]:
        r = get(dir_id, auth)
        assert r.status_code == 404, f"{label} on {host}: expected 404, got {r.status_code} {r.text[:300]}"
        scim_error(r, 404)
    before = other.scim("GET", "/Users?count=0").json()["totalResults"]
    r = get(other.id, f"Bearer {other.token}", "/Users", "POST", json.dumps({"userName": "via-whitelabel@x.test"}).encode())
    assert r.status_code == 404, r.text[:300]
    assert other.scim("GET", "/Users?count=0").json()["totalResults"] == before
    r = send(worker, "GET", "/v1/organizations", f"Bearer {worker.admin_key}", headers={"Host": host})
    assert r.status_code == 404, r.text[:300]


def test_oauth_token_is_scoped_by_host_and_an_unknown_directory_looks_like_wrong_credentials(worker, whitelabel, other):
    def client(d):
        r = worker.api("POST", f"/v1/directories/{d.id}/tokens", {"type": "oauth_client"})
        assert r.status_code == 201, r.text
        return r.json()["client_id"], r.json()["client_secret"]

    mine_id, mine_secret = client(whitelabel.d)
    other_id, other_secret = client(other)
    assert oauth_token(worker, whitelabel.d.id, mine_id, mine_secret, host=whitelabel.host).status_code == 200
    r = oauth_token(worker, other.id, other_id, other_secret, host=whitelabel.host)
    assert r.status_code == 404 and "access_token" not in r.text, f"another organisation's directory on {whitelabel.host}: {r.status_code} {r.text}"
    wrong = oauth_token(worker, other.id, other_id, other_secret + "x")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client", wrong.text
    for dir_id in (unknown_directory(), "%00", "nope"):
        r = oauth_token(worker, dir_id, other_id, other_secret)
        assert r.status_code == 401, f"oauth/token for directory {dir_id!r}: {r.status_code} {r.text}"
        assert r.json() == wrong.json(), f"{r.text} != {wrong.text}"


def test_oauth_token_bodies_are_capped_at_16_kib(worker, other):
    r = worker.api("POST", f"/v1/directories/{other.id}/tokens", {"type": "oauth_client"})
    cid, secret = r.json()["client_id"], r.json()["client_secret"]
    ok = oauth_token(worker, other.id, cid, secret, pad=OAUTH_MAX)
    assert ok.status_code == 200, f"a {OAUTH_MAX}-byte token request: {ok.status_code} {ok.text}"
    for chunks in (False, True):
        r = oauth_token(worker, other.id, cid, secret, pad=OAUTH_MAX + 1, chunks=chunks)
        assert r.status_code == 413, f"{OAUTH_MAX + 1} bytes{' chunked' if chunks else ''}: {r.status_code} {r.text[:300]}"
        assert isinstance(r.json().get("error"), str) and "access_token" not in r.text, r.text[:300]
    r = oauth_token(worker, other.id, cid, secret, pad=MAX_PAYLOAD + 10, chunks=True)
    assert r.status_code == 413, r.text[:300]


# -- cost headers and safe defaults ---------------------------------------------

def test_cost_headers_only_on_success(worker, directory):
    ok = directory.scim("POST", "/Users", {"userName": "cost@x.test"})
    assert ok.status_code == 201 and all(h in ok.headers for h in COST_HEADERS), ok.headers
    assert all(h in directory.scim("GET", "/Users").headers for h in COST_HEADERS)
    assert all(h in worker.api("GET", "/v1/organizations").headers for h in COST_HEADERS)
    refused = {
        "401": directory.scim("GET", "/Users", token=wrong_token()),
        "404": directory.scim("GET", f"/Users/user_{uuid.uuid4().hex}"),
        "400": directory.scim("GET", "/Users", params={"filter": "userName eq"}),
        "409": directory.scim("POST", "/Users", {"userName": "cost@x.test"}),
        "413": directory.scim("POST", "/Users", padded({"userName": "x@x.test"}, MAX_PAYLOAD + 1)),
        "415": directory.scim("POST", "/Users", b"{}", headers={"Content-Type": "text/plain"}),
        "412": directory.scim("PUT", f"/Users/{ok.json()['id']}", {"userName": "cost@x.test"}, headers={"If-Match": 'W/"999"'}),
        "v1 401": worker.api("GET", "/v1/organizations", headers={"Authorization": "Bearer nope"}),
        "v1 404": worker.api("GET", f"/v1/organizations/org_{uuid.uuid4().hex}"),
        "v1 400": worker.api("POST", "/v1/organizations", data=b"{", headers={"Content-Type": "application/json"}),
    }
    for name, r in refused.items():
        assert r.status_code >= 400, f"{name}: {r.status_code}"
        no_cost_headers(r)


def test_a_worker_with_the_default_settings_sends_no_cost_headers(safe_worker):
    d = safe_worker.new_directory()
    responses = [
        safe_worker.api("GET", "/v1/organizations"),
        d.scim("POST", "/Users", {"userName": "quiet@x.test"}),
        d.scim("GET", "/Users"),
        d.scim("GET", "/ServiceProviderConfig"),
    ]
    for r in responses:
        assert r.status_code < 300, r.text[:300]
        no_cost_headers(r)


def create_endpoint(worker, url: str):
    """POST /v1/webhook_endpoints for `url`, subscribed to dsync.deleted only
    and deleted at once if created (no test deletes a directory meanwhile)."""
    r = worker.api("POST", "/v1/webhook_endpoints", {"url": url, "events": ["dsync.deleted"]})
    if r.status_code == 201:
        worker.api("DELETE", f"/v1/webhook_endpoints/{r.json()['id']}")
    return r


def refused_url(r) -> bool:
    # The management API answers every invalid field 422 invalid_request (README).
    return r.status_code == 422 and r.json().get("error", {}).get("code") == "invalid_request"


def test_a_worker_with_the_default_settings_refuses_plain_http_webhooks(safe_worker):
    for url in ("http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://[::1]:9/hook"):
        r = create_endpoint(safe_worker, url)
        assert refused_url(r), f"{url} with the default settings: expected 422 invalid_request, got {r.status_code} {r.text}"
    r = create_endpoint(safe_worker, "https://127.0.0.1:9/hook")
    assert r.status_code == 201, r.text


# -- webhook URLs ---------------------------------------------------------------

# Every accepted URL points at a closed loopback port: nothing leaves the machine.
ACCEPTED_URLS = ["https://127.0.0.1:9/hook", "http://127.0.0.1:9/hook", "http://127.8.9.10:9/hook", "http://localhost:9/hook", "http://[::1]:9/hook"]
REFUSED_URLS = [
    "http://10.0.0.1/hook", "http://example.com/hook", "http://192.168.1.1/hook", "http://169.254.169.254/latest/meta-data",
    "http://0.0.0.0:9/hook", "http://[::]:9/hook", "http://127.0.0.1.example.com/hook", "http://localhost.example.com/hook",
    "http://127.0.0.1@example.com/hook", "http://example.com#@127.0.0.1/", "http://[::ffff:10.0.0.1]/hook",
    "ftp://127.0.0.1/hook", "javascript:alert(1)", "file:///etc/passwd", "data:text/plain,hi", "gopher://127.0.0.1:70/x",
    "https://", "http://", "", "127.0.0.1:9/hook", "//127.0.0.1:9/hook",
]


def test_webhook_urls_are_https_or_loopback_http(worker):
    before = len(worker.list_all("/v1/webhook_endpoints"))
    failures = []
    for url in ACCEPTED_URLS:
        r = create_endpoint(worker, url)
        if r.status_code != 201:
            failures.append(f"POST /v1/webhook_endpoints {{url: {url!r}}}: expected 201, got {r.status_code} {r.text[:200]}")
    for url in REFUSED_URLS:
        r = create_endpoint(worker, url)
        if not refused_url(r):
            failures.append(f"POST /v1/webhook_endpoints {{url: {url!r}}}: expected 422 invalid_request, got {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)
    assert len(worker.list_all("/v1/webhook_endpoints")) == before


def test_a_webhook_url_cannot_be_changed_to_a_refused_one(worker):
    r = worker.api("POST", "/v1/webhook_endpoints", {"url": "https://127.0.0.1:9/hook", "events": ["dsync.deleted"]})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    try:
        for url in ("http://10.0.0.1/hook", "http://example.com/hook", "file:///etc/passwd"):
            u = worker.api("PATCH", f"/v1/webhook_endpoints/{eid}", {"url": url})
            assert refused_url(u), f"PATCH url {url}: {u.status_code} {u.text}"
        assert worker.api("GET", f"/v1/webhook_endpoints/{eid}").json()["url"] == "https://127.0.0.1:9/hook"
    finally:
        worker.api("DELETE", f"/v1/webhook_endpoints/{eid}")


# -- body size --------------------------------------------------------------------

def test_the_payload_limit_is_advertised_and_holds_to_the_byte_chunked_or_not(worker, directory):
    spc = directory.scim("GET", "/ServiceProviderConfig").json()
    assert spc["bulk"]["maxPayloadSize"] == MAX_PAYLOAD
    auth = f"Bearer {directory.token}"
    events = EventLog(directory)
    for i, is_chunked in enumerate((False, True)):
        fits = padded({"userName": f"fits{i}@x.test"}, MAX_PAYLOAD)
        r = send(worker, "POST", f"/scim/v2/{directory.id}/Users", auth, body=None if is_chunked else fits, chunks=chunked(fits)() if is_chunked else None)
        assert r.status_code == 201, f"{MAX_PAYLOAD} bytes{' chunked' if is_chunked else ''}: {r.status_code} {r.text[:300]}"
        events.new()
        count = directory.scim("GET", "/Users?count=0").json()["totalResults"]
        for method, suffix in (("POST", "/Users"), ("PATCH", f"/Users/{r.json()['id']}"), ("POST", "/.search")):
            body = patch({"op": "replace", "path": "title", "value": "big"}) if method == "PATCH" else {"userName": f"over{i}@x.test"}
            over = padded(body, MAX_PAYLOAD + 1)
            r2 = send(worker, method, f"/scim/v2/{directory.id}{suffix}", auth, body=None if is_chunked else over, chunks=chunked(over)() if is_chunked else None)
            scim_error(r2, 413)
        assert directory.scim("GET", "/Users?count=0").json()["totalResults"] == count
        assert events.new() == []
    r = send(worker, "POST", f"/scim/v2/{directory.id}/Users", auth, chunks=chunked(b'{"userName":"' + b"z" * (8 * MAX_PAYLOAD))())
    assert r.status_code == 413, f"an endless chunked body: {r.status_code} {r.text[:300]}"
    if not r.incomplete:
        scim_error(r, 413)


def test_the_request_after_a_refused_chunked_body_is_answered(worker, directory):
    over = padded({"userName": "over@x.test"}, 2 * MAX_PAYLOAD)
    headers = {"Authorization": f"Bearer {directory.token}", "Content-Type": "application/scim+json"}
    failures = []
    for method, path, body, expected in [
        ("POST", f"/scim/v2/{directory.id}/Users", json.dumps({"userName": "next@x.test"}).encode(), 201),
        ("GET", "/health", None, 200),
    ]:
        r = raw_request(worker.url, "POST", f"/scim/v2/{directory.id}/Users", headers, chunks=chunked(over)())
        scim_error(r, 413)
        started = time.time()
        try:
            nxt = raw_request(worker.url, method, path, headers, body=body, timeout=5)
            got = f"{nxt.status_code} {nxt.text[:150]}"
        except OSError as e:
            nxt, got = None, f"no answer in {time.time() - started:.1f}s ({type(e).__name__})"
        if nxt is None or nxt.status_code != expected:
            failures.append(f"{method} {path} right after a chunked {len(over)}-byte POST /Users was refused with 413: expected {expected}, got {got}")
            absorb_after_refused_stream(worker)
    assert not failures, "\n".join(failures)


def test_the_management_api_refuses_oversized_bodies_chunked_or_not(worker):
    body = padded({"name": "Too big"}, MAX_PAYLOAD + 1)
    for is_chunked in (False, True):
        r = send(worker, "POST", "/v1/organizations", f"Bearer {worker.admin_key}", body=None if is_chunked else body,
                 chunks=chunked(body)() if is_chunked else None, content_type="application/json")
        assert r.status_code == 413, f"chunked={is_chunked}: {r.status_code} {r.text[:300]}"
        assert r.json()["error"]["code"] == "payload_too_large", r.text[:300]


# -- caps -----------------------------------------------------------------------------

def assert_too_many(r, what: str) -> None:
    assert r.status_code == 400, f"{what}: expected 400 tooMany, got {r.status_code} {r.text[:300]}"
    body = scim_error(r, 400)
    assert body.get("scimType") == "tooMany", f"{what}: {body}"


def test_a_patch_with_more_than_1000_operations_writes_nothing(big):
    d, uid = big.d, big.ids[10]
    before = d.scim("GET", f"/Users/{uid}").json()
    big.events.new()
    ops = [{"op": "replace", "path": "title", "value": f"t{i}"} for i in range(1001)]
    assert_too_many(d.scim("PATCH", f"/Users/{uid}", patch(*ops)), "PATCH /Users/{id} with 1001 operations")
    assert d.scim("GET", f"/Users/{uid}").json() == before
    assert big.events.new() == []


def test_more_than_1000_member_values_per_request_write_nothing(big):
    d, ids = big.d, big.ids
    g = d.scim("POST", "/Groups", {"displayName": "Small", "members": members(ids[:1])})
    assert g.status_code == 201, g.text[:300]
    gid = g.json()["id"]
    before = d.scim("GET", f"/Groups/{gid}").json()
    big.events.new()
    tries = {
        "POST /Groups with 1001 members": ("POST", "/Groups", {"displayName": "Too many", "members": members(ids)}),
        "PUT /Groups/{id} with 1001 members": ("PUT", f"/Groups/{gid}", {"displayName": "Small", "members": members(ids)}),
        "PATCH add of 1001 values": ("PATCH", f"/Groups/{gid}", patch({"op": "add", "path": "members", "value": members(ids)})),
        "PATCH replace with 1001 values": ("PATCH", f"/Groups/{gid}", patch({"op": "replace", "path": "members", "value": members(ids)})),
        "PATCH remove of 1001 values": ("PATCH", f"/Groups/{gid}", patch({"op": "remove", "path": "members", "value": members(ids)})),
        "PATCH of 3 adds summing 1001 values": ("PATCH", f"/Groups/{gid}", patch(*({"op": "add", "path": "members", "value": members(c)} for c in (ids[:400], ids[400:800], ids[800:])))),
        "PATCH of 1001 one-member adds": ("PATCH", f"/Groups/{gid}", patch(*({"op": "add", "path": "members", "value": members([u])} for u in ids))),
        "PATCH add without path, 1001 values": ("PATCH", f"/Groups/{gid}", patch({"op": "add", "value": {"members": members(ids)}})),
    }
    for what, (method, path, body) in tries.items():
        assert_too_many(d.scim(method, path, body), what)
    assert d.scim("GET", f"/Groups/{gid}").json() == before
    assert d.scim("GET", "/Groups", params={"filter": 'displayName eq "Too many"'}).json()["totalResults"] == 0
    assert big.events.new() == []


def user_added(events, gid) -> list[str]:
    return [e["data"]["user"]["id"] for e in events if e["event"] == "dsync.group.user_added" and e["data"]["group"]["id"] == gid]


def group_member_ids(d, gid) -> set[str]:
    r = d.scim("GET", f"/Groups/{gid}")
    assert r.status_code == 200, r.text[:300]
    return {m["value"] for m in r.json().get("members", [])}


def test_post_groups_with_exactly_1000_members_succeeds(big):
    d, ids = big.d, big.ids[:1000]
    big.events.new()
    r = d.scim("POST", "/Groups?excludedAttributes=members", {"displayName": "Thousand POST", "members": members(ids)})
    assert r.status_code == 201, r.text[:300]
    gid = r.json()["id"]
    assert group_member_ids(d, gid) == set(ids)
    added = user_added(big.events.new(), gid)
    assert len(added) == 1000 and set(added) == set(ids)


def test_a_patch_of_1000_one_member_adds_succeeds(big):
    d, ids = big.d, big.ids[1:1001]
    gid = d.scim("POST", "/Groups", {"displayName": "Thousand PATCH"}).json()["id"]
    big.events.new()
    r = d.scim("PATCH", f"/Groups/{gid}?excludedAttributes=members", patch(*({"op": "add", "path": "members", "value": members([u])} for u in ids)))
    assert r.status_code in (200, 204), r.text[:300]
    assert group_member_ids(d, gid) == set(ids)
    added = user_added(big.events.new(), gid)
    assert len(added) == 1000 and set(added) == set(ids)


def test_a_put_with_1000_members_succeeds(big):
    d, ids = big.d, big.ids[:1000]
    gid = d.scim("POST", "/Groups", {"displayName": "Thousand PUT"}).json()["id"]
    big.events.new()
    r = d.scim("PUT", f"/Groups/{gid}?excludedAttributes=members", {"displayName": "Thousand PUT", "members": members(ids)})
    assert r.status_code == 200, r.text[:300]
    assert group_member_ids(d, gid) == set(ids)
    added = user_added(big.events.new(), gid)
    assert len(added) == 1000 and set(added) == set(ids)


ATTRS = ["userName", "name.givenName", "name.familyName", "emails", "emails.value", "title", "active", "externalId",
         "displayName", "nickName", "groups", "meta.created"]


def test_attribute_lists_are_capped_at_100_names(big):
    d, uid = big.d, big.ids[0]
    hundred = ",".join(ATTRS[i % len(ATTRS)] for i in range(100))
    for param in ("attributes", "excludedAttributes"):
        for path in ("/Users", f"/Users/{uid}"):
            r = d.scim("GET", path, params={param: hundred, "count": 2})
            assert r.status_code == 200, f"GET {path} with 100 {param}: {r.status_code} {r.text[:300]}"
            assert_too_many(d.scim("GET", path, params={param: hundred + ",title", "count": 2}), f"GET {path} with 101 {param}")
        body = {"schemas": [SEARCH], param: [ATTRS[i % len(ATTRS)] for i in range(101)], "count": 2}
        assert_too_many(d.scim("POST", "/Users/.search", body), f".search with 101 {param}")


def filter_of(total: int) -> str:
    head = 'userName eq "big0@bench.test" or userName eq "'
    return head + "a" * (total - len(head) - 1) + '"'


def test_filters_are_capped_at_4096_bytes_and_32_levels(big):
    d = big.d
    f = filter_of(4096)
    assert len(f.encode()) == 4096
    r = d.scim("GET", "/Users", params={"filter": f})
    assert r.status_code == 200 and r.json()["totalResults"] == 1, f"a 4096-byte filter: {r.status_code} {r.text[:300]}"
    r = d.scim("POST", "/Users/.search", {"schemas": [SEARCH], "filter": f})
    assert r.status_code == 200, r.text[:300]
    for what, r in (("GET", d.scim("GET", "/Users", params={"filter": filter_of(4097)})),
                    (".search", d.scim("POST", "/Users/.search", {"schemas": [SEARCH], "filter": filter_of(4097)}))):
        assert r.status_code in (400, 413), f"a 4097-byte filter ({what}): {r.status_code} {r.text[:300]}"
        if r.status_code == 400:
            assert r.json().get("scimType") == "tooMany", f"a 4097-byte filter ({what}): {r.text[:300]}"
    term = 'userName eq "big0@bench.test"'
    r = d.scim("GET", "/Users", params={"filter": "(" * 31 + term + ")" * 31})
    assert r.status_code == 200 and r.json()["totalResults"] == 1, f"31 levels: {r.status_code} {r.text[:300]}"
    failures = []
    for what, f in [
        ("33 parentheses", "(" * 33 + term + ")" * 33),
        ("33 nots", "not(" * 33 + term + ")" * 33),
        ("1,900 parentheses", "(" * 1900 + term + ")" * 1900),
        ("700 nots", "not(" * 700 + term + ")" * 700),
        ("1,900 unclosed parentheses", "(" * 1900 + term),
        ("33 levels in a value path", "emails[" * 33 + 'value eq "x"' + "]" * 33),
    ]:
        assert len(f.encode()) <= 4096
        r = d.scim("GET", "/Users", params={"filter": f})
        if r.status_code != 400:
            failures.append(f"GET /Users?filter=<{what}>: expected 400, got {r.status_code} {r.text[:300]}")
        elif r.json().get("scimType") != "invalidFilter":
            # Too deep is a filter the parser refuses (README: nesting depth 32, invalidFilter).
            failures.append(f"GET /Users?filter=<{what}>: expected 400 invalidFilter, got {r.text[:300]}")
    assert not failures, "\n".join(failures)


# -- numbers, deep JSON, bad UTF-8 ---------------------------------------------------------

START_INDEXES = ["-1", "0", "1", "99999999999999999999999", "1e400", "abc", "", "1.5", "-0", "NaN", "Infinity", "0x10", " 2", "+3", "１"]
COUNTS = ["-5", "0", str(10 ** 30), "1.5", "1e400", "abc", "", "-0", "NaN", "99999999999999999999999", "501", "%00"]


def test_odd_numbers_clamp_or_are_refused_never_5xx(worker, directory):
    for i in range(3):
        directory.scim("POST", "/Users", {"userName": f"n{i}@x.test"})
    failures = []

    def check(label, r, list_answer=True):
        if r.status_code >= 500:
            failures.append(f"{label}: {r.status_code} {r.text[:200]}")
        elif r.status_code == 200 and list_answer:
            j = r.json()
            if not (1 <= j.get("startIndex", 1) and 0 <= j.get("itemsPerPage", 0) <= 500 and len(j.get("Resources", [])) <= 500):
                failures.append(f"{label}: not clamped {str(j)[:200]}")
        elif r.status_code != 200 and not (r.status_code == 400 and r.json().get("scimType") in ("invalidValue", "invalidSyntax")):
            failures.append(f"{label}: expected 200 (clamped) or 400 invalidValue, got {r.status_code} {r.text[:200]}")

    for v in START_INDEXES:
        check(f"GET /Users?startIndex={v}", directory.scim("GET", "/Users?startIndex=" + quote(v, safe="%")))
        check(f".search startIndex={v}", directory.scim("POST", "/.search", b'{"startIndex": %s}' % v.encode()
                                                         if v.lstrip("-").isdigit() else json.dumps({"startIndex": v})))
    for v in COUNTS:
        check(f"GET /Users?count={v}", directory.scim("GET", "/Users?count=" + quote(v, safe="%")))
        check(f"GET /Groups?count={v}", directory.scim("GET", "/Groups?count=" + quote(v, safe="%")))
    for v in ("-5", str(10 ** 30), "1.5", "1e400", "-1e400"):
        check(f".search count={v} (a JSON number)", directory.scim("POST", "/Users/.search", b'{"count": %s}' % v.encode()))
    for path in ("/v1/organizations", "/v1/directories", f"/v1/directory_users?directory_id={directory.id}",
                 f"/v1/directory_groups?directory_id={directory.id}", f"/v1/events?directory_id={directory.id}",
                 "/v1/webhook_endpoints", "/v1/domains", f"/v1/directories/{directory.id}/tokens"):
        for v in ("0", "-1", str(10 ** 20), "1.5", "abc", "", "1e400"):
            r = worker.api("GET", path + ("&" if "?" in path else "?") + "limit=" + v)
            if r.status_code == 200:
                if len(r.json()["data"]) > 100:
                    failures.append(f"GET {path} limit={v}: {len(r.json()['data'])} items")
            elif r.status_code != 422 or r.json()["error"]["code"] != "invalid_request":
                failures.append(f"GET {path} limit={v}: expected 200 or 422 invalid_request, got {r.status_code} {r.text[:200]}")
        for cursor in ("%00", "x" * 5000, "'--", "%FF"):
            r = worker.api("GET", path + ("&" if "?" in path else "?") + "after=" + cursor)
            if r.status_code >= 500:
                failures.append(f"GET {path} after={cursor[:20]}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)


def test_deep_json_and_invalid_utf8_are_400(worker, directory):
    uid = directory.scim("POST", "/Users", {"userName": "deep@x.test"}).json()["id"]
    gid = directory.scim("POST", "/Groups", {"displayName": "Deep"}).json()["id"]
    bodies = {
        "10,000 nested arrays": b"[" * 10_000 + b"]" * 10_000,
        "10,000 nested objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "10,000 nested arrays in a field": b'{"userName":"d@x.test","name":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        "10,000 unclosed arrays": b"[" * 10_000,
        "invalid UTF-8": b'{"userName":"\xff\xfe\xc0\xaf@x.test"}',
        "overlong UTF-8": b'{"displayName":"\xc0\xae\xc0\xae"}',
        "UTF-16": '{"userName":"u16@x.test"}'.encode("utf-16"),
    }
    targets = [("POST", "/Users"), ("PUT", f"/Users/{uid}"), ("PATCH", f"/Users/{uid}"), ("POST", "/Groups"),
               ("PATCH", f"/Groups/{gid}"), ("POST", "/.search")]
    events = EventLog(directory)
    failures = []
    for name, body in bodies.items():
        for method, suffix in targets:
            r = directory.scim(method, suffix, body)
            if r.status_code != 400 or r.json().get("status") != "400":
                failures.append(f"{method} {suffix} with {name}: expected 400, got {r.status_code} {r.text[:200]}")
            elif "nested" in name and r.json().get("scimType") != "invalidSyntax":
                failures.append(f"{method} {suffix} with {name}: expected invalidSyntax, got {r.text[:200]}")
        r = worker.api("POST", "/v1/organizations", data=body, headers={"Content-Type": "application/json"})
        if r.status_code != 400:
            failures.append(f"POST /v1/organizations with {name}: expected 400, got {r.status_code} {r.text[:200]}")
    for q in ("filter=userName%20eq%20%22%FF%22", "filter=%FF%FE", "attributes=%C0%AF", "sortBy=%FF"):
        r = directory.scim("GET", "/Users?" + q)
        if r.status_code >= 500:
            failures.append(f"GET /Users?{q}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)
    assert events.new() == []


# -- mutation run --------------------------------------------------------------------------

MUTATION_REQUESTS = int(os.environ.get("ROLLCALL_MUTATIONS", "300"))
MUTATION_SECONDS = 90
ODD_STRINGS = ["", " ", "\u0000", "\ud800", "\u202e\u200b", "😀" * 50, "x" * 100_000, "' OR 1=1 --", "%00", "../..", "null", "\ud7ff\ue000", "Ω≈ç√", "<script>"]


def mutate_value(rng: random.Random, v):
    choice = rng.randrange(9)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([0, -1, 1.5, 10 ** 30, True, False])
    if choice == 2:
        return [v, v]
    if choice == 3:
        return {"value": v}
    if choice == 4:
        return rng.choice(ODD_STRINGS)
    if choice == 5 and isinstance(v, str):
        return v + rng.choice(ODD_STRINGS)
    if choice == 6:
        return "y" * rng.choice([1000, 70_000])
    if choice == 7 and isinstance(v, list):
        return v * rng.choice([0, 3, 200])
    if isinstance(v, dict) and v:
        return mutate_json(rng, v)
    return str(v)


def mutate_json(rng: random.Random, obj):
    """A structural mutation somewhere in a JSON value."""
    if isinstance(obj, dict) and obj:
        obj = dict(obj)
        k = rng.choice(list(obj))
        what = rng.randrange(5)
        if what == 0:
            del obj[k]
        elif what == 1:
            obj[k + rng.choice(["", "X", ".value", "[0]"])] = mutate_value(rng, obj[k])
        elif what == 2 and isinstance(obj[k], (dict, list)):
            obj[k] = mutate_json(rng, obj[k])
        else:
            obj[k] = mutate_value(rng, obj[k])
        return obj
    if isinstance(obj, list) and obj:
        obj = list(obj)
        i = rng.randrange(len(obj))
        obj[i] = mutate_json(rng, obj[i]) if isinstance(obj[i], (dict, list)) else mutate_value(rng, obj[i])
        return obj
    return mutate_value(rng, obj)


def encode(rng: random.Random, body) -> bytes:
    """JSON, sometimes with a duplicated key, cut short or as random bytes."""
    text = json.dumps(body, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    roll = rng.random()
    if roll < 0.06 and isinstance(body, dict) and body:
        k = next(iter(body))
        return text[:-1] + b', "%s": %s}' % (k.encode(), json.dumps(rng.choice(ODD_STRINGS[:4])).encode())
    if roll < 0.10:
        return text[: rng.randrange(len(text) + 1)]
    if roll < 0.13:
        return bytes(rng.randrange(256) for _ in range(rng.choice([1, 17, 4000])))
    return text


def mutate_path(rng: random.Random, path: str) -> str:
    return rng.choice([
        path + "/%00", path + "/..", path + "/../..", path.replace("/v2/", "/v2/%2e%2e/"), path + "/" + "s" * 9000,
        path + "%2F", path + "//", path.upper(), path + "/%FF%FE", path + "?" + "&".join(["a=b"] * 500), path + "/.search",
        path + ";x=1", path + "#frag", path + "/" + "%F0%9F%92%A9",
    ])


def base_requests(rng: random.Random, d, users: list[str], groups: list[str]):
    """Valid SCIM and management requests: (method, path, body, is_scim)."""
    s = f"/scim/v2/{d.id}"
    u, g = rng.choice(users), rng.choice(groups)
    n = "%06x" % rng.getrandbits(24)
    return [
        ("POST", s + "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"m{n}@x.test", "externalId": n,
                                "name": {"givenName": "M", "familyName": n}, "emails": [{"value": f"m{n}@x.test", "type": "work", "primary": True}],
                                "active": True, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "QA", "manager": {"value": u}}}, True),
        ("PUT", s + f"/Users/{u}", {"userName": f"put{n}@x.test", "name": {"givenName": "P"}, "active": False, "emails": [{"value": f"p{n}@x.test"}]}, True),
        ("PATCH", s + f"/Users/{u}", patch({"op": "replace", "path": "active", "value": False}, {"op": "add", "path": "title", "value": "T"},
                                           {"op": "replace", "path": 'emails[type eq "work"].value', "value": f"w{n}@x.test"}), True),
        ("PATCH", s + f"/Users/{u}", patch({"op": "replace", "value": {"displayName": "D", "name.givenName": "G", "active": True}}), True),
        ("POST", s + "/Groups", {"displayName": f"G{n}", "members": members(users[:3])}, True),
        ("PUT", s + f"/Groups/{g}", {"displayName": f"GP{n}", "members": members(users[1:4])}, True),
        ("PATCH", s + f"/Groups/{g}", patch({"op": "add", "path": "members", "value": members(users[:2])},
                                            {"op": "remove", "path": f'members[value eq "{users[2]}"]'}), True),
        ("PATCH", s + f"/Groups/{g}", patch({"op": "replace", "path": "displayName", "value": f"R{n}"}), True),
        ("GET", s + "/Users?filter=" + quote(f'userName eq "{n}" or (emails[type eq "work" and value co "x"] and not (active eq false))')
         + "&sortBy=name.familyName&count=3&startIndex=2", None, True),
        ("GET", s + "/Groups?filter=" + quote(f'members[value eq "{u}"]') + "&excludedAttributes=members", None, True),
        ("POST", s + "/Users/.search", {"schemas": [SEARCH], "filter": 'userName sw "m"', "attributes": ["userName", "emails"], "count": 5}, True),
        ("POST", s + "/.search", {"schemas": [SEARCH], "filter": 'meta.lastModified gt "2020-01-01T00:00:00Z"', "sortBy": "meta.created",
                                  "sortOrder": "descending"}, True),
        ("DELETE", s + f"/Users/{u}", None, True),
        ("POST", "/v1/organizations", {"name": f"Mut {n}", "domains": [f"{n}.test"]}, False),
        ("POST", "/v1/directories", {"organization_id": d.org, "name": f"Dir {n}", "provider": "okta"}, False),
        ("POST", "/v1/webhook_endpoints", {"url": "https://127.0.0.1:9/hook", "events": ["dsync.deleted"]}, False),
        ("GET", f"/v1/directory_users?directory_id={d.id}&limit=5", None, False),
        ("GET", f"/v1/directory_groups?directory_id={d.id}&limit=5&after={g}", None, False),
        ("GET", f"/v1/events?directory_id={d.id}&events=dsync.user.created,dsync.group.user_added&limit=3", None, False),
        ("GET", "/v1/organizations?limit=2", None, False),
    ]


def mutate(rng: random.Random, base, scim_token: str, admin_key: str):
    """One to three mutations of a valid request: its body, method, path,
    Content-Type, query or headers. The credential stays right."""
    method, path, body, is_scim = base
    headers = {"Authorization": f"Bearer {scim_token if is_scim else admin_key}",
               "Content-Type": "application/scim+json" if is_scim else "application/json"}
    raw = json.dumps(body).encode() if body is not None else None
    for _ in range(rng.choice([1, 1, 2, 3])):
        kind = rng.randrange(10)
        if kind <= 3 and body is not None:
            body = mutate_json(rng, body)
            raw = encode(rng, body)
        elif kind == 4:
            method = rng.choice(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND"])
        elif kind == 5:
            path = mutate_path(rng, path)
        elif kind == 6:
            headers["Content-Type"] = rng.choice(["text/plain", "multipart/form-data; boundary=x", "application/json; charset=utf-16",
                                                  "application/x-www-form-urlencoded", "", "application/scim+json;;;", "\u00ff"])
        elif kind == 7:
            raw = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 64, 5000])))
        elif kind == 8 and "?" in path:
            param = rng.choice(["filter", "count", "startIndex", "sortBy", "sortOrder", "attributes", "excludedAttributes",
                                "limit", "after", "before", "events", "directory_id"])
            path += "&" + param + "=" + quote(str(mutate_value(rng, 'userName eq "x"')), safe="", errors="surrogatepass")[:6000]
        else:
            headers[rng.choice(["If-Match", "If-None-Match", "X-HTTP-Method-Override", "Accept", "Content-Encoding"])] = \
                rng.choice(['W/"1"', "*", "gzip", "DELETE", "x" * 4000])
    return method, path, headers, raw


def created_endpoint(r) -> bool:
    """Whether an answer is a webhook endpoint just made (a mutated path such as
    `/v1/webhook_endpoints/../..` reaches other routes, e.g. `/` answers 200)."""
    try:
        return r.status_code == 201 and r.json().get("object") == "webhook_endpoint"
    except ValueError:
        return False


class MutationRun:
    """The state a refused request must leave as it was: the resource it
    names, the directory's user and group counts, its event log, and the
    management lists the base requests write to (past a sentinel each)."""

    def __init__(self, worker, d):
        self.worker, self.d = worker, d
        hook = worker.api("POST", "/v1/webhook_endpoints", {"url": "https://127.0.0.1:9/hook", "events": ["dsync.deleted"]}).json()["id"]
        org = worker.api("POST", "/v1/organizations", {"name": "Sentinel"}).json()["id"]
        directory = worker.api("POST", "/v1/directories", {"organization_id": org, "name": "Sentinel", "provider": "generic"}).json()["id"]
        self.sentinels = {"organizations": org, "directories": directory, "webhook_endpoints": hook}
        self.last_event = d.events()[-1]["id"]

    def new_events(self) -> list[str]:
        return [e["id"] for e in self.d.events(after=self.last_event)]

    def seen(self) -> None:
        evs = self.new_events()
        if evs:
            self.last_event = evs[-1]

    def snapshot(self, method: str, path: str, is_scim: bool) -> dict:
        snap = {"events": self.new_events()}
        if is_scim:
            for kind in ("Users", "Groups"):
                snap[kind] = self.d.scim("GET", f"/{kind}?count=0").json()["totalResults"]
            parts = path.split("?")[0].split("/")
            if len(parts) >= 6 and parts[4] in ("Users", "Groups"):
                r = self.d.scim("GET", f"/{parts[4]}/{parts[5]}")
                snap["target"] = (r.status_code, r.text)
        else:
            for kind, sentinel in self.sentinels.items():
                snap[kind] = [x["id"] for x in self.worker.list_all(f"/v1/{kind}", after=sentinel)]
        return snap

    def close(self) -> None:
        self.worker.api("DELETE", f"/v1/webhook_endpoints/{self.sentinels['webhook_endpoints']}")


def test_a_seeded_run_of_mutated_requests_never_fails_and_refusals_write_nothing(worker, directory):
    seed = int(os.environ.get("ROLLCALL_SEED", random.randrange(1 << 32)))
    print(f"mutation run seed {seed} (rerun with ROLLCALL_SEED={seed})")  # shown with any failure
    rng = random.Random(seed)
    d = directory
    users = [d.scim("POST", "/Users", {"userName": f"seed{i}@x.test"}).json()["id"] for i in range(6)]
    groups = [d.scim("POST", "/Groups", {"displayName": f"Seed {i}", "members": members(users[:2])}).json()["id"] for i in range(2)]
    run = MutationRun(worker, d)
    failures, sent, started = [], 0, time.time()
    try:
        while sent < MUTATION_REQUESTS and time.time() - started < MUTATION_SECONDS and len(failures) < 10:
            base = rng.choice(base_requests(rng, d, users, groups))
            method, path, headers, raw = mutate(rng, base, d.token, worker.admin_key)
            is_scim, writes = base[3], method.upper() not in ("GET", "HEAD", "OPTIONS")
            before = run.snapshot(method, path, is_scim) if writes else None
            label = f"#{sent} {method} {path[:150]} Content-Type={headers.get('Content-Type')!r} body={(raw or b'')[:150]!r}"
            try:
                r = raw_request(worker.url, method, path, headers, body=raw)
            except OSError as e:  # a dropped connection is a crash too
                failures.append(f"{label}: {type(e).__name__} {e}")
                break
            sent += 1
            if r.status_code >= 500:
                failures.append(f"{label}: {r.status_code} {r.text[:200]}")
            elif writes and 400 <= r.status_code < 500:
                after = run.snapshot(method, path, is_scim)
                if after != before:
                    changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
                    failures.append(f"{label}: refused with {r.status_code} {r.text[:120]} but changed {str(changed)[:400]}")
            elif writes and r.status_code < 300 and not is_scim and created_endpoint(r):
                worker.api("DELETE", f"/v1/webhook_endpoints/{r.json()['id']}")
            if writes:
                run.seen()
    finally:
        run.close()
    assert not failures, f"seed {seed} (rerun with ROLLCALL_SEED={seed}), {sent} requests:\n" + "\n".join(failures)
    assert sent >= min(MUTATION_REQUESTS, 100), f"seed {seed}: only {sent} requests in {MUTATION_SECONDS}s"
