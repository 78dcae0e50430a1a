"""Issue 13: scheduled pull reconciliation over OAuth2 client credentials.

The directory is provisioned by SCIM push as CyberArk does it (users with
externalId = the IdP's user id, roles as groups with externalId = the role
id), and a fake CyberArk (fake_idp.py, on 127.0.0.1) holds the same state.
Then something is removed at the IdP only, a pull run is triggered, and the
run must apply that removal, and only it, with the events an application
expects. The behaviour is the README's "Pull reconciliation" section.

Run with -s to see the event sequence and the final pull object printed."""

from __future__ import annotations

import json
import secrets
import time
import uuid

import pytest
import requests

from fake_idp import TOKEN_PATH, FakeIdP
from harness import Directory, Worker, wait_until

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ZERO = {"users_deactivated": 0, "memberships_removed": 0, "groups_deleted": 0}
# Six users, four roles; frank is in none. With pages of 2 that is 3 pages of
# users and 2 of groups.
USERS = ["alice", "bob", "carol", "dave", "eve", "frank"]
ROLES = {"Engineering": ["alice", "bob", "carol"], "Sales": ["dave"], "Support": ["eve"], "Ops": ["alice"]}


@pytest.fixture
def idps():
    made: list[FakeIdP] = []

    def make(**kw) -> FakeIdP:
        made.append(FakeIdP(**kw))
        return made[-1]

    yield make
    for i in made:
        i.close()


class Setup:
    """A directory and a fake IdP holding the same users and roles:
    `users[name]` / `groups[name]` = (idp id, rollcall id)."""

    def __init__(self, worker: Worker, directory: Directory, idp: FakeIdP):
        self.worker, self.dir, self.idp = worker, directory, idp
        self.users: dict[str, tuple[str, str]] = {}
        self.groups: dict[str, tuple[str, str]] = {}
        for name in USERS:
            iid = idp.add_user(f"{name}@acme.test")
            r = directory.scim("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": f"{name}@acme.test", "externalId": iid,
                                                 "name": {"givenName": name.title(), "familyName": "Test"}, "active": True})
            assert r.status_code == 201, r.text
            self.users[name] = (iid, r.json()["id"])
        for role, members in ROLES.items():
            gid = idp.add_group(role, [self.users[m][0] for m in members])
            r = directory.scim("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": role, "externalId": gid,
                                                  "members": [{"value": self.users[m][1]} for m in members]})
            assert r.status_code == 201, r.text
            self.groups[role] = (gid, r.json()["id"])

    def configure(self, **over) -> dict:
        body = {"scim_url": self.idp.scim_url, "token_url": self.idp.token_url, "client_id": self.idp.client_id,
                "client_secret": self.idp.client_secret, "scope": self.idp.scope, **over}
        r = self.worker.api("PUT", f"/v1/directories/{self.dir.id}/pull", body)
        assert r.status_code == 200, r.text
        return r.json()

    def run(self, path: str | None = None, timeout: float = 60) -> tuple[dict, list[dict]]:
        """Triggers a run, waits (bounded) until it is the last run; returns
        the pull object and the directory's events written meanwhile."""
        before = self.dir.events()
        r = self.worker.api("POST", path or f"/v1/directories/{self.dir.id}/pull/run")
        assert r.status_code == 202, r.text
        assert r.json()["object"] == "directory_pull" and r.json()["directory_id"] == self.dir.id, r.text
        run = r.json()["current_run"]
        assert run and run["id"].startswith("pullrun_") and run["state"] in ("queued", "running"), r.text
        assert run["trigger"] == "api", run
        pull = wait_until(lambda: (lambda p: p if (p["last_run"] or {}).get("id") == run["id"] else None)(self.pull()),
                          timeout, f"pull run {run['id']} to end", self.worker, step=0.5, detail=lambda: json.dumps(self.pull()))
        assert pull["current_run"] is None or pull["current_run"]["id"] != run["id"], pull
        last = pull["last_run"]
        assert last["state"] in ("succeeded", "failed") and last["ended_at"], last
        return pull, self.dir.events(**({"after": before[-1]["id"]} if before else {}))

    def pull(self) -> dict:
        r = self.worker.api("GET", f"/v1/directories/{self.dir.id}/pull")
        assert r.status_code == 200, r.text
        return r.json()

    def name_of(self, rollcall_id: str) -> str:
        names = {rid: n for n, (_, rid) in [*self.users.items(), *self.groups.items()]}
        return names.get(rollcall_id, rollcall_id)


