"""Runs the real Worker under `wrangler dev` (workerd, local D1, local Queue)
and a real webhook receiver on 127.0.0.1, for the end-to-end tests."""

from __future__ import annotations

import collections
import http.client
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ROOT = Path(__file__).resolve().parents[2]
WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"
START_TIMEOUT = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toolchain_env() -> dict:
    env = dict(os.environ)
    cargo_bin = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo")) / "bin"
    env["PATH"] = f"{cargo_bin}:{ROOT}/node_modules/.bin:" + env.get("PATH", "")
    env["WASM_BINDGEN_BIN"] = str(cargo_bin / "wasm-bindgen")
    env["ESBUILD_BIN"] = str(ROOT / "node_modules/.bin/esbuild")
    env["WASM_OPT_BIN"] = str(ROOT / "node_modules/.bin/wasm-opt")
    env["WRANGLER_SEND_METRICS"] = "false"
    return env


_build_lock = threading.Lock()
_built = False


def build_once() -> None:
    """Builds the Worker if any source is newer than the wasm (once per process)."""
    global _built
    with _build_lock:
        if not _built:
            subprocess.run([str(ROOT / "scripts/build-worker.sh")], check=True, env=toolchain_env(), cwd=ROOT)
            _built = True


class Worker:
    """One `wrangler dev --local` process with its own state folder."""

    def __init__(self, log_level: str = "log", **vars: str):
        # "log" also keeps the Worker's console.log lines (its JSON request
        # and background-work lines) in the log; "info" keeps errors only.
        self.log_level = log_level
        self.admin_key = "test-admin-" + secrets.token_hex(16)
        self.vars = {
            "ADMIN_API_KEY": self.admin_key,
            "ENCRYPTION_KEY": "test-enc-" + secrets.token_hex(16),
            "EXPOSE_COST": "1",
            "ALLOW_HTTP_LOOPBACK_WEBHOOKS": "1",
            **vars,
        }
        self.dir = Path(tempfile.mkdtemp(prefix="rollcall-e2e-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir / "wrangler.log"

    def start(self) -> "Worker":
        build_once()
        env = toolchain_env()
        state = self.dir / "state"
        subprocess.run(
            [str(WRANGLER), "d1", "migrations", "apply", "rollcall", "--local", "--persist-to", str(state)],
            check=True, cwd=ROOT, env={**env, "CI": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        args = [
            str(WRANGLER), "dev", "--local", "--ip", "127.0.0.1", "--port", str(self.port),
            "--inspector-port", str(free_port()), "--persist-to", str(state), "--test-scheduled",
            # "log": the Worker's console.log lines (one JSON line per request
            # and per queue message) are shown only from this level on.
            "--show-interactive-dev-session=false", "--log-level", self.log_level,
            # No .dev.vars: every setting comes from here.
            "--env-file", str(self.dir / "none.env"),
        ]
        (self.dir / "none.env").write_text("")
        for k, v in self.vars.items():
            args += ["--var", f"{k}:{v}"]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"wrangler dev exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("wrangler dev did not start in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if getattr(self, "log", None):
            self.log.close()
        if os.environ.get("ROLLCALL_KEEP_STATE") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self) -> str:
        try:
            return self.log_path.read_text()
        except OSError:
            return ""

    def log_offset(self) -> int:
        """Where the log ends now: pass it to `log_since` / `request_logs`."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def request_logs(self, offset: int = 0) -> list[dict]:
        """The Worker's one-line JSON records of requests (`"msg":"request"`)
        written since `offset`, in order; other lines are skipped."""
        out = []
        for line in self.log_since(offset).splitlines():
            i = line.find('{"msg"')
            if i < 0:
                continue
            try:
                rec = json.loads(line[i:])
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("msg") == "request":
                out.append(rec)
        return out

    def logged(self, send, method: str | None = None, timeout: float = 5) -> tuple:
        """Runs `send()` (one request) and returns its answer with the
        Worker's log record of it: the first request record written after
        it began (of `method`, when given). Send nothing else meanwhile."""
        offset = self.log_offset()
        answer = send()
        deadline = time.time() + timeout
        while True:
            recs = [r for r in self.request_logs(offset) if method is None or r.get("method") == method]
            if recs or time.time() > deadline:
                return answer, (recs[0] if recs else None)
            time.sleep(0.05)

    # -- management API -------------------------------------------------
    def api(self, method: str, path: str, body=None, **kw) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.admin_key}", **kw.pop("headers", {})}
        return send(method, self.url + path, json=body, headers=headers, timeout=30, **kw)

    def list_all(self, path: str, max_pages: int = 1000, **params) -> list[dict]:
        """Every item of a cursor-paginated /v1 list, following `after`."""
        out, after = [], None
        for _ in range(max_pages):
            q = {"limit": 100, **params, **({"after": after} if after else {})}
            r = self.api("GET", path, params=q)
            assert r.status_code == 200, r.text
            j = r.json()
            out += j["data"]
            after = j["list_metadata"]["after"]
            if not after:
                return out
        raise AssertionError(f"more than {max_pages} pages of {path}")

    def new_directory(self, provider: str = "okta", name: str = "Test directory") -> "Directory":
        org = self.api("POST", "/v1/organizations", {"name": f"Org {secrets.token_hex(3)}"})
        assert org.status_code == 201, org.text
        d = self.api("POST", "/v1/directories", {"organization_id": org.json()["id"], "name": name, "provider": provider})
        assert d.status_code == 201, d.text
        j = d.json()
        return Directory(self, j["id"], j["organization_id"], j["scim"]["base_url"], j["scim"]["bearer_token"])

    def trigger_cron(self) -> None:
        requests.get(self.url + "/__scheduled?cron=*+*+*+*+*", timeout=30)


class Directory:
    """A directory and a SCIM client for it."""

    def __init__(self, worker: Worker, id: str, org: str, base: str, token: str):
        self.worker, self.id, self.org, self.base, self.token = worker, id, org, base, token

    def scim(self, method: str, path: str, body=None, token: str | None = None, **kw) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}", **kw.pop("headers", {})}
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers.setdefault("Content-Type", "application/scim+json")
        return send(method, self.base + path, data=data, headers=headers, timeout=30, **kw)

    def events(self, **params) -> list[dict]:
        """Every event of this directory, in order (after the event id `after`, if given)."""
        return self.worker.list_all("/v1/events", directory_id=self.id, **params)

    def seed_users(self, n: int, prefix: str, threads: int = 8) -> list[str]:
        """Creates n users over SCIM with `threads` clients; their ids in order."""
        def one(i):
            r = self.scim("POST", "/Users", {"userName": f"{prefix}{i}@bench.test", "externalId": f"ext-{prefix}{i}",
                                             "emails": [{"value": f"{prefix}{i}@bench.test", "type": "work", "primary": True}]})
            assert r.status_code == 201, r.text
            return r.json()["id"]
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, range(n)))


# What wrangler dev's own proxy answers when the local runtime dropped the
# connection to the Worker before the request reached it (it retries GET and
# HEAD itself). Never a Rollcall answer: Rollcall's 503s are JSON.
RESTARTED = "Your worker restarted mid-request"


def send(method: str, url: str, **kw) -> requests.Response:
    """One request; sent once more when wrangler dev's proxy says the
    request never reached the Worker (seen about once in several hundred
    tests, while the Queue consumer ran a dead-letter batch)."""
    r = requests.request(method, url, **kw)
    if r.status_code == 503 and r.text.startswith(RESTARTED):
        time.sleep(0.5)
        r = requests.request(method, url, **kw)
    return r


def cost(r: requests.Response) -> tuple[int, int, int]:
    """(D1 calls, rows read, rows written) from the x-rollcall-d1-* headers (0 when absent)."""
    h = r.headers
    return int(h.get("x-rollcall-d1-calls", 0)), int(h.get("x-rollcall-d1-rows-read", 0)), int(h.get("x-rollcall-d1-rows-written", 0))


class RawResponse:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status_code, self.headers, self.content = status, headers, body
        self.incomplete = False

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


def raw_request(base: str, method: str, path: str, headers: dict | None = None, body: bytes | None = None,
                chunks=None, timeout: float = 30) -> RawResponse:
    """One request sent as given: the path goes out unnormalised (`..`, `%00`),
    `chunks` (an iterable of bytes) goes out chunked without Content-Length,
    until the server answers. A server that answers before reading the whole
    body is still heard."""
    host, port = base.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=any(k.lower() == "host" for k in (headers or {})), skip_accept_encoding=True)
        hdrs = dict(headers or {})
        if chunks is not None:
            hdrs["Transfer-Encoding"] = "chunked"
        elif body is not None:
            hdrs.setdefault("Content-Length", str(len(body)))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        try:
            if chunks is not None:
                for c in chunks:
                    if c:
                        conn.send(b"%x\r\n%s\r\n" % (len(c), c))
                    if select.select([conn.sock], [], [], 0)[0]:
                        break  # answered early: stop sending, as curl does
                else:
                    conn.send(b"0\r\n\r\n")
            elif body:
                conn.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = conn.getresponse()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        try:
            return RawResponse(resp.status, headers, resp.read())
        except http.client.IncompleteRead as e:
            # A server that stops a large upload may reset the connection
            # while the client still sends, losing the end of its answer.
            r = RawResponse(resp.status, headers, e.partial)
            r.incomplete = True
            return r
    finally:
        conn.close()


class Receiver:
    """A webhook receiver on 127.0.0.1 that checks every signature with the
    Standard Webhooks reference library. `plan(q)` answers each request: a
    status, `(status, retry_after)` or `("sleep", seconds, status)`. `q` has
    `n` (request number), `attempt` (requests so far with this webhook-id,
    this one included), `id` (webhook-id), `event` (parsed body), `headers`
    (lower-cased), `body` (bytes), `arrived` (time.time()) and `verified`.
    Requests are recorded on arrival; `status` is set when the answer goes
    out. Every answer says `Connection: close`: http.server closes each
    connection, and workerd would otherwise reuse a dead socket and burn an
    attempt ("Network connection lost")."""

    def __init__(self, plan=None, secret: str | None = None):
        self.secret = secret
        self.endpoint_id: str | None = None
        self.plan = plan or (lambda q: 200)
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.count = 0
        self.per_id: collections.Counter = collections.Counter()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                wid = headers.get("webhook-id", "")
                try:
                    event = json.loads(body)
                except ValueError:
                    event = {}
                with receiver.lock:
                    receiver.count += 1
                    receiver.per_id[wid] += 1
                    q = {"n": receiver.count, "attempt": receiver.per_id[wid], "id": wid, "event": event,
                         "headers": headers, "body": body, "arrived": arrived}
                q["verified"] = verifies(receiver.secret, body, headers) if receiver.secret else None
                verdict = receiver.plan(q)
                status, retry_after, slept = verdict, None, 0.0
                if isinstance(verdict, tuple) and verdict[0] == "sleep":
                    slept, status = verdict[1], verdict[2]
                elif isinstance(verdict, tuple):
                    status, retry_after = verdict
                q.update(status=None, retry_after=retry_after, slept=slept, responded=None)
                with receiver.lock:
                    receiver.requests.append(q)
                if slept:
                    time.sleep(slept)
                q.update(status=status, responded=time.time())
                try:
                    self.send_response(status)
                    if retry_after is not None:
                        self.send_header("Retry-After", str(retry_after))
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 64
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.requests)

    def of(self, directory_id: str) -> list[dict]:
        """The requests carrying events of one directory, in arrival order."""
        return sorted((q for q in self.snapshot() if q["event"].get("directory_id") == directory_id), key=lambda q: q["arrived"])

    def delivered_ids(self, directory_id: str, timeout_ms: int | None = None) -> set[str]:
        """Event ids of a directory answered 2xx (in time, when the Worker's timeout is given)."""
        return {q["id"] for q in self.of(directory_id)
                if q["status"] and 200 <= q["status"] < 300 and (timeout_ms is None or q["slept"] * 1000 < timeout_ms)}

    def delivered(self) -> list[dict]:
        """Distinct events answered 2xx, by webhook-id."""
        seen = {}
        for q in self.snapshot():
            if q["status"] and 200 <= q["status"] < 300:
                seen.setdefault(q["id"], q["event"])
        return list(seen.values())

    def wait_for(self, pred, timeout: float = 60) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred(self):
                return True
            time.sleep(0.2)
        return pred(self)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verifies(secret: str, body: bytes, headers: dict) -> bool:
    """A Standard Webhooks signature check with the reference library."""
    try:
        Webhook(secret).verify(body, headers)
        return True
    except WebhookVerificationError:
        return False


def wait_until(pred, timeout: float, what: str, worker: Worker | None = None, step: float = 0.2, detail=None):
    """Polls `pred` (bounded); fails with `what` and the Worker's log tail."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= deadline:
            tail = worker.logs()[-3000:] if worker else ""
            more = detail() if detail else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{more}\n--- wrangler log tail ---\n{tail}")
        time.sleep(step)
