"""Issue "Events that are never lost": webhook delivery end to end.

The real Worker under `wrangler dev` (local D1 and Queue) delivers to real
receivers on 127.0.0.1. Every receiver here verifies every request with the
Standard Webhooks reference library, and decides its answer per request
(`plan(q)`, where `q["attempt"]` counts the requests of this webhook-id), so
a receiver can fail "the first k attempts of every event" whatever other
events arrive. (It is this file's own receiver rather than harness.Receiver
for that.)

Webhook endpoints are global: every receiver sees the events of every
directory, so each test only looks at the events of its own fresh directory.
"""

from __future__ import annotations

import collections
import email.utils
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from harness import Receiver, Worker, verifies, wait_until

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP_EVENTS = [
    "dsync.group.created",
    "dsync.group.updated",
    "dsync.group.deleted",
    "dsync.group.user_added",
    "dsync.group.user_removed",
]
# The session worker's compressed schedule (conftest.py): "0,1,2,2,2", so
# five attempts, 1 s then 2 s, 2 s, 2 s apart (no jitter at these sizes:
# ±20% of 1 or 2 whole seconds rounds to nothing).
SCHEDULE = [0, 1, 2, 2, 2]
TIMEOUT_MS = 2000


# -- helpers ---------------------------------------------------------------


class Hook(Receiver):
    """harness.Receiver, counting as delivered only answers sent within the
    Worker's webhook timeout."""

    def delivered_ids(self, directory_id: str, timeout_ms: int | None = TIMEOUT_MS) -> set[str]:
        return super().delivered_ids(directory_id, timeout_ms)


def register(worker: Worker, hook: Hook, events=None) -> Hook:
    body = {"url": hook.url}
    if events is not None:
        body["events"] = events
    r = worker.api("POST", "/v1/webhook_endpoints", body)
    assert r.status_code == 201, r.text
    hook.secret, hook.endpoint_id = r.json()["secret"], r.json()["id"]
    assert hook.secret.startswith("whsec_")
    return hook


@pytest.fixture
def hooks(worker):
    made: list[tuple[Worker, Hook]] = []

    def make(plan=None, events=None, on: Worker | None = None) -> Hook:
        w = on or worker
        h = register(w, Hook(plan), events)
        made.append((w, h))
        return h

    yield make
    for w, h in made:
        try:
            w.api("DELETE", f"/v1/webhook_endpoints/{h.endpoint_id}")
        except Exception:
            pass
        h.close()


def deliveries(worker: Worker, endpoint_id: str, event_id: str | None = None) -> list[dict]:
    """Every logged attempt to an endpoint."""
    return worker.list_all(f"/v1/webhook_endpoints/{endpoint_id}/deliveries", max_pages=200, **({"event_id": event_id} if event_id else {}))


def attempts_by_event(worker: Worker, endpoint_id: str, event_ids) -> dict[str, list[dict]]:
    rows = deliveries(worker, endpoint_id)
    out = {e: sorted((d for d in rows if d["event_id"] == e), key=lambda d: d["attempt"]) for e in event_ids}
    return out


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def new_user(directory, name: str, **extra) -> dict:
    r = directory.scim("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": name, "name": {"givenName": name.split("@")[0], "familyName": "Test"}, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def patch(directory, path: str, ops: list[dict]) -> dict:
    r = directory.scim("PATCH", path, {"schemas": [PATCH_SCHEMA], "Operations": ops})
    assert r.status_code in (200, 204), r.text
    return r.json() if r.content else {}


def new_group(directory, name: str, member_ids=()) -> dict:
    r = directory.scim("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": m} for m in member_ids]})
    assert r.status_code == 201, r.text
    return r.json()


