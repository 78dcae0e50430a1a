"""Issue 9, "Every endpoint gets its events on time": one endpoint's
slowness or failure costs only its own deliveries.

Real receivers on 127.0.0.1 next to each other under `wrangler dev`: a black
hole (accepts, never answers), one that always answers 500, one that answers
after 8 s (past the 3 s first-byte timeout), and a healthy one. The healthy
one gets every event within HEALTHY_BOUND seconds of its creation; the
others' circuits open (no POST but the probes while open, visible on GET),
a healed receiver's probe closes its circuit and the backlog arrives, with
nothing lost; an endpoint failing for the whole WEBHOOK_DISABLE_AFTER_SECONDS
window is disabled, and re-enabling it delivers what it missed.
"""

from __future__ import annotations

import collections
import threading
import time
from datetime import datetime

import pytest

from harness import Receiver, Worker, wait_until

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
# Every event reaches the healthy receiver within this many seconds of its
# creation, whatever the other endpoints do. Measured on a shared 2-core
# machine: worst 4.2 s, mean 1.6 s (the local Queue's 1 s batch wait, plus
# one batch held up to the 3 s first-byte timeout by a hung endpoint before
# its circuit opens; ~1 s once the circuits are open). 6 s leaves margin
# for a loaded machine; before issue 9 it was 211 s for 21 events.
HEALTHY_BOUND = 6.0
PROBE_SECONDS = 3
MAX_PROBE_SECONDS = 6


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def register(worker: Worker, receiver: Receiver) -> Receiver:
    r = worker.api("POST", "/v1/webhook_endpoints", {"url": receiver.url})
    assert r.status_code == 201, r.text
    receiver.secret, receiver.endpoint_id = r.json()["secret"], r.json()["id"]
    return receiver


def endpoint(worker: Worker, receiver: Receiver) -> dict:
    r = worker.api("GET", f"/v1/webhook_endpoints/{receiver.endpoint_id}")
    assert r.status_code == 200, r.text
    return r.json()


def new_user(directory, name: str) -> None:
    r = directory.scim("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": name})
    assert r.status_code == 201, r.text


def first_ok(receiver: Receiver, directory_id: str, after: float = 0.0) -> dict[str, float]:
    """webhook-id -> arrival of its first request answered 2xx (promptly)."""
    out: dict[str, float] = {}
    for q in receiver.of(directory_id):
        if q["status"] and 200 <= q["status"] < 300 and not q["slept"] and q["arrived"] >= after:
            out.setdefault(q["id"], q["arrived"])
    return out


@pytest.fixture(scope="module")
def worker():
    w = Worker(
        WEBHOOK_RETRY_SCHEDULE="0,2,4,8,8,8,8,8,8,8",
        WEBHOOK_CIRCUIT_PROBE_SECONDS=str(PROBE_SECONDS),
        WEBHOOK_CIRCUIT_MAX_PROBE_SECONDS=str(MAX_PROBE_SECONDS),
        OUTBOX_GRACE_SECONDS="30",
    ).start()
    yield w
    w.stop()


