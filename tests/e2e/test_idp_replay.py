"""IdP replay against the real Worker: each tests/fixtures/idp/<idp>.json is
the request sequence a real identity provider sends (docs/IDP-QUIRKS.md § Required server behaviour), with the
expected answers, end state and event log. tests/idp_replay.rs replays the
same files natively with the same logic; the format is described in
tests/fixtures/idp/README.md."""

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "idp"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))


def subst(v, vars):
    """`${name}` in every string of `v` replaced by a saved value."""
    if isinstance(v, str):
        def one(m):
            assert m.group(1) in vars, f"unknown variable ${{{m.group(1)}}} in {v!r}"
            return vars[m.group(1)]
        return re.sub(r"\$\{([^}]*)\}", one, v)
    if isinstance(v, list):
        return [subst(x, vars) for x in v]
    if isinstance(v, dict):
        return {subst(k, vars): subst(x, vars) for k, x in v.items()}
    return v


def lookup(v, path):
    """A dotted path into a JSON value; numeric segments index arrays."""
    for seg in path.split("."):
        if isinstance(v, list):
            v = v[int(seg)] if seg.isdigit() and int(seg) < len(v) else None
        elif isinstance(v, dict):
            v = v.get(seg)
        else:
            return None
    return v


MISSING = object()


def unassigned(a):
    return a is MISSING or a is None or a == []


def check(exp, act, at):
    """Subset match (see the README): objects by their expected keys, arrays
    unordered with equal length, "$any" / "$absent", null or [] also match an
    absent attribute, numbers by value."""
    got = "<absent>" if act is MISSING else json.dumps(act)
    err = f"at {at}: expected {json.dumps(exp)}, got {got}"
    if exp == "$any":
        assert not unassigned(act), err
    elif exp is None or exp == []:
        assert unassigned(act), err
    elif isinstance(exp, dict):
        assert isinstance(act, dict), err
        for k, ev in exp.items():
            if ev == "$absent":
                assert k not in act, f"at {at}.{k}: expected absent, got {json.dumps(act[k])}"
            else:
                check(ev, act.get(k, MISSING), f"{at}.{k}")
    elif isinstance(exp, list):
        assert isinstance(act, list) and len(act) == len(exp), err
        used = [False] * len(act)
        for i, ev in enumerate(exp):
            for j, av in enumerate(act):
                if not used[j] and matches(ev, av):
                    used[j] = True
                    break
            else:
                raise AssertionError(f"at {at}[{i}]: no element matches {json.dumps(ev)} in {json.dumps(act)}")
    elif isinstance(exp, bool) or isinstance(act, bool):
        assert isinstance(exp, bool) and isinstance(act, bool) and exp == act, err
    elif isinstance(exp, (int, float)):
        assert isinstance(act, (int, float)) and float(exp) == float(act), err
    else:
        assert act == exp, err


def matches(exp, act):
    try:
        check(exp, act, "")
        return True
    except AssertionError:
        return False