def wait_all_delivered(hook: Hook, directory, worker: Worker, timeout: float, expected: int | None = None) -> list[dict]:
    """Waits until every event of the directory's log was answered 2xx by `hook`."""
    events = directory.events()
    if expected is not None:
        assert len(events) == expected, [e["event"] for e in events]
    want = {e["id"] for e in events}
    wait_until(lambda: want <= hook.delivered_ids(directory.id), timeout, f"{len(want)} events delivered", worker,
               detail=lambda: f"delivered {len(hook.delivered_ids(directory.id) & want)}; requests seen (t, id, attempt, status, slept): " + repr([(round(q["arrived"] % 1000, 2), q["id"][-6:], q["attempt"], q["status"], q["slept"]) for q in hook.of(directory.id)]))
    return events


# -- signatures, ids and bytes ----------------------------------------------


def test_every_request_is_signed_and_retries_keep_the_id_and_the_bytes(worker, directory, hooks):
    """Each event fails twice before it is accepted: every one of the three
    requests verifies with standardwebhooks, carries webhook-id = the event
    id, and the same body bytes; the timestamp is that of each attempt."""
    hook = hooks(lambda q: 500 if q["event"].get("directory_id") == directory.id and q["attempt"] <= 2 else 200)
    u = new_user(directory, "sig@example.com")
    patch(directory, f"/Users/{u['id']}", [{"op": "replace", "path": "displayName", "value": "Sig Nature"}])
    new_group(directory, "Signers", [u["id"]])

    events = wait_all_delivered(hook, directory, worker, 45, expected=5)  # activated, user.created, user.updated, group.created, user_added
    seen = hook.of(directory.id)
    assert seen, "no request arrived"
    by_id = collections.defaultdict(list)
    for q in seen:
        by_id[q["id"]].append(q)

    assert set(by_id) == {e["id"] for e in events}
    for e in events:
        reqs = by_id[e["id"]]
        assert len(reqs) >= 3, f"{e['event']}: expected 2 failures then a success, got {[q['status'] for q in reqs]}"
        for q in reqs:
            assert q["verified"] is True, f"signature of {e['event']} attempt {q['attempt']} does not verify: {q['headers']}"
            assert q["headers"]["webhook-id"] == e["id"]
            assert json.loads(q["body"]) == e, "the webhook body differs from the event in the log"
            assert q["headers"]["content-type"].startswith("application/json")
            sigs = q["headers"]["webhook-signature"].split(" ")
            assert len(sigs) == 1 and sigs[0].startswith("v1,"), q["headers"]["webhook-signature"]
            # webhook-timestamp: Unix seconds of *this* attempt.
            assert abs(int(q["headers"]["webhook-timestamp"]) - q["arrived"]) <= 5
            # Verification means something: any change of the bytes breaks it.
            assert not verifies(hook.secret, q["body"] + b" ", q["headers"])
        bodies = {q["body"] for q in reqs}
        assert len(bodies) == 1, f"{e['event']}: body bytes changed across retries"
        stamps = [int(q["headers"]["webhook-timestamp"]) for q in reqs]
        assert stamps == sorted(stamps), stamps
        # A retry is re-signed for its own timestamp, so the signature changes with it.
        assert len({q["headers"]["webhook-signature"] for q in reqs}) == len(set(stamps))


# -- retries and the deliveries log ------------------------------------------