def shown(s: Setup, events: list[dict]) -> list[tuple]:
    """(type, user, group, sequence) of each event, by name."""
    def ids(e):
        d = e["data"]
        if "user" in d:
            return d["user"]["id"], d["group"]["id"]
        return (d["id"], None) if e["event"].startswith("dsync.user.") else (None, d["id"])
    return [(e["event"], *(s.name_of(i) if i else None for i in ids(e)), e["sequence"]) for e in events]


def succeeded(pull: dict, **changes) -> dict:
    """The last run succeeded with these changes (a tuple: any of these), the others 0."""
    last = pull["last_run"]
    assert last["state"] == "succeeded" and last["error"] is None, last
    want = {**ZERO, **changes}
    assert set(last["changes"]) == set(want), last
    for k, v in want.items():
        assert last["changes"][k] in (v if isinstance(v, tuple) else (v,)), (k, last)
    return last


def failed(pull: dict, code: str) -> dict:
    last = pull["last_run"]
    assert last["state"] == "failed", last
    assert last["error"]["code"] == code and last["error"]["message"], last
    assert last["changes"] in (ZERO, None), f"a failed run applied something: {last}"
    return last


def filtered(r: dict, attr: str, value: str) -> bool:
    """A request of the IdP was a lookup of `attr eq "value"` (any case)."""
    f = r["query"].get("filter", "").lower()
    return f.strip().startswith(attr) and f'"{value}"' in f


