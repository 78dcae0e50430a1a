"""Large fan-outs under wrangler dev (issue 9): deleting a 50,000-member
group, replacing its members with three (PUT, and PATCH replace), and
deleting a directory of 100,000 users. Prints, for each, the request's
answer time and D1 cost, then the background work: wall time until done,
runs (the request's wait_until, then cron runs triggered back to back),
chunks, events and D1 rows (from the Worker's log lines), and how fast
another directory's SCIM reads were answered meanwhile. Run from tests/e2e
(not collected by pytest):

    ../../.venv/bin/python bench_fanout.py [members] [directory_users]   # default 50000 100000

Rows are seeded straight into the local D1 with `wrangler d1 execute
--local --persist-to <state>` (INSERT … SELECT from a recursive CTE):
100,000 SCIM POSTs would take far longer than what is measured.
"""

import json
import re
import statistics
import subprocess
import sys
import threading
import time

import requests

from harness import ROOT, WRANGLER, Worker, toolchain_env

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_RUNS = 400


def d1(worker, sql):
    """Runs SQL on the Worker's local D1 (retried while the Worker holds it
    busy); the rows of the last statement."""
    for attempt in range(30):
        out = subprocess.run(
            [str(WRANGLER), "d1", "execute", "rollcall", "--local", "--persist-to", str(worker.dir / "state"), "--json", "--command", sql],
            cwd=ROOT, env={**toolchain_env(), "CI": "1"}, capture_output=True, text=True, timeout=600,
        )
        if out.returncode == 0:
            return json.loads(out.stdout)[-1]["results"]
        time.sleep(2)
    raise RuntimeError(f"wrangler d1 execute failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def seed(worker, directory, n, tag, group_id=None):
    """`n` users (ids user_<tag><31 hex>) with their emails, members of `group_id` when given."""
    t = time.time()
    d1(worker, f"""
        WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n})
        INSERT INTO users (id, directory_id, user_name, external_id, display_name, active, resource, version, created_at, updated_at)
        SELECT printf('user_{tag}%031x', i), '{directory.id}', printf('u{tag}%d@bulk.test', i), printf('ext-{tag}%d', i), NULL, 1,
               json_object('userName', printf('u{tag}%d@bulk.test', i), 'externalId', printf('ext-{tag}%d', i),
                           'name', json_object('givenName', 'Bulk', 'familyName', printf('User %d', i)),
                           'emails', json_array(json_object('value', printf('u{tag}%d@bulk.test', i), 'type', 'work', 'primary', json('true'))),
                           'active', json('true')),
               1, '2026-11-30T00:00:00.000Z', '2026-11-30T00:00:00.000Z' FROM k;
        INSERT INTO user_emails (user_id, directory_id, value) SELECT id, directory_id, user_name FROM users WHERE directory_id = '{directory.id}';
        UPDATE directories SET user_count = user_count + {n} WHERE id = '{directory.id}';
        {f"INSERT INTO memberships (group_id, user_id, directory_id, created_at) SELECT '{group_id}', id, directory_id, '2026-11-30T00:00:00.000Z' FROM users WHERE directory_id = '{directory.id}';" if group_id else ""}
    """)
    return time.time() - t


def cost(r):
    h = r.headers
    return f"{h.get('x-rollcall-d1-calls', '?')} calls, {h.get('x-rollcall-d1-rows-read', '?')} rows read, {h.get('x-rollcall-d1-rows-written', '?')} written"


class Prober:
    """Another directory's IdP, reading while the fan-out runs."""

    def __init__(self, directory, user_name):
        self.d, self.user_name, self.lat, self.errors = directory, user_name, [], 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stop.is_set():
            t = time.time()
            try:
                r = self.d.scim("GET", f"/Users?filter=userName+eq+%22{self.user_name}%22")
                ok = r.status_code == 200 and r.json()["totalResults"] == 1
            except requests.RequestException:
                ok = False
            self.lat.append((time.time() - t) * 1000)
            self.errors += 0 if ok else 1
            time.sleep(0.05)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.t.join(timeout=10)

    def summary(self):
        if not self.lat:
            return "no probes"
        q = sorted(self.lat)
        return f"{len(q)} reads of another directory: p50 {statistics.median(q):.0f} ms, p99 {q[int(len(q) * 0.99) - 1]:.0f} ms, max {q[-1]:.0f} ms, {self.errors} failed"


def background_lines(worker, since):
    """The Worker's log lines about background work written after `since` bytes."""
    text = worker.logs()[since:]
    out = []
    for m in re.finditer(r'\{"msg":"(?:group removals|purge)"[^\n]*\}', text):
        try:
            out.append(json.loads(m.group(0)))
        except ValueError:
            pass
    return out


def drain(worker, since, t0, purge=False, confirm=lambda: True):
    """Triggers cron runs back to back until the work is done, told by the
    Worker's log: a purge line saying done, or (group removals) a cron run
    that found nothing to tell. Seconds from t0, and cron runs."""
    runs = 0
    while True:
        assert runs < MAX_RUNS, "the fan-out did not finish"
        before = background_lines(worker, since)
        worker.trigger_cron()
        runs += 1
        after = background_lines(worker, since)
        if purge and any(l["msg"] == "purge" and l["done"] for l in after):
            return time.time() - t0, runs
        removals = lambda ls: [l for l in ls if l["msg"] == "group removals"]  # noqa: E731
        if not purge and removals(before) and len(removals(after)) == len(removals(before)) and confirm():
            return time.time() - t0, runs


def report(name, answer, answer_ms, wall, runs, lines, prober):
    removals = [l for l in lines if l["msg"] == "group removals"]
    purges = [l for l in lines if l["msg"] == "purge"]
    print(f"\n== {name}")
    print(f"   request: {answer.status_code} in {answer_ms:.0f} ms ({cost(answer)})")
    print(f"   then {runs} cron run(s) triggered back to back beside the request's wait_until; done {wall:.1f} s after the request was sent")
    if removals:
        ms = [l["ms"] for l in removals]
        print(f"   removal runs: {len(removals)}, chunks {sum(l['chunks'] for l in removals)}, events {sum(l['events'] for l in removals)}, "
              f"rows read {sum(l.get('rows_read', 0) for l in removals)}, written {sum(l.get('rows_written', 0) for l in removals)}, "
              f"D1 calls {sum(l.get('d1_calls', 0) for l in removals)}; per run {min(ms)}-{max(ms)} ms")
    if purges:
        ms = [l["ms"] for l in purges]
        print(f"   purge runs: {len(purges)}, rounds {sum(l['rounds'] for l in purges)}, rows read {sum(l.get('rows_read', 0) for l in purges)}, "
              f"written {sum(l.get('rows_written', 0) for l in purges)}, D1 calls {sum(l.get('d1_calls', 0) for l in purges)}; per run {min(ms)}-{max(ms)} ms")
    print(f"   {prober.summary()}")


def events_of(worker, directory_id):
    rows = d1(worker, f"SELECT event, count(*) AS n, min(sequence) AS lo, max(sequence) AS hi FROM events WHERE directory_id = '{directory_id}' GROUP BY event")
    return {r["event"]: r["n"] for r in rows}, (min(r["lo"] for r in rows), max(r["hi"] for r in rows), sum(r["n"] for r in rows))


def pending(worker, directory_id):
    return d1(worker, f"SELECT count(*) AS n FROM group_removals WHERE directory_id = '{directory_id}'")[0]["n"]


def group_scenario(worker, prober_dir, members, tag, name, act):
    d = worker.new_directory()
    g = d.scim("POST", "/Groups", {"displayName": "Everyone", "members": []})
    assert g.status_code == 201, g.text
    gid = g.json()["id"]
    seeded = seed(worker, d, members, tag, gid)
    print(f"\n(seeded {members} users and memberships in {seeded:.1f} s)")
    since = len(worker.logs())
    with prober_dir as p:
        t = time.time()
        r = act(d, gid)
        answer_ms = (time.time() - t) * 1000
        assert r.status_code in (200, 204), r.text[:300]
        wall, runs = drain(worker, since, t, confirm=lambda: pending(worker, d.id) == 0)
    time.sleep(1)
    report(name, r, answer_ms, wall, runs, background_lines(worker, since), p)
    counts, (lo, hi, n) = events_of(worker, d.id)
    print(f"   events: {counts}; sequence {lo}..{hi} over {n} events: {'gapless' if hi - lo + 1 == n == hi else 'GAPS'}")
    return d, gid, counts


def main():
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    # The queue stays quiet: 50,000 events are 50,000 queue messages, and
    # the local queue consumer runs in the same process on the same SQLite
    # file, so delivering them would be measured instead of the fan-out
    # (the first run with it on: another directory's reads p99 4.2 s, one
    # past 30 s). The events are written all the same; nothing publishes them.
    w = Worker(log_level="log", WEBHOOK_RETRY_SCHEDULE="0", TEST_FAIL_QUEUE_SEND="1", OUTBOX_GRACE_SECONDS="86400").start()
    try:
        other = w.new_directory(name="bystander")
        assert other.scim("POST", "/Users", {"userName": "probe@x.test"}).status_code == 201
        probe = lambda: Prober(other, "probe%40x.test")  # noqa: E731

        _, gid, counts = group_scenario(w, probe(), members, "1", f"DELETE /Groups/{{id}} of {members} members",
                                        lambda d, gid: d.scim("DELETE", f"/Groups/{gid}"))
        assert counts.get("dsync.group.user_removed") == members and counts.get("dsync.group.deleted") == 1, counts

        def put(d, gid):
            keep = [f"user_2{i:031x}" for i in (1, 2, 3)]
            return d.scim("PUT", f"/Groups/{gid}", {"displayName": "Everyone", "members": [{"value": k} for k in keep]})
        d, gid, counts = group_scenario(w, probe(), members, "2", f"PUT /Groups/{{id}}: {members} members -> 3 of them", put)
        assert counts.get("dsync.group.user_removed") == members - 3, counts
        assert len(d.scim("GET", f"/Groups/{gid}").json()["members"]) == 3

        def patch(d, gid):
            keep = [f"user_3{i:031x}" for i in (1, 2, 3)]
            return d.scim("PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "members", "value": [{"value": k} for k in keep]}]})
        _, _, counts = group_scenario(w, probe(), members, "3", f"PATCH replace members: {members} -> 3 of them (Okta full push)", patch)
        assert counts.get("dsync.group.user_removed") == members - 3, counts

        d = w.new_directory()
        g = d.scim("POST", "/Groups", {"displayName": "Everyone", "members": []})
        seeded = seed(w, d, users, "4", g.json()["id"])
        print(f"\n(seeded {users} users, their emails and memberships in {seeded:.1f} s)")
        since = len(w.logs())
        with probe() as p:
            t = time.time()
            r = w.api("DELETE", f"/v1/directories/{d.id}")
            answer_ms = (time.time() - t) * 1000
            assert r.status_code == 202, r.text
            wall, runs = drain(w, since, t, purge=True)
        assert not d1(w, f"SELECT id FROM directories WHERE id = '{d.id}'")
        time.sleep(1)
        report(f"DELETE /v1/directories/{{id}} of {users} users (a {users}-member group)", r, answer_ms, wall, runs, background_lines(w, since), p)
        left = d1(w, f"SELECT (SELECT count(*) FROM users WHERE directory_id = '{d.id}') + (SELECT count(*) FROM memberships WHERE directory_id = '{d.id}') AS n")[0]["n"]
        counts = {e["event"]: e["n"] for e in d1(w, f"SELECT event, count(*) AS n FROM events WHERE directory_id = '{d.id}' GROUP BY event")}
        print(f"   rows left: {left}; events: {counts}")
        assert left == 0 and counts.get("dsync.deleted") == 1 and "dsync.group.user_removed" not in counts, counts
    finally:
        w.stop()


if __name__ == "__main__":
    main()
