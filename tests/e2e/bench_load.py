"""A SCIM load mix against the Worker under wrangler dev: N clients for T
seconds, each request drawn from an IdP-like mix (reads dominate, as in
Okta/Entra sync cycles). Prints requests/s, latency percentiles and the
mean D1 cost per request kind. Run from tests/e2e:

    ../../.venv/bin/python bench_load.py [clients] [seconds]
"""

import random
import statistics
import sys
import threading
import time
from collections import defaultdict

import requests

from harness import Worker

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def main():
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20
    w = Worker(WEBHOOK_RETRY_SCHEDULE="0").start()
    try:
        d = w.new_directory()
        users = [d.scim("POST", "/Users", {"userName": f"seed{i}@load.test", "emails": [{"value": f"seed{i}@load.test", "type": "work"}]}).json()["id"] for i in range(200)]
        groups = [d.scim("POST", "/Groups", {"displayName": f"G{i}"}).json()["id"] for i in range(10)]
        stop = time.time() + seconds
        lat = defaultdict(list)
        cost = defaultdict(lambda: [0, 0, 0])
        errors = defaultdict(int)
        lock = threading.Lock()
        counter = [0]

        def one(rng, session):
            with lock:
                counter[0] += 1
                n = counter[0]
            x = rng.random()
            if x < 0.35:
                kind, req = "GET user", ("GET", f"/Users/{rng.choice(users)}", None)
            elif x < 0.55:
                kind, req = "filter userName eq", ("GET", f"/Users?filter=userName+eq+%22seed{rng.randrange(200)}%40load.test%22", None)
            elif x < 0.62:
                kind, req = "list page", ("GET", "/Users?startIndex=1&count=50", None)
            elif x < 0.72:
                kind, req = "POST user", ("POST", "/Users", {"userName": f"new{n}-{rng.random()}@load.test", "name": {"givenName": "N"}})
            elif x < 0.84:
                kind, req = "PATCH user", ("PATCH", f"/Users/{rng.choice(users)}", {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": f"t{n}"}]})
            elif x < 0.92:
                kind, req = "PATCH group add", ("PATCH", f"/Groups/{rng.choice(groups)}?excludedAttributes=members", {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": rng.choice(users)}]}]})
            else:
                kind, req = "PUT user", ("PUT", f"/Users/{rng.choice(users)}", None)
            method, path, body = req
            if kind == "PUT user":
                uid = path.rsplit("/", 1)[1]
                idx = users.index(uid)
                body = {"userName": f"seed{idx}@load.test", "emails": [{"value": f"seed{idx}@load.test", "type": "work"}], "title": f"p{n}"}
            t = time.perf_counter()
            r = d.scim(method, path, body)
            dt = time.perf_counter() - t
            with lock:
                lat[kind].append(dt)
                c = cost[kind]
                c[0] += int(r.headers.get("x-rollcall-d1-calls", 0))
                c[1] += int(r.headers.get("x-rollcall-d1-rows-read", 0))
                c[2] += int(r.headers.get("x-rollcall-d1-rows-written", 0))
                if r.status_code >= 300:
                    errors[f"{kind} {r.status_code}"] += 1

        def loop(seed):
            rng = random.Random(seed)
            s = requests.Session()
            for _ in range(1_000_000):
                if time.time() >= stop:
                    return
                one(rng, s)

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - t0
        total = sum(len(v) for v in lat.values())
        allv = sorted(x for v in lat.values() for x in v)
        pct = lambda v, p: v[min(len(v) - 1, int(p * len(v)))] * 1000
        print(f"{clients} clients, {elapsed:.1f}s: {total} requests, {total / elapsed:.0f} req/s, "
              f"p50 {pct(allv, .5):.1f} ms, p95 {pct(allv, .95):.1f} ms, p99 {pct(allv, .99):.1f} ms, errors {dict(errors) or 0}")
        print(f"{'kind':22} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'D1 calls':>9} {'rows read':>10} {'rows written':>13}")
        for k, v in sorted(lat.items()):
            v.sort()
            c = cost[k]
            print(f"{k:22} {len(v):>6} {pct(v, .5):>8.1f} {pct(v, .95):>8.1f} {c[0] / len(v):>9.2f} {c[1] / len(v):>10.1f} {c[2] / len(v):>13.1f}")
    finally:
        w.stop()


if __name__ == "__main__":
    main()