def test_hung_failing_and_slow_endpoints_do_not_delay_a_healthy_one_and_a_healed_one_gets_its_backlog(worker):
    healed = threading.Event()
    black_hole = register(worker, Receiver(lambda q: 200 if healed.is_set() else ("sleep", 300, 200)))
    failing = register(worker, Receiver(lambda q: 500))
    slow = register(worker, Receiver(lambda q: ("sleep", 8, 200)))
    healthy = register(worker, Receiver())
    receivers = [black_hole, failing, slow, healthy]
    try:
        directory = worker.new_directory()
        # 20 users, one every 0.5 s: 21 events (dsync.activated first).
        for i in range(20):
            new_user(directory, f"iso{i:02}@example.com")
            time.sleep(0.5)
        events = directory.events()
        assert len(events) == 21
        want = {e["id"] for e in events}
        wait_until(lambda: want <= set(first_ok(healthy, directory.id)), 30, "every event at the healthy receiver", worker)
        arrived = first_ok(healthy, directory.id)
        lateness = {e["id"]: arrived[e["id"]] - ts(e["created_at"]) for e in events}
        worst = max(lateness.values())
        print(f"healthy receiver: worst {worst:.2f} s, mean {sum(lateness.values()) / len(lateness):.2f} s after creation")
        assert worst <= HEALTHY_BOUND, sorted(lateness.values())

        # The three others have open circuits, visible on GET.
        for r in (black_hole, failing, slow):
            ep = wait_until(lambda: (lambda e: e if e["health"]["circuit"] == "open" else None)(endpoint(worker, r)), 20,
                            f"the circuit of {r.url} to open", worker)
            h = ep["health"]
            assert ep["state"] == "enabled" and h["consecutive_failures"] >= 5 and h["failing_since"], ep
            assert h["recent"]["failures"] >= 5 and h["recent"]["failure_rate"] > 0.5, h
            assert h["next_probe_at"], h
        h = endpoint(worker, healthy)["health"]
        assert h["circuit"] == "closed" and h["consecutive_failures"] == 0 and h["recent"]["failures"] == 0, h
        # Far fewer POSTs reach the broken endpoints than there are attempts
        # due: once open, only probes go out.
        assert len(black_hole.of(directory.id)) < len(events), len(black_hole.of(directory.id))

        # While open: only probes, one per probe time shown on GET.
        start = time.time()
        before = len(black_hole.snapshot())
        probe_times = set()
        while time.time() - start < 2 * MAX_PROBE_SECONDS + 2:
            h = endpoint(worker, black_hole)["health"]
            if h["circuit"] == "open":
                probe_times.add(h["next_probe_at"])
            time.sleep(0.3)
        during = black_hole.snapshot()[before:]
        assert len(during) <= len(probe_times) + 1, (len(during), sorted(probe_times))
        assert all(q["arrived"] >= min(ts(p) for p in probe_times) - 0.5 for q in during), "a POST before any probe was due"

        # Heal the black hole: its next probe succeeds, the circuit closes
        # and every event arrives, each once.
        healed_at = time.time()
        healed.set()
        wait_until(lambda: endpoint(worker, black_hole)["health"]["circuit"] == "closed", 2 * MAX_PROBE_SECONDS + 15,
                   "the black hole's circuit to close after a good probe", worker)
        wait_until(lambda: want <= set(first_ok(black_hole, directory.id, healed_at)), 60, "the backlog at the healed receiver", worker)
        time.sleep(2)
        prompt = collections.Counter(q["id"] for q in black_hole.of(directory.id) if q["status"] == 200 and not q["slept"])
        assert max(prompt.values()) == 1, f"duplicates after the circuit closed: {[(k[-6:], v) for k, v in prompt.items() if v > 1]}"
        assert all(q["verified"] for q in black_hole.of(directory.id) if q["arrived"] >= healed_at)
        h = endpoint(worker, black_hole)["health"]
        assert h["consecutive_failures"] == 0 and h["failing_since"] is None, h
    finally:
        for r in receivers:
            worker.api("DELETE", f"/v1/webhook_endpoints/{r.endpoint_id}")
            r.close()


def test_an_endpoint_failing_for_the_whole_window_is_disabled_and_reenabling_delivers_what_it_missed():
    w = Worker(
        WEBHOOK_RETRY_SCHEDULE="0,1,2,2,2,2,2,2,2,2",
        WEBHOOK_DISABLE_AFTER_SECONDS="20",
        WEBHOOK_CIRCUIT_THRESHOLD="3",
        WEBHOOK_CIRCUIT_PROBE_SECONDS="2",
        WEBHOOK_CIRCUIT_MAX_PROBE_SECONDS="3",
        OUTBOX_GRACE_SECONDS="30",
    ).start()
    healthy = threading.Event()
    hook = register(w, Receiver(lambda q: 200 if healthy.is_set() else 500))
    try:
        directory = w.new_directory()
        for i in range(3):
            new_user(directory, f"early{i}@example.com")
        t0 = time.time()
        ep = wait_until(lambda: (lambda e: e if e["state"] == "disabled" else None)(endpoint(w, hook)), 45, "the endpoint to be disabled", w, step=0.5)
        took = time.time() - t0
        assert 20 - 1 <= took <= 20 + 3 + 10, took
        assert ep["disabled_reason"] and "20 seconds" in ep["disabled_reason"], ep
        assert ep["health"]["failing_since"], ep
        n = len(hook.snapshot())

        # Missed while disabled: nothing goes out.
        for i in range(3):
            new_user(directory, f"missed{i}@example.com")
        time.sleep(3)
        assert len(hook.snapshot()) == n, "a disabled endpoint was sent events"

        healthy.set()
        r = w.api("PATCH", f"/v1/webhook_endpoints/{hook.endpoint_id}", {"state": "enabled"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "enabled" and r.json()["disabled_reason"] is None
        assert r.json()["health"]["circuit"] == "closed"
        w.trigger_cron()  # the sweeper schedules the catch-up
        events = directory.events()
        assert len(events) == 7
        want = {e["id"] for e in events}
        wait_until(lambda: want <= set(first_ok(hook, directory.id)), 30, "every event, missed ones included, after re-enabling", w)
        time.sleep(1.5)
        ok = collections.Counter(q["id"] for q in hook.of(directory.id) if q["status"] == 200)
        assert max(ok.values()) == 1, ok
        # New events flow normally too.
        new_user(directory, "after@example.com")
        later = {e["id"] for e in directory.events()} - want
        wait_until(lambda: later <= set(first_ok(hook, directory.id)), 15, "events after the re-enable", w)
    finally:
        hook.close()
        w.stop()