def test_a_failing_receiver_ends_with_everything_delivered_and_every_attempt_logged(worker, directory, hooks):
    """500 for the first 3 attempts of every event: all events still arrive,
    and the deliveries log has attempts 1..4 with status, response_code,
    duration_ms and next_attempt_at matching the retry schedule."""
    k = 3
    hook = hooks(lambda q: 500 if q["event"].get("directory_id") == directory.id and q["attempt"] <= k else 200)
    users = [new_user(directory, f"retry{i}@example.com") for i in range(3)]
    patch(directory, f"/Users/{users[0]['id']}", [{"op": "replace", "path": "active", "value": False}])

    events = wait_all_delivered(hook, directory, worker, 60, expected=5)  # activated, 3 created, 1 updated
    time.sleep(1.5)  # let the last writes of the consumer land
    log = attempts_by_event(worker, hook.endpoint_id, [e["id"] for e in events])
    received = collections.Counter(q["id"] for q in hook.of(directory.id))
    for e in events:
        rows = log[e["id"]]
        assert [d["attempt"] for d in rows] == list(range(1, k + 2)), f"{e['event']}: {rows}"
        assert received[e["id"]] == len(rows), f"{e['event']}: {received[e['id']]} requests, {len(rows)} logged attempts"
        arrivals = sorted(q["arrived"] for q in hook.of(directory.id) if q["id"] == e["id"])
        for i, d in enumerate(rows):
            assert d["object"] == "webhook_delivery" and d["endpoint_id"] == hook.endpoint_id
            assert isinstance(d["duration_ms"], int) and 0 <= d["duration_ms"] < TIMEOUT_MS, d
            if i < k:
                assert d["response_code"] == 500, d
                assert d["status"] not in ("succeeded", "failed"), d
                assert d["next_attempt_at"], f"a failed attempt that will be retried needs next_attempt_at: {d}"
                wait = ts(d["next_attempt_at"]) - ts(d["created_at"])
                base = SCHEDULE[i + 1]
                assert base * 0.8 - 0.01 <= wait <= base * 1.2 + 0.01, f"attempt {d['attempt']}: next in {wait}s, schedule says {base}s"
                # The next attempt does not come before its announced time.
                assert arrivals[i + 1] >= ts(d["next_attempt_at"]) - 0.05, (arrivals, d)
            else:
                assert d["status"] == "succeeded" and d["response_code"] == 200, d
                assert d["next_attempt_at"] is None, d


def test_a_receiver_that_times_out_is_retried_and_ends_delivered(worker, directory, hooks):
    """The first attempt of every event sleeps past WEBHOOK_TIMEOUT_MS (then
    answers 200, too late): it counts as failed, is logged without a response
    code, and the retry delivers."""
    hook = hooks(lambda q: ("sleep", TIMEOUT_MS / 1000 + 3, 200) if q["event"].get("directory_id") == directory.id and q["attempt"] == 1 else 200)
    new_user(directory, "slow@example.com")

    events = wait_all_delivered(hook, directory, worker, 60, expected=2)
    for e in events:
        reqs = [q for q in hook.of(directory.id) if q["id"] == e["id"]]
        assert len(reqs) >= 2, f"{e['event']} was not retried after the timeout"
        assert reqs[0]["slept"] and not reqs[1]["slept"]
        rows = wait_until(lambda: (lambda r: r if len(r) >= 2 and r[-1]["status"] == "succeeded" else None)(
            deliveries(worker, hook.endpoint_id, e["id"])), 10, "the attempts of the timed-out event in the log", worker)
        first = min(rows, key=lambda d: d["attempt"])
        assert first["attempt"] == 1 and first["response_code"] is None, first
        assert first["status"] not in ("succeeded", "failed"), first
        assert first["next_attempt_at"], first
        assert first["error"] and "time" in first["error"].lower(), first
        # Cut at the timeout, not when the receiver finally answered (3 s later).
        assert TIMEOUT_MS - 100 <= first["duration_ms"] < TIMEOUT_MS + 1000, first


def test_retry_after_is_honoured(worker, directory, hooks):
    """429 with Retry-After (delta-seconds for one event, an HTTP-date for the
    other) pushes the next attempt past it, though the schedule says 1 s."""
    delta = 4
    dates: dict[str, float] = {}

    def plan(q):
        if q["event"].get("directory_id") != directory.id or q["attempt"] > 1:
            return 200
        if q["event"]["event"] == "dsync.activated":
            return (429, delta)
        at = int(time.time()) + 5
        dates[q["id"]] = at
        return (429, email.utils.formatdate(at, usegmt=True))

    hook = hooks(plan)
    new_user(directory, "busy@example.com")
    events = wait_all_delivered(hook, directory, worker, 60, expected=2)
    for e in events:
        reqs = [q for q in hook.of(directory.id) if q["id"] == e["id"]]
        assert reqs[0]["status"] == 429 and len(reqs) >= 2
        gap = reqs[1]["arrived"] - reqs[0]["responded"]
        if e["event"] == "dsync.activated":
            assert gap >= delta - 0.05, f"Retry-After: {delta} but the next attempt came {gap:.2f}s after the 429"
            not_before = reqs[0]["responded"] + delta
        else:
            assert reqs[1]["arrived"] >= dates[e["id"]] - 0.05, f"Retry-After date {dates[e['id']]} but retried at {reqs[1]['arrived']:.2f}"
            not_before = dates[e["id"]]
        rows = deliveries(worker, hook.endpoint_id, e["id"])
        first = min(rows, key=lambda d: d["attempt"])
        assert first["response_code"] == 429, first
        assert ts(first["next_attempt_at"]) >= not_before - 1.05, (first, not_before)


