"""Prints what each SCIM operation costs in D1 rows read and written (the
figures Cloudflare bills), and D1 round trips, at two directory sizes, so a
cost that grows with the directory or the group shows at once. Run from
tests/e2e:

    ../../.venv/bin/python bench_cost.py [small] [large]     # default 100 10000

Every request is sent the way the IdP named in its label sends it (the
request forms of tests/fixtures/idp/*.json): no projection parameter unless
that IdP adds one. At each size the directory holds `size` users and one
group holding all of them (at most 10,000), built as Okta pushes a large
group: POST with 1,000 members, then PATCHes of 1,000. Starts its own
`wrangler dev`; seeds over SCIM; reads the x-rollcall-d1-* headers the
Worker adds with EXPOSE_COST=1.
"""

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from harness import Worker, cost

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
MAX_GROUP = 10_000
OKTA_BATCH = 1_000


def okta_user(name):
    """Okta's create body (okta.json)."""
    return {"schemas": [USER], "userName": name, "name": {"givenName": "Bench", "familyName": "User"},
            "emails": [{"primary": True, "value": name, "type": "work"}], "displayName": "Bench User",
            "locale": "en-US", "externalId": f"ext-{name.split('@')[0]}", "groups": [], "active": True}


def seed(d, n, prefix):
    def one(i):
        r = d.scim("POST", "/Users", okta_user(f"{prefix}{i}@bench.test"))
        assert r.status_code == 201, r.text
        return r.json()["id"]
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def ops(*operations):
    return {"schemas": [PATCH], "Operations": list(operations)}


def okta_add(gid, name, uid):
    """Okta's membership PATCH: the rename op it always sends, then the add."""
    return ops({"op": "replace", "value": {"id": gid, "displayName": name}},
               {"op": "add", "path": "members", "value": [{"value": uid, "display": f"{uid}@bench.test"}]})


def big_group(d, ids):
    """All Staff, pushed as Okta pushes a large group."""
    members = ids[:MAX_GROUP]
    g = d.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "All Staff", "members": [{"value": i} for i in members[:OKTA_BATCH]]})
    assert g.status_code == 201, g.text[:300]
    gid = g.json()["id"]
    for at in range(OKTA_BATCH, len(members), OKTA_BATCH):
        chunk = members[at:at + OKTA_BATCH]
        body = ops({"op": "replace", "value": {"id": gid, "displayName": "All Staff"}},
                   {"op": "add", "path": "members", "value": [{"value": i} for i in chunk]})
        r = d.scim("PATCH", f"/Groups/{gid}", body)
        assert r.status_code == 204, r.text[:300]
    return gid, len(members)


