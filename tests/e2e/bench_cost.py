"""Prints what each SCIM operation costs in D1 rows read and written (the
figures Cloudflare bills), and D1 round trips, at two directory sizes, so a
cost that grows with the directory shows at once. Run from tests/e2e:

    ../../.venv/bin/python bench_cost.py [small] [large]

Starts its own `wrangler dev`; seeds users over SCIM; reads the
x-rollcall-d1-* headers the Worker adds with EXPOSE_COST=1.
"""

import sys
import time

from harness import Worker, cost

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def measure(worker, size):
    d = worker.new_directory()
    t = time.time()
    ids = d.seed_users(size, "s")
    seed_s = time.time() - t
    g = d.scim("POST", "/Groups", {"displayName": "Everyone", "members": [{"value": i} for i in ids[: min(size, 1000)]]})
    assert g.status_code == 201, g.text[:300]
    gid = g.json()["id"]
    small = d.scim("POST", "/Groups", {"displayName": "Few", "members": [{"value": ids[0]}]}).json()["id"]
    u = ids[size // 2]
    ops = {}
    ops["POST /Users"] = d.scim("POST", "/Users", {"userName": "new@bench.test"})
    new_id = ops["POST /Users"].json()["id"]
    ops["GET /Users/{id}"] = d.scim("GET", f"/Users/{u}")
    ops["GET /Users?filter=userName eq"] = d.scim("GET", f"/Users?filter=userName+eq+%22s{size // 3}%40bench.test%22")
    ops["GET /Users?filter=externalId eq"] = d.scim("GET", f"/Users?filter=externalId+eq+%22ext-s{size // 3}%22")
    ops["GET /Users?filter=emails[type eq work].value eq"] = d.scim("GET", f"/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22s{size // 3}%40bench.test%22")
    ops["GET /Users?filter=emails eq (PingFederate)"] = d.scim("GET", f"/Users?filter=emails+eq+%22s{size // 3}%40bench.test%22")
    ops["GET /Users?count=1 (Okta test)"] = d.scim("GET", "/Users?startIndex=1&count=1")
    ops["GET /Users?count=100 page 1"] = d.scim("GET", "/Users?startIndex=1&count=100")
    last_start = ((size - 1) // 100) * 100 + 1
    for start in range(1, last_start, 100):
        d.scim("GET", f"/Users?startIndex={start}&count=100")
    ops["GET /Users last page, importing in order"] = d.scim("GET", f"/Users?startIndex={last_start}&count=100")
    ops["GET /Users last page, jumped to"] = d.scim("GET", f"/Users?startIndex={last_start - 50}&count=100")
    ops["PUT /Users/{id}"] = d.scim("PUT", f"/Users/{u}", {"userName": f"s{size // 2}@bench.test", "title": "Changed"})
    ops["PATCH /Users/{id} deactivate"] = d.scim("PATCH", f"/Users/{u}", {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]})
    ops["PATCH big group: add 1 member"] = d.scim("PATCH", f"/Groups/{gid}?excludedAttributes=members", {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": new_id}]}]})
    ops["PATCH big group: remove 1 member"] = d.scim("PATCH", f"/Groups/{gid}?excludedAttributes=members", {"schemas": [PATCH], "Operations": [{"op": "remove", "path": f'members[value eq "{new_id}"]'}]})
    ops["PATCH big group: rename"] = d.scim("PATCH", f"/Groups/{gid}?excludedAttributes=members", {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"displayName": "All"}}]})
    ops["GET /Groups/{id}?excludedAttributes=members"] = d.scim("GET", f"/Groups/{gid}?excludedAttributes=members")
    ops["GET /Groups?filter=displayName eq"] = d.scim("GET", "/Groups?filter=displayName+eq+%22Few%22&excludedAttributes=members")
    ops["PATCH small group: add 1 member"] = d.scim("PATCH", f"/Groups/{small}", {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[1]}]}]})
    ops["DELETE /Users/{id}"] = d.scim("DELETE", f"/Users/{new_id}")
    for name, r in ops.items():
        assert r.status_code < 300, f"{name}: {r.status_code} {r.text[:200]}"
        if "filter=" in name:
            assert r.json()["totalResults"] == 1, f"{name}: {r.text[:300]}"
    return seed_s, {k: cost(r) for k, r in ops.items()}


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [100, 2000]
    w = Worker(WEBHOOK_RETRY_SCHEDULE="0").start()
    try:
        results = {}
        for s in sizes:
            seed_s, results[s] = measure(w, s)
            print(f"seeded {s} users in {seed_s:.1f}s ({s / seed_s:.0f} SCIM POST/s with 8 clients)")
        names = list(results[sizes[0]].keys())
        head = f"{'operation':44}" + "".join(f" | {s:>6} users: calls read written" for s in sizes)
        print(head)
        print("-" * len(head))
        for n in names:
            print(f"{n:44}" + "".join(f" | {'':>13}{results[s][n][0]:>5} {results[s][n][1]:>4} {results[s][n][2]:>7}" for s in sizes))
    finally:
        w.stop()


if __name__ == "__main__":
    main()