# -- 410 Gone -----------------------------------------------------------------


def test_410_disables_the_endpoint_and_nothing_more_is_sent_to_it(worker, directory, hooks):
    gone = hooks(lambda q: 410)
    witness = hooks()  # a healthy endpoint: tells when later events were processed
    first = new_user(directory, "gone1@example.com")

    def state():
        r = worker.api("GET", f"/v1/webhook_endpoints/{gone.endpoint_id}")
        assert r.status_code == 200, r.text
        return r.json()

    ep = wait_until(lambda: (lambda s: s if s["state"] == "disabled" else None)(state()), 30, "the endpoint to be disabled", worker)
    assert ep["disabled_reason"], ep
    before = len(gone.requests)
    assert before >= 1
    # The 410 itself is logged once, without a retry.
    gone_event = gone.requests[0]["id"]
    rows = deliveries(worker, gone.endpoint_id, gone_event)
    assert len(rows) == 1 and rows[0]["response_code"] == 410 and rows[0]["next_attempt_at"] is None, rows

    patch(directory, f"/Users/{first['id']}", [{"op": "replace", "path": "displayName", "value": "Still Here"}])
    new_user(directory, "gone2@example.com")
    wait_all_delivered(witness, directory, worker, 30, expected=4)
    time.sleep(SCHEDULE[1] * 1.2 + 1.5)  # room for a (wrong) retry of the 410 to show up
    assert len(gone.requests) == before, [(q["event"].get("event"), q["attempt"]) for q in gone.requests[before:]]
    assert state()["state"] == "disabled"
    assert len(deliveries(worker, gone.endpoint_id)) == before


# -- exhausted retries and redelivery -----------------------------------------


def test_exhausted_retries_are_recorded_failed_and_redeliver_sends_again(worker, directory, hooks):
    healthy = threading.Event()
    hook = hooks(lambda q: 200 if healthy.is_set() or q["event"].get("directory_id") != directory.id else 500)
    u = new_user(directory, "doomed@example.com")
    events = directory.events()
    assert [e["event"] for e in events] == ["dsync.activated", "dsync.user.created"]
    created = events[1]

    def final_rows():
        log = attempts_by_event(worker, hook.endpoint_id, [e["id"] for e in events])
        done = all(rows and rows[-1]["status"] == "failed" for rows in log.values())
        return log if done else None

    log = wait_until(final_rows, 45, "both events to be recorded failed", worker, step=0.5)
    time.sleep(SCHEDULE[-1] * 1.2 + 1.5)  # nothing after the last attempt
    for e in events:
        rows = log[e["id"]]
        assert [d["attempt"] for d in rows] == list(range(1, len(SCHEDULE) + 1)), rows
        assert all(d["response_code"] == 500 for d in rows), rows
        assert rows[-1]["status"] == "failed" and rows[-1]["next_attempt_at"] is None, rows[-1]
        assert sum(1 for q in hook.of(directory.id) if q["id"] == e["id"]) == len(SCHEDULE)
    assert hook.delivered_ids(directory.id) == set()
    # What exhausts its retries goes to the dead-letter queue (whose consumer
    # only logs it: the log line is all there is to see of it).
    wait_until(lambda: any(created["id"] in line and "dead" in line.lower() for line in worker.logs().splitlines()), 10,
               "the dead-letter queue to receive the failed delivery", worker)
    bad = next(q for q in hook.of(directory.id) if q["id"] == created["id"])

    healthy.set()
    r = worker.api("POST", f"/v1/events/{created['id']}/redeliver")
    assert r.status_code == 202, r.text
    wait_until(lambda: created["id"] in hook.delivered_ids(directory.id), 30, "the redelivered event", worker)
    ok = next(q for q in hook.of(directory.id) if q["id"] == created["id"] and q["status"] == 200)
    assert ok["verified"] and ok["headers"]["webhook-id"] == created["id"]
    assert ok["body"] == bad["body"], "a redelivery must carry the same event bytes"
    assert json.loads(ok["body"])["data"]["id"] == u["id"]
    rows = wait_until(lambda: (lambda r: r if any(d["status"] == "succeeded" for d in r) else None)(
        deliveries(worker, hook.endpoint_id, created["id"])), 10, "the redelivery in the log", worker)
    assert len(rows) == len(SCHEDULE) + 1
    # Only the event asked for is sent again.
    assert events[0]["id"] not in hook.delivered_ids(directory.id)
    assert worker.api("POST", "/v1/events/event_00000000000000000000000000000000/redeliver").status_code == 404