class Replay:
    def __init__(self, worker, directory, name):
        self.worker, self.dir, self.name = worker, directory, name
        self.vars = {"directory_id": directory.id, "organization_id": directory.org}

    def send(self, target, method, path, headers=None, body=None):
        if target == "api":
            return self.worker.api(method, path, None if body is None else json.loads(body))
        return self.dir.scim(method, path, body, headers=dict(headers or {}))

    def get(self, target, path):
        r = self.send(target, "GET", subst(path, self.vars))
        return r, (r.json() if r.content else None)

    def step(self, n, step):
        if "parallel" in step:
            # Sent at once, as Okta does with large changes.
            with ThreadPoolExecutor(len(step["parallel"])) as pool:
                for f in [pool.submit(self.step_one, f"{n}.{i}", sub) for i, sub in enumerate(step["parallel"], 1)]:
                    f.result()
        else:
            self.step_one(n, step)

    def step_one(self, n, step):
        label = f"[{self.name}] step {n} {step.get('name', '')!r}"
        method, path = step["method"], subst(step["path"], self.vars)
        headers = subst(step.get("headers", {}), self.vars)
        body = None
        if "body" in step:
            body = json.dumps(subst(step["body"], self.vars)).encode()
        elif "raw_body" in step:
            body = subst(step["raw_body"], self.vars).encode()
        r = self.send(step.get("target", "scim"), method, path, headers, body)
        rbody = r.json() if r.content else None
        got = f"{method} {path} -> {r.status_code} {r.text}"
        exp = step["expect"]
        assert r.status_code == exp["status"], f"{label}: expected status {exp['status']}, got {got}"
        for var, p in exp.get("save", {}).items():
            v = lookup(rbody, p)
            assert isinstance(v, str), f"{label}: nothing to save at {p} in {got}"
            self.vars[var] = v
        for k, v in exp.get("headers", {}).items():
            want, have = subst(v, self.vars), r.headers.get(k)
            assert have is not None and want in have, f"{label}: header {k} should contain {want!r}, got {have!r} ({got})"
        if "body" in exp:
            try:
                check(subst(exp["body"], self.vars), rbody, "body")
            except AssertionError as e:
                raise AssertionError(f"{label}: {e}\n  ({got})") from None

    def end_state(self, end):
        """Every expected resource read back (SCIM and the app's view), the
        deleted ones 404, and the lists hold exactly the expected ids."""
        for kind, api, scim_path in (("users", "directory_users", "/Users"), ("groups", "directory_groups", "/Groups")):
            ids = set()
            for item in end.get(kind, []):
                item = subst(item, self.vars)
                rid = item["id"]
                r, body = self.get("scim", f"{scim_path}/{rid}")
                assert r.status_code == 200, f"[{self.name}] end state GET {scim_path}/{rid}: status {r.status_code}"
                if "scim" in item:
                    check(item["scim"], body, f"end state {scim_path}/{rid}")
                if "members" in item:
                    have = {m["value"] for m in body.get("members", [])}
                    assert have == set(item["members"]), f"[{self.name}] end state members of {rid}: expected {item['members']}, got {have}"
                if "view" in item:
                    r, view = self.get("api", f"/v1/{api}/{rid}")
                    check(item["view"], view, f"end state /v1/{api}/{rid} (status {r.status_code})")
                ids.add(rid)
            _, listed = self.get("scim", f"{scim_path}?startIndex=1&count=100")
            have = {x["id"] for x in listed.get("Resources", [])}
            assert have == ids and listed["totalResults"] == len(ids), f"[{self.name}] end state list {scim_path}: expected {ids}, got {listed}"
            _, viewed = self.get("api", f"/v1/{api}?directory_id=${{directory_id}}&limit=100")
            have = {x["id"] for x in viewed["data"]}
            assert have == ids, f"[{self.name}] end state /v1/{api}: expected {ids}, got {viewed}"
        for p in end.get("absent", []):
            r, body = self.get("scim", p)
            assert r.status_code == 404, f"[{self.name}] end state GET {p}: expected 404, got {r.status_code} {body}"

    def events(self, expected):
        """The whole event log: events in this order (an `unordered` entry
        matches the next events in any order), `data` subsets, gapless sequence."""
        got = self.dir.events()

        def one(e):
            return {"event": e} if isinstance(e, str) else subst(e, self.vars)

        at, want, error = 0, [], None
        for e in expected:
            if isinstance(e, dict) and "unordered" in e:
                exp = [one(x) for x in e["unordered"]]
                actual, n = (got[at:at + len(exp)] if at + len(exp) <= len(got) else MISSING), len(exp)
            else:
                exp = one(e)
                actual, n = (got[at] if at < len(got) else MISSING), 1
            want += [x["event"] for x in (exp if isinstance(exp, list) else [exp])]
            if error is None:
                try:
                    check(exp, actual, f"events[{at}]")
                except AssertionError as err:
                    error = str(err)
            at += n
        if error is None and at != len(got):
            error = f"expected {at} events, got {len(got)}"
        names = [g["event"] for g in got]
        assert error is None, f"[{self.name}] events: {error}\n  expected {want}\n  got      {names}"
        for i, g in enumerate(got):
            check(i + 1, g.get("sequence", MISSING), f"events[{i}].sequence")


@pytest.mark.parametrize("name", NAMES)
def test_idp_replay(worker, name):
    fx = json.loads((FIXTURES / f"{name}.json").read_text())
    run = Replay(worker, worker.new_directory(fx["provider"], name=f"{fx['idp']} replay"), name)
    for n, step in enumerate(fx["steps"], 1):
        run.step(n, step)
    run.end_state(fx["end_state"])
    run.events(fx["events"])
