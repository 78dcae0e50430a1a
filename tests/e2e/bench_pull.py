"""Prints what a pull run (issue 13) costs: D1 calls, rows read and rows
written, steps, IdP requests, events and wall time, at two directory sizes,
for an in-sync run and for runs that heal what the pushes missed. Run from
tests/e2e:

    ../../.venv/bin/python bench_pull.py [small] [large]     # default 200 2000

At each size the directory holds `size` users pushed as CyberArk pushes
them (externalId = the IdP's id) and one role of 100 users per 100 users;
the fake CyberArk (fake_idp.py, on 127.0.0.1) holds the same and answers
pages of 100. Costs are summed from the Worker's `"msg":"pull"` log line of
each step (the step's D1 meter, which includes the removals it applied);
the trigger request itself costs one row written more.
"""

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from fake_idp import FakeIdP
from harness import Worker

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ROLE_SIZE = 100


def provision(worker, idp, n):
    d = worker.new_directory("cyberark", name=f"Pull bench {n}")

    def one(i):
        name = f"u{i}@bench.test"
        iid = idp.add_user(name)
        r = d.scim("POST", "/Users", {"schemas": [USER], "userName": name, "externalId": iid, "active": True})
        assert r.status_code == 201, r.text
        return iid, r.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(one, range(n)))
    roles = []
    for k in range(max(1, n // ROLE_SIZE)):
        members = users[k * ROLE_SIZE:(k + 1) * ROLE_SIZE]
        gid = idp.add_group(f"Role {k}", [iid for iid, _ in members])
        r = d.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": f"Role {k}", "externalId": gid,
                                      "members": [{"value": rid} for _, rid in members]})
        assert r.status_code == 201, r.text
        roles.append(gid)
    return d, users, roles


def pull_steps(worker, offset, directory_id):
    out = []
    for line in worker.log_since(offset).splitlines():
        i = line.find('{"msg":"pull"')
        if i >= 0:
            try:
                rec = json.loads(line[i:])
            except ValueError:
                continue
            if rec.get("directory_id") == directory_id:
                out.append(rec)
    return out


def run(worker, d, idp):
    offset, asked = worker.log_offset(), len(idp.requests)
    before = len(d.events())
    started = time.time()
    r = worker.api("POST", f"/v1/directories/{d.id}/pull/run")
    assert r.status_code == 202, r.text
    run_id = r.json()["current_run"]["id"]
    deadline = time.time() + 600
    while True:
        p = worker.api("GET", f"/v1/directories/{d.id}/pull").json()
        if (p.get("last_run") or {}).get("id") == run_id:
            break
        assert time.time() < deadline, "the run did not finish within 10 minutes"
        time.sleep(0.2)
    wall = time.time() - started
    last = p["last_run"]
    assert last["state"] == "succeeded", last
    # The last step's log line is written after the status: wait for it (bounded).
    for _ in range(50):
        steps = pull_steps(worker, offset, d.id)
        if any(s.get("finished") for s in steps):
            break
        time.sleep(0.1)
    events = len(d.events()) - before
    calls = sum(s["d1_calls"] for s in steps)
    read = sum(s["rows_read"] for s in steps)
    written = sum(s["rows_written"] for s in steps)
    return last, len(steps), calls, read, written, len(idp.requests) - asked, events, wall


def main():
    sizes = [int(a) for a in sys.argv[1:3]] or [200, 2000]
    w = Worker(log_level="log").start()
    try:
        print(f"{'size':>6} {'run':<34} {'steps':>5} {'D1 calls':>8} {'rows read':>10} {'rows written':>12} "
              f"{'IdP reqs':>8} {'events':>6} {'changes (deact/members/groups)':>31} {'wall s':>7}")
        for n in sizes:
            idp = FakeIdP(page_size=100)
            try:
                d, users, roles = provision(w, idp, n)
                r = w.api("PUT", f"/v1/directories/{d.id}/pull", {"scim_url": idp.scim_url, "token_url": idp.token_url,
                                                                  "client_id": idp.client_id, "client_secret": idp.client_secret,
                                                                  "scope": idp.scope})
                assert r.status_code == 200, r.text
                gone = max(1, n // 100)
                scenarios = [
                    ("in sync", lambda: None),
                    (f"one role of {ROLE_SIZE} removed", lambda: idp.remove_group(roles[0])),
                    (f"{gone} users gone (1%)", lambda: [idp.remove_user(iid) for iid, _ in users[-gone:]]),
                    ("in sync again", lambda: None),
                ]
                for label, change in scenarios:
                    change()
                    last, steps, calls, read, written, asked, events, wall = run(w, d, idp)
                    c = last["changes"]
                    changes = f"{c['users_deactivated']}/{c['memberships_removed']}/{c['groups_deleted']}"
                    print(f"{n:>6} {label:<34} {steps:>5} {calls:>8} {read:>10} {written:>12} {asked:>8} {events:>6} {changes:>31} {wall:>7.1f}")
            finally:
                idp.close()
    finally:
        w.stop()


if __name__ == "__main__":
    main()