# -- secret rotation ----------------------------------------------------------


def test_secret_rotation_signs_with_both_secrets_during_the_overlap(worker, directory, hooks):
    hook = hooks()
    old = hook.secret
    u = new_user(directory, "rot@example.com")
    wait_all_delivered(hook, directory, worker, 30, expected=2)
    for q in hook.of(directory.id):
        assert len(q["headers"]["webhook-signature"].split(" ")) == 1

    r = worker.api("POST", f"/v1/webhook_endpoints/{hook.endpoint_id}/rotate_secret")
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert r.json()["previous_secret_expires_at"] and ts(r.json()["previous_secret_expires_at"]) > time.time() + 3600
    hook.secret = new
    n_before = len(hook.of(directory.id))
    patch(directory, f"/Users/{u['id']}", [{"op": "replace", "path": "displayName", "value": "Rotated"}])
    wait_all_delivered(hook, directory, worker, 30, expected=3)
    q = [q for q in hook.of(directory.id)][n_before]
    assert q["event"]["event"] == "dsync.user.updated"
    sigs = q["headers"]["webhook-signature"].split(" ")
    assert len(sigs) == 2 and all(s.startswith("v1,") for s in sigs), q["headers"]["webhook-signature"]
    assert verifies(old, q["body"], q["headers"]), "a receiver that still has the old secret must verify"
    assert verifies(new, q["body"], q["headers"]), "a receiver that already has the new secret must verify"

    # Ending the overlap now: only the newest secret signs.
    r = worker.api("POST", f"/v1/webhook_endpoints/{hook.endpoint_id}/rotate_secret", {"expire_previous_in_seconds": 0})
    assert r.status_code == 200, r.text
    newest = r.json()["secret"]
    hook.secret = newest
    n_before = len(hook.of(directory.id))
    patch(directory, f"/Users/{u['id']}", [{"op": "replace", "path": "displayName", "value": "Rotated Twice"}])
    wait_all_delivered(hook, directory, worker, 30, expected=4)
    q = hook.of(directory.id)[n_before]
    assert len(q["headers"]["webhook-signature"].split(" ")) == 1, q["headers"]["webhook-signature"]
    assert verifies(newest, q["body"], q["headers"])
    assert not verifies(new, q["body"], q["headers"]) and not verifies(old, q["body"], q["headers"])


# -- subscriptions ------------------------------------------------------------