def measure(worker, size):
    d = worker.new_directory()
    t = time.time()
    ids = seed(d, size, "s")
    seed_s = time.time() - t
    gid, members = big_group(d, ids)
    few = d.scim("POST", "/Groups", {"schemas": [GROUP], "displayName": "Few", "members": [{"value": ids[0]}]}).json()["id"]
    u, third = ids[size // 2], size // 3
    q = lambda f: quote(f, safe="")  # noqa: E731
    someone = f'"s{third}@bench.test"'
    f_user, f_email, f_emails = q("userName eq " + someone), q('emails[type eq "work"].value eq ' + someone), q("emails eq " + someone)
    f_few, f_big = q('displayName eq "Few"'), q('displayName eq "Everyone"')
    r = {}
    # Okta (okta.json)
    r["Okta GET /Users?startIndex=1&count=2 (test)"] = d.scim("GET", "/Users?startIndex=1&count=2")
    r["Okta GET /Users?filter=userName eq&count=100"] = d.scim("GET", f"/Users?filter={f_user}&startIndex=1&count=100")
    r["Okta POST /Users"] = d.scim("POST", "/Users", okta_user("new@bench.test"))
    new_id = r["Okta POST /Users"].json()["id"]
    r["Okta GET /Users/{id}"] = d.scim("GET", f"/Users/{u}")
    body = r["Okta GET /Users/{id}"].json()
    body["name"]["familyName"] = "Changed"
    r["Okta PUT /Users/{id} (whole object)"] = d.scim("PUT", f"/Users/{u}", body)
    r["Okta PATCH /Users/{id} deactivate"] = d.scim("PATCH", f"/Users/{u}", ops({"op": "replace", "value": {"active": False}}))
    r["Okta GET /Users?count=100 page 1"] = d.scim("GET", "/Users?startIndex=1&count=100")
    last_start = ((size - 1) // 100) * 100 + 1
    for start in range(101, last_start, 100):
        d.scim("GET", f"/Users?startIndex={start}&count=100")
    r["Okta GET /Users last page, importing in order"] = d.scim("GET", f"/Users?startIndex={last_start}&count=100")
    r["Okta PATCH big group: rename op + add 1"] = d.scim("PATCH", f"/Groups/{gid}", okta_add(gid, "All Staff", new_id))
    r["Okta PATCH big group: rename op + remove 1 + add 1"] = d.scim("PATCH", f"/Groups/{gid}", ops(
        {"op": "replace", "value": {"id": gid, "displayName": "All Staff"}},
        {"op": "remove", "path": f'members[value eq "{new_id}"]'},
        {"op": "add", "path": "members", "value": [{"value": new_id, "display": "new@bench.test"}]}))
    r["Okta PATCH big group: rename"] = d.scim("PATCH", f"/Groups/{gid}", ops({"op": "replace", "value": {"id": gid, "displayName": "Everyone"}}))
    r["Okta PATCH small group: rename op + add 1"] = d.scim("PATCH", f"/Groups/{few}", okta_add(few, "Few", ids[1]))
    r["Okta GET /Groups?filter=displayName eq (small)"] = d.scim("GET", f"/Groups?filter={f_few}&startIndex=1&count=100")
    r["Okta GET /Groups?filter=displayName eq (big)"] = d.scim("GET", f"/Groups?filter={f_big}&startIndex=1&count=100")
    r["Okta GET /Groups?startIndex=1&count=100 (import)"] = d.scim("GET", "/Groups?startIndex=1&count=100")
    r["Okta GET /Groups/{id} (big, wizard apps)"] = d.scim("GET", f"/Groups/{gid}")
    # Microsoft Entra ID (entra_id.json)
    r["Entra GET /Users?filter=userName eq"] = d.scim("GET", f"/Users?filter=userName+eq+%22s{third}%40bench.test%22")
    r["Entra GET /Users?filter=externalId eq (unquoted)"] = d.scim("GET", f"/Users?filter=externalId+eq+ext-s{third}")
    r["Entra GET /Users?filter=emails[type eq work].value eq"] = d.scim("GET", f"/Users?filter={f_email}")
    r["Entra PATCH /Users/{id} Replace active False"] = d.scim("PATCH", f"/Users/{u}", ops({"op": "Replace", "path": "active", "value": "False"}))
    r["Entra GET /Groups?excludedAttributes=members&filter"] = d.scim("GET", f"/Groups?excludedAttributes=members&filter=displayName+eq+%22Everyone%22")
    r["Entra GET /Groups/{id}?excludedAttributes=members"] = d.scim("GET", f"/Groups/{gid}?excludedAttributes=members")
    r["Entra PATCH big group: Remove value array"] = d.scim("PATCH", f"/Groups/{gid}", ops({"op": "Remove", "path": "members", "value": [{"$ref": None, "value": new_id}]}))
    r["Entra PATCH big group: Add 1 ($ref null)"] = d.scim("PATCH", f"/Groups/{gid}", ops({"op": "Add", "path": "members", "value": [{"$ref": None, "value": new_id}]}))
    r["Entra PATCH big group: remove members[value eq]"] = d.scim("PATCH", f"/Groups/{gid}", ops({"op": "remove", "path": f'members[value eq "{new_id}"]'}))
    r["Entra PATCH big group: Replace displayName"] = d.scim("PATCH", f"/Groups/{gid}", ops({"op": "Replace", "path": "displayName", "value": "All Staff"}))
    # PingFederate (pingfederate.json)
    r["Ping GET /Users?filter=emails eq"] = d.scim("GET", f"/Users?filter={f_emails}")
    # Deletes: a member of the big group leaves it, then goes; a small group goes.
    r["Entra DELETE /Users/{id} (member of big group)"] = d.scim("DELETE", f"/Users/{ids[2]}")
    r["Okta DELETE /Groups/{id} (2 members)"] = d.scim("DELETE", f"/Groups/{few}")
    for name, resp in r.items():
        assert resp.status_code < 300, f"{name}: {resp.status_code} {resp.text[:200]}"
        if "filter=" in name and "Groups" not in name:
            assert resp.json()["totalResults"] == 1, f"{name}: {resp.text[:300]}"
    return seed_s, members, {k: (*cost(v), len(v.content)) for k, v in r.items()}


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [100, MAX_GROUP]
    w = Worker(WEBHOOK_RETRY_SCHEDULE="0").start()
    try:
        results, members = {}, {}
        for s in sizes:
            seed_s, members[s], results[s] = measure(w, s)
            print(f"seeded {s} users in {seed_s:.1f}s ({s / seed_s:.0f} SCIM POST/s with 8 clients); big group: {members[s]} members")
        names = list(results[sizes[0]].keys())
        head = f"{'operation (as the IdP sends it)':52}" + "".join(f" | {s:>6} users, {members[s]:>6} in group: calls  read written   bytes" for s in sizes)
        print(head)
        print("-" * len(head))
        for n in names:
            print(f"{n:52}" + "".join(f" | {'':>29}{results[s][n][0]:>5} {results[s][n][1]:>5} {results[s][n][2]:>7} {results[s][n][3]:>7}" for s in sizes))
    finally:
        w.stop()


if __name__ == "__main__":
    main()