def consecutive(events: list[dict]) -> None:
    seqs = [e["sequence"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


# -- what a run applies ----------------------------------------------------------


def test_a_role_removed_at_the_idp_deletes_the_group_after_removing_each_member(worker, directory, idps):
    idp = idps(page_size=2, token_uses=3)
    s = Setup(worker, directory, idp)
    gid, eng = s.groups["Engineering"]
    assert s.configure()["last_run"] is None
    idp.remove_group(gid)

    pull, events = s.run()
    print("\nevents of the run (type, user, group, sequence):")
    for e in shown(s, events):
        print("  ", e)
    print("final pull object:\n" + json.dumps(pull, indent=2))

    # The contract leaves open whether a group's deletion counts its members as removed memberships.
    last = succeeded(pull, groups_deleted=1, memberships_removed=(0, 3))
    assert (last["users_read"], last["groups_read"]) == (6, 3), last
    assert last["pages_read"] >= 5, last
    members = {s.users[m][1] for m in ROLES["Engineering"]}
    assert [e["event"] for e in events] == ["dsync.group.user_removed"] * 3 + ["dsync.group.deleted"], shown(s, events)
    assert {e["data"]["user"]["id"] for e in events[:3]} == members
    assert all(e["data"]["group"]["id"] == eng for e in events[:3]) and events[3]["data"]["id"] == eng
    consecutive(events)
    assert directory.scim("GET", f"/Groups/{eng}").status_code == 404
    assert all(directory.scim("GET", f"/Users/{rid}").json()["active"] for rid in members)

    # Paged as the IdP answered (2 a page, not the 100 asked), on a token renewed mid-run
    # (a token is good for 3 requests; a page refused with 401 was read again).
    assert sorted(set(idp.listed("/scim/Users"))) == [1, 3, 5], idp.listed("/scim/Users")
    assert sorted(set(idp.listed("/scim/Groups"))) == [1, 3], idp.listed("/scim/Groups")
    assert idp.tokens_issued > 1, idp.requests
    assert all(r["auth"] == "bearer" for r in idp.api_requests())
    assert {r["auth"] for r in idp.token_requests()} == {"basic"}
    # The removal was confirmed at the IdP first.
    confirm = [r for r in idp.api_requests() if r["path"] == f"/scim/Groups/{gid}"
               or filtered(r, "displayname", "engineering")]
    assert confirm, "the group's removal was not confirmed at the IdP"


def test_a_run_in_sync_changes_nothing(worker, directory, idps):
    idp = idps(page_size=2)
    s = Setup(worker, directory, idp)
    # Matched by name alone, in another case: pushed without externalId.
    iid = idp.add_user("Grace@Acme.test")
    r = directory.scim("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "grace@acme.test", "active": True})
    assert r.status_code == 201, r.text
    idp.add_group("Night Shift", [iid])
    r = directory.scim("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "night shift", "members": [{"value": r.json()["id"]}]})
    assert r.status_code == 201, r.text
    s.configure()
    pull, events = s.run()
    last = succeeded(pull)
    assert (last["users_read"], last["groups_read"]) == (7, 5), last
    assert events == [], shown(s, events)


def test_a_member_removed_from_a_role_is_removed_from_the_group_only(worker, directory, idps):
    idp = idps(page_size=2)
    s = Setup(worker, directory, idp)
    s.configure()
    gid, eng = s.groups["Engineering"]
    idp.remove_member(gid, s.users["bob"][0])
    pull, events = s.run()
    succeeded(pull, memberships_removed=1)
    assert [(e["event"], e["data"]["user"]["id"], e["data"]["group"]["id"]) for e in events] == \
        [("dsync.group.user_removed", s.users["bob"][1], eng)], shown(s, events)
    g = directory.scim("GET", f"/Groups/{eng}")
    assert g.status_code == 200 and {m["value"] for m in g.json()["members"]} == {s.users["alice"][1], s.users["carol"][1]}
    assert directory.scim("GET", f"/Users/{s.users['bob'][1]}").json()["active"] is True


def test_a_user_gone_at_the_idp_is_deactivated(worker, directory, idps):
    idp = idps(page_size=2)
    s = Setup(worker, directory, idp)
    s.configure()
    iid, frank = s.users["frank"]  # in no role: only the user changes
    idp.remove_user(iid)
    pull, events = s.run()
    succeeded(pull, users_deactivated=1)
    assert [(e["event"], e["data"]["id"], e["data"]["state"]) for e in events] == \
        [("dsync.user.updated", frank, "inactive")], shown(s, events)
    assert directory.scim("GET", f"/Users/{frank}").json()["active"] is False
    assert any(filtered(r, "username", "frank@acme.test") for r in idp.api_requests()), "the removal was not confirmed at the IdP"


def test_a_user_disabled_at_the_idp_is_deactivated_and_keeps_its_groups(worker, directory, idps):
    """Listed with active false: access has ended as surely as when the user
    is gone; its role memberships are the IdP's to end, and here they stay."""
    idp = idps(page_size=2)
    s = Setup(worker, directory, idp)
    s.configure()
    iid, eve = s.users["eve"]  # in Support
    with idp.lock:
        idp.users[iid]["active"] = False
    pull, events = s.run()
    succeeded(pull, users_deactivated=1)
    assert [(e["event"], e["data"]["id"], e["data"]["state"]) for e in events] == \
        [("dsync.user.updated", eve, "inactive")], shown(s, events)
    support = directory.scim("GET", f"/Groups/{s.groups['Support'][1]}").json()
    assert [m["value"] for m in support["members"]] == [eve]
    pull, events = s.run()
    succeeded(pull)
    assert events == [], shown(s, events)


@pytest.mark.parametrize("failing", ["/scim/Users", "/scim/Groups"])
def test_an_idp_failing_mid_run_applies_nothing_and_the_next_run_applies_it_once(worker, directory, idps, failing):
    idp = idps(page_size=2)
    s = Setup(worker, directory, idp)
    s.configure()
    idp.remove_group(s.groups["Sales"][0])
    idp.remove_member(s.groups["Engineering"][0], s.users["bob"][0])
    idp.fail(failing, 500, start_index=3)  # the second page, once (users: 3 pages; roles left: 2)

    pull, events = s.run()
    failed(pull, "idp_error")
    assert events == [], shown(s, events)
    assert idp.listed(failing, 500) == [3]

    pull, events = s.run()
    succeeded(pull, memberships_removed=(1, 2), groups_deleted=1)
    eng, sales = s.groups["Engineering"][1], s.groups["Sales"][1]
    got = [(e["event"], e["data"]["user"]["id"] if "user" in e["data"] else None, e["data"]["group"]["id"] if "group" in e["data"] else e["data"]["id"]) for e in events]
    assert sorted(got, key=repr) == sorted([("dsync.group.user_removed", s.users["bob"][1], eng),
                                            ("dsync.group.user_removed", s.users["dave"][1], sales),
                                            ("dsync.group.deleted", None, sales)], key=repr), shown(s, events)
    i = got.index(("dsync.group.deleted", None, sales))
    assert got[i - 1] == ("dsync.group.user_removed", s.users["dave"][1], sales), shown(s, events)
    consecutive(events)

    pull, events = s.run()
    succeeded(pull)
    assert events == [], shown(s, events)


# -- errors in plain words ----------------------------------------------------------


def test_a_wrong_client_secret_is_token_refused(worker, directory, idps):
    idp = idps(page_size=2)
    s = Setup(worker, directory, idp)
    idp.remove_group(s.groups["Sales"][0])
    wrong = "wrong-" + secrets.token_urlsafe(16)
    s.configure(client_secret=wrong)
    pull, events = s.run()
    last = failed(pull, "token_refused")
    msg = last["error"]["message"]
    assert "token endpoint" in msg.lower() or idp.token_url in msg, msg
    assert wrong not in json.dumps(pull) and idp.client_secret not in json.dumps(pull)
    assert idp.token_requests() and idp.tokens_issued == 0 and idp.api_requests() == []
    assert events == []


@pytest.mark.parametrize("how", ["the SCIM API answers 403", "the token endpoint says invalid_scope"])
def test_a_missing_scope_is_scope_missing(worker, directory, idps, how):
    idp = idps(page_size=2)
    s = Setup(worker, directory, idp)
    idp.remove_group(s.groups["Sales"][0])
    if how.startswith("the SCIM"):
        idp.scope_missing = True
        s.configure()
    else:
        s.configure(scope="openid")
    pull, events = s.run()
    failed(pull, "scope_missing")
    assert events == []


@pytest.mark.parametrize("accepts, token_auth, ok", [("body", "body", True), ("basic", "basic", True), ("body", "basic", False)])
def test_token_auth_basic_or_body(worker, directory, idps, accepts, token_auth, ok):
    idp = idps(page_size=2, client_auth=accepts)
    s = Setup(worker, directory, idp)
    assert s.configure(token_auth=token_auth)["token_auth"] == token_auth
    idp.remove_member(s.groups["Engineering"][0], s.users["carol"][0])
    pull, events = s.run()
    assert {r["auth"] for r in idp.token_requests()} == {token_auth}
    if ok:
        succeeded(pull, memberships_removed=1)
        assert [e["event"] for e in events] == ["dsync.group.user_removed"]
    else:
        failed(pull, "token_refused")
        assert events == []


# -- triggers -----------------------------------------------------------------------


def test_the_workos_sync_route_starts_a_run(worker, directory, idps):
    idp = idps(page_size=2)
    s = Setup(worker, directory, idp)
    s.configure()
    idp.remove_member(s.groups["Ops"][0], s.users["alice"][0])
    pull, events = s.run(path=f"/directories/{directory.id}/sync")
    succeeded(pull, memberships_removed=1)
    assert [(e["event"], e["data"]["user"]["id"]) for e in events] == [("dsync.group.user_removed", s.users["alice"][1])]
    r = worker.api("POST", f"/directories/directory_{uuid.uuid4().hex}/sync")
    assert r.status_code == 404 and r.json()["code"] == "entity_not_found", r.text


def test_a_run_in_progress_is_not_started_twice(worker, directory, idps):
    idp = idps(page_size=2, delay=0.4)  # a run of several seconds
    s = Setup(worker, directory, idp)
    s.configure()
    path = f"/v1/directories/{directory.id}/pull/run"
    first, second = worker.api("POST", path), worker.api("POST", path)
    assert (first.status_code, second.status_code) == (202, 202), (first.text, second.text)
    rid = first.json()["current_run"]["id"]
    assert second.json()["current_run"]["id"] == rid
    pull = wait_until(lambda: (lambda p: p if (p["last_run"] or {}).get("id") == rid else None)(s.pull()), 60,
                      "the run to end", worker, step=0.5)
    succeeded(pull)
    time.sleep(3)  # a second run, had one been queued, would have started by now
    assert s.pull()["last_run"]["id"] == rid and s.pull()["current_run"] is None
    assert idp.listed("/scim/Users").count(1) == 1, idp.listed("/scim/Users")


# -- the settings -------------------------------------------------------------------


def test_the_client_secret_is_never_shown_nor_logged(worker, directory, idps):
    idp = idps(page_size=2)
    s = Setup(worker, directory, idp)
    secret = idp.client_secret
    put = worker.api("PUT", f"/v1/directories/{directory.id}/pull", {
        "scim_url": idp.scim_url, "token_url": idp.token_url, "client_id": idp.client_id, "client_secret": secret, "scope": "scim"})
    assert put.status_code == 200 and secret not in put.text and "client_secret" not in put.json(), put.text
    got = worker.api("GET", f"/v1/directories/{directory.id}/pull")
    assert got.status_code == 200 and secret not in got.text and "client_secret" not in got.json(), got.text
    assert got.json()["client_id"] == idp.client_id and got.json()["scope"] == "scim"
    # A later PUT without the secret keeps it: the next run still gets a token.
    again = worker.api("PUT", f"/v1/directories/{directory.id}/pull", {
        "scim_url": idp.scim_url, "token_url": idp.token_url, "client_id": idp.client_id, "scope": "scim", "interval_minutes": 30})
    assert again.status_code == 200 and again.json()["interval_minutes"] == 30 and secret not in again.text, again.text
    pull, _ = s.run()
    succeeded(pull)
    assert idp.tokens_issued >= 1
    assert secret not in worker.logs(), "the client secret is in the Worker's log"


def test_pull_settings_are_validated(worker, directory, idps):
    idp = idps()
    base = f"/v1/directories/{directory.id}/pull"
    good = {"scim_url": idp.scim_url, "token_url": idp.token_url, "client_id": "c", "client_secret": "s"}
    assert worker.api("GET", base).status_code == 404
    assert worker.api("POST", base + "/run").status_code == 404
    for bad in [{k: v for k, v in good.items() if k != "scim_url"}, {**good, "scim_url": "not a url"},
                {**good, "token_url": "ftp://127.0.0.1/token"}, {**good, "interval_minutes": 1},
                {**good, "interval_minutes": 10081}, {**good, "token_auth": "digest"},
                {k: v for k, v in good.items() if k != "client_secret"}, {**good, "client_id": ""}]:
        r = worker.api("PUT", base, bad)
        assert r.status_code == 422 and r.json()["error"]["code"] and r.json()["error"]["message"], (bad, r.text)
    r = worker.api("PUT", base, data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert worker.api("GET", base).status_code == 404, "an invalid PUT stored something"

    r = worker.api("PUT", base, good)
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["object"], p["directory_id"], p["scim_url"], p["token_url"]) == ("directory_pull", directory.id, idp.scim_url, idp.token_url)
    assert (p["token_auth"], p["interval_minutes"], p["scope"], p["current_run"], p["last_run"]) == ("basic", 60, None, None, None)
    assert worker.api("GET", base).json() == p

    assert worker.api("DELETE", base).status_code == 204
    assert worker.api("GET", base).status_code == 404
    assert worker.api("DELETE", base).status_code == 404

    unknown = f"/v1/directories/directory_{uuid.uuid4().hex}/pull"
    assert worker.api("GET", unknown).status_code == 404
    assert worker.api("PUT", unknown, good).status_code == 404
    assert worker.api("POST", unknown + "/run").status_code == 404
    for method in ("GET", "PUT", "DELETE"):
        r = requests.request(method, worker.url + base, json=good, timeout=10)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", (method, r.text)
    assert requests.post(worker.url + base + "/run", timeout=10).status_code == 401
    assert requests.post(worker.url + f"/directories/{directory.id}/sync", timeout=10).status_code == 401