def test_an_endpoint_subscribed_to_group_events_never_gets_user_events(worker, directory, hooks):
    groups_only = hooks(events=GROUP_EVENTS)
    everything = hooks()
    a, b, c = (new_user(directory, f"{n}@example.com") for n in ("ann", "bob", "cy"))
    g = new_group(directory, "Engineering", [a["id"], b["id"]])
    patch(directory, f"/Groups/{g['id']}", [{"op": "replace", "path": "displayName", "value": "Eng"}])
    patch(directory, f"/Groups/{g['id']}", [{"op": "add", "path": "members", "value": [{"value": c["id"]}]}])
    patch(directory, f"/Users/{c['id']}", [{"op": "replace", "path": "displayName", "value": "Cy"}])
    assert directory.scim("DELETE", f"/Users/{a['id']}").status_code == 204
    assert directory.scim("DELETE", f"/Groups/{g['id']}").status_code == 204

    events = wait_all_delivered(everything, directory, worker, 45)
    kinds = collections.Counter(e["event"] for e in events)
    assert kinds["dsync.group.user_added"] == 3 and kinds["dsync.group.user_removed"] >= 3 and kinds["dsync.group.updated"] >= 1, kinds
    want = {e["id"] for e in events if e["event"] in GROUP_EVENTS}
    wait_until(lambda: want <= groups_only.delivered_ids(directory.id), 20, "the group events at the group-only endpoint", worker)
    time.sleep(1.5)
    got = groups_only.of(directory.id)
    assert {q["event"]["event"] for q in got} <= set(GROUP_EVENTS), sorted({q["event"]["event"] for q in got})
    assert {q["id"] for q in got} == want
    assert all(q["verified"] for q in got)
    r = worker.api("GET", f"/v1/webhook_endpoints/{groups_only.endpoint_id}")
    assert sorted(r.json()["events"]) == sorted(GROUP_EVENTS)


# -- the outbox and the sweeper -----------------------------------------------


def test_a_lost_queue_send_is_healed_by_the_sweeper(hooks):
    """A Worker whose fetch handler never publishes: the events are in the
    log at once, no webhook goes out until the cron sweeper runs, then every
    event arrives, and a second sweep sends nothing again."""
    w = Worker(TEST_FAIL_QUEUE_SEND="1", OUTBOX_GRACE_SECONDS="1", WEBHOOK_RETRY_SCHEDULE="0,1,2,2,2", WEBHOOK_TIMEOUT_MS=str(TIMEOUT_MS)).start()
    try:
        hook = hooks(on=w)
        directory = w.new_directory()
        users = [new_user(directory, f"lost{i}@example.com") for i in range(4)]
        new_group(directory, "Lost and found", [u["id"] for u in users[:2]])
        patch(directory, f"/Users/{users[3]['id']}", [{"op": "replace", "path": "active", "value": False}])
        events = directory.events()
        assert len(events) == 1 + 4 + 1 + 2 + 1, [e["event"] for e in events]
        assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))

        time.sleep(3)  # the Queue would have delivered within ~1 s
        assert hook.of(directory.id) == [], "events went out although the Queue send was made to fail"
        assert len(directory.events()) == len(events)

        w.trigger_cron()
        wait_all_delivered(hook, directory, w, 30, expected=len(events))
        assert all(q["verified"] for q in hook.of(directory.id))
        time.sleep(1.5)
        n = len(hook.of(directory.id))
        assert n == len(events), f"{n} requests for {len(events)} events after one sweep"

        w.trigger_cron()  # everything is dispatched: nothing to republish
        time.sleep(2.5)
        assert len(hook.of(directory.id)) == n, "a second sweep sent delivered events again"
    finally:
        w.stop()


# -- ordering -----------------------------------------------------------------


