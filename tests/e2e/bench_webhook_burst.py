"""Benchmark: a burst of 1,000 SCIM changes delivered as webhooks to a flaky receiver.

Run from tests/e2e:  ../../.venv/bin/python bench_webhook_burst.py [--changes 1000] [--fail 0.3] [--seed 7]

Starts its own Worker under `wrangler dev` (compressed retry schedule), registers
one receiver on 127.0.0.1 that answers 500 to a random (seeded) 30% of requests
and verifies every signature with the Standard Webhooks library, makes the
changes over SCIM from 8 threads (user creates, then updates of those users),
waits (at most --max-wait seconds) until every event of the log was answered
2xx, and prints what happened. Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from harness import Receiver, Worker

# Ten attempts like the production schedule, compressed to seconds: with a
# 30% failure rate an event exhausts them with probability 0.3^10 (6e-6).
SCHEDULE = "0,1,2,2,2,2,2,2,2,2"


def flaky_receiver(fail_rate: float, seed: int) -> Receiver:
    """Answers 500 to a random (seeded) share of requests, 200 otherwise."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def plan(q):
        with lock:
            return 500 if rng.random() < fail_rate else 200

    return Receiver(plan=plan)


def snapshot(receiver: Receiver) -> list[tuple[str, int, float, bool]]:
    """(webhook-id, status, time answered, verified) of every answered request."""
    return [(q["id"], q["status"], q["responded"], q["verified"]) for q in receiver.snapshot() if q["status"] is not None]


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def all_deliveries(worker: Worker, endpoint_id: str) -> list[dict]:
    return worker.list_all(f"/v1/webhook_endpoints/{endpoint_id}/deliveries")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument("--fail", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--max-wait", type=float, default=900, help="seconds to wait for delivery after the burst")
    args = ap.parse_args()

    creates = (args.changes * 7 + 9) // 10
    updates = args.changes - creates
    print(f"starting wrangler dev (retry schedule {SCHEDULE}) ...", flush=True)
    worker = Worker(WEBHOOK_RETRY_SCHEDULE=SCHEDULE, WEBHOOK_TIMEOUT_MS="5000", OUTBOX_GRACE_SECONDS="60").start()
    receiver = flaky_receiver(args.fail, args.seed)
    try:
        r = worker.api("POST", "/v1/webhook_endpoints", {"url": receiver.url})
        assert r.status_code == 201, r.text
        receiver.secret, endpoint_id = r.json()["secret"], r.json()["id"]
        directory = worker.new_directory(name="Burst")

        errors: list[str] = []
        latencies: list[float] = []
        lat_lock = threading.Lock()

        def call(method, path, body):
            t = time.time()
            resp = directory.scim(method, path, body)
            with lat_lock:
                latencies.append(time.time() - t)
            if resp.status_code not in (200, 201):
                errors.append(f"{method} {path}: {resp.status_code} {resp.text[:200]}")
                return None
            return resp.json()

        def create(i):
            return call("POST", "/Users", {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"burst{i:05}@example.com", "externalId": f"ext-{i}",
                "name": {"givenName": f"User{i}", "familyName": "Burst"},
                "emails": [{"value": f"burst{i:05}@example.com", "type": "work", "primary": True}],
                "active": True,
            })

        def update(u, i):
            return call("PATCH", f"/Users/{u['id']}", {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "name.givenName", "value": f"Renamed{i}"}],
            })

        print(f"burst: {creates} user creates + {updates} user updates over SCIM from {args.threads} threads ...", flush=True)
        t_first = time.time()
        with ThreadPoolExecutor(args.threads) as pool:
            users = [u for u in pool.map(create, range(creates)) if u]
            list(pool.map(update, users[:updates], range(updates)))
        t_burst = time.time() - t_first
        scim_requests = creates + updates

        events = directory.events()
        want = {e["id"] for e in events}
        print(f"burst done in {t_burst:.1f}s; {len(events)} events in the log; waiting for delivery (max {args.max_wait:.0f}s) ...", flush=True)

        deadline = time.time() + args.max_wait
        redelivered: set[str] = set()
        last_report = 0.0
        while time.time() < deadline:
            reqs = snapshot(receiver)
            delivered = {wid for wid, st, _, _ in reqs if 200 <= st < 300}
            if want <= delivered:
                break
            if time.time() - last_report > 10:
                last_report = time.time()
                print(f"  t+{time.time() - t_first:5.0f}s delivered {len(want & delivered)}/{len(want)}, attempts {len(reqs)}", flush=True)
                # Anything that exhausted its retries is replayed through the API (and counted).
                failed = {d["event_id"] for d in all_deliveries(worker, endpoint_id) if d["status"] == "failed"} - delivered - redelivered
                for eid in failed:
                    if worker.api("POST", f"/v1/events/{eid}/redeliver").status_code == 202:
                        redelivered.add(eid)
            time.sleep(0.5)

        reqs = snapshot(receiver)
        ok = [(wid, t) for wid, st, t, _ in reqs if 200 <= st < 300]
        first_ok: dict[str, float] = {}
        for wid, t in ok:
            first_ok.setdefault(wid, t)
        delivered = set(first_ok) & want
        last_delivery = max((t for wid, t in ok if wid in want), default=float("nan"))
        duplicates = len(ok) - len(first_ok)
        created_at = {e["id"]: ts(e["created_at"]) for e in events}
        delivery_latency = [first_ok[e] - created_at[e] for e in delivered]
        per_event = {}
        for wid, _, _, _ in reqs:
            per_event[wid] = per_event.get(wid, 0) + 1
        time.sleep(2)  # let the consumer's last writes land
        logged = all_deliveries(worker, endpoint_id)
        seqs = [e["sequence"] for e in events]

        print()
        print("=== webhook burst benchmark ===")
        print(f"SCIM changes sent            : {scim_requests} ({creates} creates, {updates} updates), errors {len(errors)}")
        print(f"SCIM burst duration          : {t_burst:.2f} s  ->  {scim_requests / t_burst:.1f} requests/s "
              f"(latency p50 {pct(latencies, 50) * 1000:.0f} ms, p95 {pct(latencies, 95) * 1000:.0f} ms)")
        print(f"events generated (event log) : {len(events)}  (sequence 1..{max(seqs)} gapless: {seqs == list(range(1, len(seqs) + 1))})")
        print(f"distinct events delivered    : {len(delivered)} / {len(events)}")
        print(f"total attempts (receiver)    : {len(reqs)}  (failed by the receiver: {sum(1 for _, st, _, _ in reqs if st >= 300)}, "
              f"max attempts for one event: {max(per_event.values(), default=0)})")
        print(f"attempts in deliveries log   : {len(logged)}")
        print(f"signatures verified          : {sum(1 for r in reqs if r[3])} / {len(reqs)}")
        print(f"duplicates (extra 2xx)       : {duplicates}")
        print(f"exhausted then redelivered   : {len(redelivered)}")
        print(f"first change -> last delivery: {last_delivery - t_first:.1f} s")
        print(f"delivery latency (created -> first 2xx): p50 {pct(delivery_latency, 50):.2f} s, "
              f"p95 {pct(delivery_latency, 95):.2f} s, max {max(delivery_latency, default=float('nan')):.2f} s")
        if errors:
            print("first SCIM errors:", *errors[:5], sep="\n  ")
        if delivered != want:
            print(f"NOT DELIVERED within {args.max_wait:.0f}s: {len(want - delivered)} events, e.g. {sorted(want - delivered)[:5]}")
            return 1
        return 0
    finally:
        receiver.close()
        worker.stop()


if __name__ == "__main__":
    sys.exit(main())
