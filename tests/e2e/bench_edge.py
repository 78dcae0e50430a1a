"""What each request costs at the largest size the Worker accepts, sent with
the directory's token and with a wrong one: wall time and D1 calls, rows
read and rows written (from the x-rollcall-d1-* headers on success, from
the Worker's JSON request log line otherwise). A refused caller should cost
one D1 call and a handful of rows whatever it sends. Run from tests/e2e:

    ../../.venv/bin/python bench_edge.py [--users 1000] [--repeat 3]

Starts its own `wrangler dev` (with EXPOSE_COST=1) and seeds users over SCIM.
"""

import argparse
import json
import secrets
import statistics
import time

from harness import Worker, cost

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MAX_MEMBERS = 1000
MAX_FILTER_BYTES = 4096


def longest_filter(names: list[str]) -> str:
    """`userName eq … or …` over known users, padded to exactly 4096 bytes."""
    terms, f = [], ""
    for n in names:
        nxt = " or ".join(terms + [f'userName eq "{n}"'])
        if len(nxt) > MAX_FILTER_BYTES - 40 or len(terms) >= 80:
            break
        terms.append(f'userName eq "{n}"')
        f = nxt
    pad = MAX_FILTER_BYTES - len(f) - len(' or userName eq ""')
    return f + ' or userName eq "' + "p" * pad + '"'


def one_mib_user(max_payload: int) -> bytes:
    body = json.dumps({"userName": f"huge-{secrets.token_hex(4)}@bench.test", "title": ""}).encode()
    return body[:-3] + b'"' + b"t" * (max_payload - len(body)) + b'"}'


def kinds(d, ids, max_results, max_payload):
    """(name, method, path, body) at the largest allowed size. Bodies are
    built fresh for each call (groups need fresh names and empty groups)."""
    names = [f"e{i}@bench.test" for i in range(len(ids))]
    f = longest_filter(names)
    assert len(f.encode()) == MAX_FILTER_BYTES

    def empty_group():
        r = d.scim("POST", "/Groups", {"displayName": f"Empty {secrets.token_hex(4)}"})
        assert r.status_code == 201, r.text[:300]
        return r.json()["id"]

    return [
        ("POST /Groups, 1000 members", lambda: ("POST", "/Groups?excludedAttributes=members",
                                                {"displayName": f"Big {secrets.token_hex(4)}", "members": [{"value": i} for i in ids[:MAX_MEMBERS]]})),
        ("PATCH /Groups/{id}, 1000 add ops", lambda: ("PATCH", f"/Groups/{empty_group()}?excludedAttributes=members",
                                                      {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": i}]} for i in ids[:MAX_MEMBERS]]})),
        ("PUT /Groups/{id}, 1000 members", lambda: ("PUT", f"/Groups/{empty_group()}?excludedAttributes=members",
                                                    {"displayName": f"Put {secrets.token_hex(4)}", "members": [{"value": i} for i in ids[:MAX_MEMBERS]]})),
        (f"GET /Users, 4096-byte filter, count={max_results}", lambda: ("GET", "/Users", None, {"filter": f, "count": max_results})),
        (f"GET /Users, count={max_results}, sorted", lambda: ("GET", "/Users", None, {"count": max_results, "sortBy": "userName"})),
        (f"POST /Users/.search, 4096-byte filter", lambda: ("POST", "/Users/.search", {"schemas": [SEARCH], "filter": f, "count": max_results})),
        (f"POST /Users, {max_payload}-byte body", lambda: ("POST", "/Users", one_mib_user(max_payload))),
    ]


def run(worker, d, make, token=None):
    spec = make()
    method, path, body = spec[:3]
    params = spec[3] if len(spec) > 3 else None

    def timed():
        t = time.perf_counter()
        r = d.scim(method, path, body, token=token, params=params)
        return r, (time.perf_counter() - t) * 1000

    (r, ms), rec = worker.logged(timed, method=method)
    if 200 <= r.status_code < 300:
        c = cost(r)
    elif rec:
        c = (rec["d1_calls"], rec["rows_read"], rec["rows_written"])
    else:
        c = (None, None, None)
    return r.status_code, ms, c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=1000, help="users in the directory (at least 1000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each request (the median time is shown)")
    args = ap.parse_args()
    assert args.users >= MAX_MEMBERS and 1 <= args.repeat <= 20
    w = Worker(WEBHOOK_RETRY_SCHEDULE="0").start()
    try:
        d = w.new_directory()
        t = time.time()
        ids = d.seed_users(args.users, "e")
        print(f"seeded {args.users} users in {time.time() - t:.1f}s")
        spc = d.scim("GET", "/ServiceProviderConfig").json()
        max_results, max_payload = spc["filter"]["maxResults"], spc["bulk"]["maxPayloadSize"]
        head = f"{'request':44} | {'token':5} | {'status':>6} | {'ms':>8} | {'calls':>5} | {'read':>6} | {'written':>7}"
        print(head)
        print("-" * len(head))
        for name, make in kinds(d, ids, max_results, max_payload):
            for label, token in (("valid", None), ("wrong", "rcs_" + secrets.token_urlsafe(32))):
                results = [run(w, d, make, token) for _ in range(args.repeat)]
                status = results[-1][0]
                ms = statistics.median(r[1] for r in results)
                calls, read, written = results[-1][2]
                print(f"{name:44} | {label:5} | {status:>6} | {ms:>8.1f} | {calls!s:>5} | {read!s:>6} | {written!s:>7}")
    finally:
        w.stop()


if __name__ == "__main__":
    main()