def test_sequence_is_strictly_increasing_and_gapless_under_concurrent_writes(worker, directory, hooks):
    hook = hooks()
    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(lambda i: new_user(directory, f"seq{i:03}@example.com"), range(40)))
    with ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(patch, directory, f"/Users/{u['id']}", [{"op": "replace", "path": "displayName", "value": f"Seq {i}"}]) for i, u in enumerate(users[:20])]
        jobs += [pool.submit(new_group, directory, f"Team {t}", [u["id"] for u in users[20 + 4 * t: 24 + 4 * t]]) for t in range(4)]
        jobs += [pool.submit(lambda u: directory.scim("DELETE", f"/Users/{u['id']}"), u) for u in users[36:40]]
        results = [j.result() for j in jobs]
    assert all(r.status_code == 204 for r in results[-4:])

    events = directory.events()
    kinds = collections.Counter(e["event"] for e in events)
    assert kinds == {"dsync.activated": 1, "dsync.user.created": 40, "dsync.user.updated": 20, "dsync.group.created": 4,
                     "dsync.group.user_added": 16, "dsync.user.deleted": 4}, kinds
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1)), "sequence is not 1..N in log order"
    assert len({e["id"] for e in events}) == len(events)
    assert events[0]["event"] == "dsync.activated"
    # The organisation's log (ordered by commit) agrees with the per-directory order.
    org_log = worker.list_all("/v1/events", max_pages=50, organization_id=directory.org)
    assert [e["id"] for e in org_log] == [e["id"] for e in events]
    # A filtered log keeps the order.
    updated = directory.events(events="dsync.user.updated")
    seqs = [e["sequence"] for e in updated]
    assert len(seqs) == 20 and seqs == sorted(seqs) and len(set(seqs)) == 20
    # And every one of them reached the receiver.
    wait_all_delivered(hook, directory, worker, 60, expected=len(events))


def test_deleting_a_directory_delivers_dsync_deleted_as_the_next_sequence(worker, directory, hooks):
    hook = hooks()
    u = new_user(directory, "leaving@example.com")
    new_group(directory, "Leavers", [u["id"]])
    before = directory.events()
    r = worker.api("DELETE", f"/v1/directories/{directory.id}")
    assert r.status_code == 202, r.text
    events = wait_all_delivered(hook, directory, worker, 30, expected=len(before) + 1)
    assert [e["id"] for e in events[:-1]] == [e["id"] for e in before], "deleting the directory changed its event log"
    last = events[-1]
    assert last["event"] == "dsync.deleted" and last["sequence"] == len(before) + 1, last
    assert last["data"]["id"] == directory.id
    q = next(q for q in hook.of(directory.id) if q["id"] == last["id"])
    assert q["verified"] and json.loads(q["body"]) == last


def test_a_sweep_while_the_queue_is_busy_does_not_start_a_second_retry_chain(worker, directory, hooks):
    """The sweeper must only heal what the Queue never got. Here nothing is
    lost, the consumer is just busy (a second endpoint times out on first
    attempts, so each message takes > 2 s) when the cron runs. A down
    receiver must still get one chain of attempts per event: attempts 1..5
    once each, not a second (third, …) chain started by the sweep."""
    down = hooks(lambda q: 500)
    hooks(lambda q: ("sleep", TIMEOUT_MS / 1000 + 0.5, 200) if q["attempt"] == 1 else 200)  # keeps the consumer busy
    for i in range(3):
        new_user(directory, f"busy{i}@example.com")
    events = directory.events()
    assert len(events) == 4
    for _ in range(3):  # a few sweeps while the backlog drains (OUTBOX_GRACE_SECONDS is 1 here)
        time.sleep(2.5)
        worker.trigger_cron()

    def all_failed():
        log = attempts_by_event(worker, down.endpoint_id, [e["id"] for e in events])
        return log if all(any(d["status"] == "failed" for d in rows) for rows in log.values()) else None

    wait_until(all_failed, 60, "every event to exhaust its retries at the down endpoint", worker, step=0.5)
    time.sleep(SCHEDULE[-1] * 1.2 + 2)  # let any other chain play out
    log = attempts_by_event(worker, down.endpoint_id, [e["id"] for e in events])
    received = collections.Counter(q["id"] for q in down.of(directory.id))
    for e in events:
        numbers = [d["attempt"] for d in log[e["id"]]]
        assert numbers == list(range(1, len(SCHEDULE) + 1)), (
            f"{e['event']} (sequence {e['sequence']}): attempts logged {numbers}; "
            f"the receiver got {received[e['id']]} requests for a {len(SCHEDULE)}-attempt schedule")
        assert received[e["id"]] == len(SCHEDULE)
