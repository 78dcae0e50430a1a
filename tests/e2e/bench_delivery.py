"""Benchmark: webhook delivery to 1, 3 and 10 healthy endpoints, with and
without one black-holed endpoint next to them (issue 9).

Run from tests/e2e:  ../../.venv/bin/python bench_delivery.py [--changes 1000] [--endpoints 1,3,10]

For each configuration it starts its own Worker under `wrangler dev`
(production delivery settings: 3 s first-byte timeout, circuit threshold 5,
first probe after 30 s), registers the receivers on 127.0.0.1 (the black
hole accepts and never answers), makes the changes over SCIM from 8 threads
(70% user creates, then updates of those users), waits until every event
reached every healthy receiver, and prints one row: events per second
delivered to all healthy endpoints, latency from an event's creation to its
first 2xx at a healthy endpoint (p50/p95/max), POSTs per delivery, and D1
calls and rows per delivery summed from the consumer's per-message
`{"msg":"delivery",...}` log lines (deferrals included). Not collected by
pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench_webhook_burst import pct, ts
from harness import Receiver, Worker


def delivery_lines(log: str) -> list[dict]:
    out = []
    for line in log.splitlines():
        at = line.find('{"msg":"delivery"')
        if at >= 0:
            try:
                out.append(json.loads(line[at:]))
            except ValueError:
                pass
    return out


def run(changes: int, healthy_n: int, black_hole: bool, max_wait: float) -> dict:
    worker = Worker(OUTBOX_GRACE_SECONDS="120").start()
    healthy = [Receiver() for _ in range(healthy_n)]
    hole = Receiver(lambda q: ("sleep", 600, 200)) if black_hole else None
    try:
        for r in healthy + ([hole] if hole else []):
            resp = worker.api("POST", "/v1/webhook_endpoints", {"url": r.url})
            assert resp.status_code == 201, resp.text
            r.secret, r.endpoint_id = resp.json()["secret"], resp.json()["id"]
        directory = worker.new_directory(name="Bench")
        creates = (changes * 7 + 9) // 10

        def create(i):
            resp = directory.scim("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"b{i:05}@example.com"})
            return resp.json() if resp.status_code == 201 else None

        def update(u, i):
            directory.scim("PATCH", f"/Users/{u['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                                           "Operations": [{"op": "replace", "path": "displayName", "value": f"U{i}"}]})

        t0 = time.time()
        with ThreadPoolExecutor(8) as pool:
            users = [u for u in pool.map(create, range(creates)) if u]
            list(pool.map(update, users[: changes - creates], range(changes - creates)))
        events = directory.events()
        want = {e["id"] for e in events}

        def first_ok(r: Receiver) -> dict[str, float]:
            out: dict[str, float] = {}
            for q in r.snapshot():
                if q["status"] and 200 <= q["status"] < 300:
                    out.setdefault(q["id"], q["arrived"])
            return out

        deadline = time.time() + max_wait
        while time.time() < deadline and not all(want <= set(first_ok(r)) for r in healthy):
            time.sleep(0.5)
        done = time.time()
        time.sleep(2)  # the consumer's last writes and log lines
        created = {e["id"]: ts(e["created_at"]) for e in events}
        latency, last = [], t0
        for r in healthy:
            for wid, at in first_ok(r).items():
                if wid in created:
                    latency.append(at - created[wid])
                    last = max(last, at)
        deliveries = len(latency)
        posts = sum(len(r.snapshot()) for r in healthy)
        lines = delivery_lines(worker.logs())
        outcomes = sum(len(l.get("outcomes", [])) for l in lines)
        cost = {k: sum(l.get(k, 0) for l in lines) for k in ("d1_calls", "rows_read", "rows_written")}
        return {
            "endpoints": f"{healthy_n}" + (" + black hole" if black_hole else ""),
            "events": len(events),
            "delivered": f"{deliveries}/{len(events) * healthy_n}",
            "complete": all(want <= set(first_ok(r)) for r in healthy),
            "events_per_s": len(events) / max(last - t0, 1e-9),
            "p50": pct(latency, 50), "p95": pct(latency, 95), "max": max(latency, default=float("nan")),
            "posts_per_delivery": posts / max(deliveries, 1),
            "hole_posts": len(hole.snapshot()) if hole else 0,
            "calls_per_delivery": cost["d1_calls"] / max(deliveries, 1),
            "read_per_delivery": cost["rows_read"] / max(deliveries, 1),
            "written_per_delivery": cost["rows_written"] / max(deliveries, 1),
            "rows_per_outcome": (cost["rows_read"] + cost["rows_written"]) / max(outcomes, 1),
            "outcomes": outcomes,
            "wall": done - t0,
        }
    finally:
        for r in healthy + ([hole] if hole else []):
            r.close()
        worker.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument("--endpoints", default="1,3,10")
    ap.add_argument("--max-wait", type=float, default=600)
    args = ap.parse_args()
    rows = []
    for n in [int(x) for x in args.endpoints.split(",")]:
        for hole in (False, True):
            print(f"running: {args.changes} changes, {n} healthy endpoint(s){' + 1 black hole' if hole else ''} ...", flush=True)
            rows.append(run(args.changes, n, hole, args.max_wait))
            print("  ", rows[-1], flush=True)
    print()
    print(f"| endpoints | events | delivered | events/s | p50 s | p95 s | max s | POSTs/delivery | black-hole POSTs | D1 calls/delivery | rows read/delivery | rows written/delivery | rows per attempt or deferral |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['endpoints']} | {r['events']} | {r['delivered']} | {r['events_per_s']:.1f} | {r['p50']:.2f} | {r['p95']:.2f} | {r['max']:.2f} | "
              f"{r['posts_per_delivery']:.2f} | {r['hole_posts']} | {r['calls_per_delivery']:.2f} | {r['read_per_delivery']:.1f} | "
              f"{r['written_per_delivery']:.1f} | {r['rows_per_outcome']:.1f} |")
    return 0 if all(r["complete"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
