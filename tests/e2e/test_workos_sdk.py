"""The official WorkOS Python SDK (PyPI `workos`, pinned in requirements.txt)
against Rollcall under `wrangler dev`, configured with nothing but the base
URL and the admin key (issue 11: an application moves from WorkOS by changing
the SDK's base URL). A directory is seeded over SCIM, as an IdP would, and
every read goes through the SDK: its own request building (paths, query
parameters, the `order=desc` it sends by default), its own models (which
raise on a missing required field) and its own error classes.

The Node SDK runs the same calls from `workos_sdk.mjs` (test at the end)."""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import subprocess
import time
from datetime import datetime, timezone

import pytest
import requests
from workos import WorkOSClient
from workos._errors import AuthenticationError, NotFoundError
from workos.common.models.dsync_deleted import DsyncDeleted
from workos.common.models.dsync_group_user_added import DsyncGroupUserAdded
from workos.common.models.dsync_user_created import DsyncUserCreated

from harness import ROOT, Worker

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
N_USERS = 5
# Never more pages than this from any list: every loop below is bounded.
MAX_PAGES = 20


def sdk(worker: Worker, api_key: str | None = None) -> WorkOSClient:
    """The client exactly as an application configures it after moving: only
    `base_url` differs from a WorkOS set-up (client_id is any value; the
    Directory Sync and Events calls do not use it)."""
    return WorkOSClient(api_key=api_key or worker.admin_key, client_id="client_rollcall", base_url=worker.url)


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pages(fetch, max_pages: int = MAX_PAGES) -> list[list]:
    """Follows `after` cursors by hand: `fetch(after)` returns an SDK page.
    Returns each page's items, so tests can check page sizes too."""
    out, after = [], None
    for _ in range(max_pages):
        page = fetch(after)
        out.append(list(page.data))
        if not page.has_more():
            return out
        after = page.after
    raise AssertionError(f"more than {max_pages} pages")


class Seeded:
    """What the module's fixture pushed over SCIM, in creation order."""

    org: str
    directory: str
    other_directory: str
    foreign_directory: str
    users: list[dict]          # the SCIM answers, in creation order
    groups: dict[str, dict]    # name -> SCIM answer
    members: dict[str, list[str]]  # group name -> user ids
    started: datetime
    finished: datetime


@pytest.fixture(scope="module")
def seeded(worker) -> Seeded:
    s = Seeded()
    s.started = datetime.now(timezone.utc)
    time.sleep(0.05)
    d = worker.new_directory(provider="okta", name="Acme Okta")
    s.org, s.directory = d.org, d.id
    # A second directory of the same organisation, never linked, and one of
    # another organisation: the organisation filter must keep the first and
    # drop the second.
    r = worker.api("POST", "/v1/directories", {"organization_id": d.org, "name": "Acme Entra", "provider": "entra_id"})
    assert r.status_code == 201, r.text
    s.other_directory = r.json()["id"]
    s.foreign_directory = worker.new_directory(name="Someone else's").id

    s.users = []
    for i in range(N_USERS):
        body = {
            "schemas": [CORE_USER, ENTERPRISE],
            "userName": f"user{i}@acme.test",
            "externalId": f"okta-u{i}",
            "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
            "emails": [{"value": f"user{i}@acme.test", "type": "work", "primary": True}],
            "title": f"Engineer {i}",
            "active": True,
            ENTERPRISE: {"department": "R&D" if i < 3 else "Sales", "employeeNumber": str(100 + i),
                         **({"manager": {"value": "okta-u0", "displayName": "Given0 Family0"}} if i else {})},
        }
        r = d.scim("POST", "/Users", body)
        assert r.status_code == 201, r.text
        s.users.append(r.json())
        # Ids are UUIDv7: a new millisecond keeps creation order and id order one.
        time.sleep(0.01)
    u = [x["id"] for x in s.users]
    s.members = {"Engineering": [u[0], u[1], u[2]], "Sales": [u[2], u[3]]}
    s.groups = {}
    for name, ext in (("Engineering", "okta-g-eng"), ("Sales", "okta-g-sales")):
        r = d.scim("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": name, "externalId": ext,
                                       "members": [{"value": m} for m in s.members[name]]})
        assert r.status_code == 201, r.text
        s.groups[name] = r.json()
        time.sleep(0.01)
    time.sleep(0.05)
    s.finished = datetime.now(timezone.utc)
    return s


# -- directories ---------------------------------------------------------

def test_list_directories_of_an_organization(worker, seeded):
    c = sdk(worker)
    page = c.directory_sync.list_directories(organization_id=seeded.org)
    # The SDK asks for order=desc by default: newest first.
    assert [x.id for x in page.data] == [seeded.other_directory, seeded.directory]
    assert page.after is None and not page.has_more()
    assert all(x.organization_id == seeded.org for x in page.data)
    okta = page.data[1]
    assert okta.object == "directory" and okta.name == "Acme Okta"
    assert okta.state == "linked"  # the IdP has made authenticated SCIM requests
    # Oldest first when asked; and the name search within the organisation.
    asc = c.directory_sync.list_directories(organization_id=seeded.org, order="asc")
    assert [x.id for x in asc.data] == [seeded.directory, seeded.other_directory]
    found = c.directory_sync.list_directories(organization_id=seeded.org, search="Entra")
    assert [x.id for x in found.data] == [seeded.other_directory]


def test_get_directory(worker, seeded, monkeypatch):
    d = sdk(worker).directory_sync.get_directory(seeded.directory)
    # The same with no code at all: the environment variables the SDK reads.
    monkeypatch.setenv("WORKOS_API_KEY", worker.admin_key)
    monkeypatch.setenv("WORKOS_BASE_URL", worker.url + "/")
    assert WorkOSClient().directory_sync.get_directory(seeded.directory).id == seeded.directory
    assert (d.id, d.organization_id, d.name, d.state) == (seeded.directory, seeded.org, "Acme Okta", "linked")
    # WorkOS's names for the provider, as applications compare them.
    assert d.type == "okta scim v2.0"
    other = sdk(worker).directory_sync.get_directory(seeded.other_directory)
    assert other.type == "azure scim v2.0" and other.name == "Acme Entra"
    assert d.created_at <= other.created_at


def test_get_organization(worker, seeded):
    c = sdk(worker)
    o = c.organizations.get_organization(seeded.org)
    assert o.id == seeded.org and o.name.startswith("Org ")
    assert o.domains == [] and o.external_id is None
    # Its directories' organization_id is this organisation.
    assert {d.organization_id for d in c.directory_sync.list_directories(organization_id=o.id).data} == {o.id}


def test_get_organization_by_an_external_id_the_sdk_must_encode(worker):
    """The SDK percent-encodes the external id in the path; Rollcall decodes it."""
    c = sdk(worker)
    external = f"crm/{secrets.token_hex(4)} EU ü"
    made = c.organizations.create_organization(name="Encoded Ltd", external_id=external)
    assert c.organizations.get_organization_by_external_id(external_id=external).id == made.id


# -- users -----------------------------------------------------------------

def test_page_users_of_a_directory_two_at_a_time(worker, seeded):
    c = sdk(worker)
    ids = [u["id"] for u in seeded.users]
    # The SDK's own auto-pagination, from a first page of 2, newest first.
    first = c.directory_sync.list_users(directory=seeded.directory, limit=2)
    assert [u.id for u in first.data] == ids[::-1][:2]
    assert first.has_more()
    got = [u.id for u in itertools.islice(first.auto_paging_iter(), 10 * N_USERS)]
    assert got == ids[::-1]
    # By hand with the `after` cursor, oldest first: pages of 2, 2, 1.
    asc = pages(lambda after: c.directory_sync.list_users(directory=seeded.directory, limit=2, order="asc", after=after))
    assert [len(p) for p in asc] == [2, 2, 1]
    assert [u.id for p in asc for u in p] == ids
    assert all(u.directory_id == seeded.directory and u.organization_id == seeded.org for p in asc for u in p)


def test_page_users_of_a_group_two_at_a_time(worker, seeded):
    c = sdk(worker)
    eng = seeded.groups["Engineering"]["id"]
    asc = pages(lambda after: c.directory_sync.list_users(group=eng, limit=2, order="asc", after=after))
    assert [len(p) for p in asc] == [2, 1]
    assert [u.id for p in asc for u in p] == seeded.members["Engineering"]
    first = c.directory_sync.list_users(group=eng, limit=2)
    got = [u.id for u in itertools.islice(first.auto_paging_iter(), 10 * N_USERS)]
    assert got == seeded.members["Engineering"][::-1]
    sales = c.directory_sync.list_users(group=seeded.groups["Sales"]["id"], order="asc")
    assert [u.id for u in sales.data] == seeded.members["Sales"] and not sales.has_more()


def test_get_user(worker, seeded):
    src = seeded.users[2]
    u = sdk(worker).directory_sync.get_user(src["id"])
    assert (u.id, u.directory_id, u.organization_id) == (src["id"], seeded.directory, seeded.org)
    assert u.idp_id == "okta-u2"
    assert (u.email, u.first_name, u.last_name, u.state) == ("user2@acme.test", "Given2", "Family2", "active")
    assert u.custom_attributes["department"] == "R&D"
    assert u.custom_attributes["employee_number"] == "102"
    assert u.custom_attributes["manager_id"] == "okta-u0"
    assert u.custom_attributes["job_title"] == "Engineer 2"
    assert u.created_at <= u.updated_at


# -- groups ----------------------------------------------------------------

def test_groups_of_a_directory_and_of_a_user(worker, seeded):
    c = sdk(worker)
    eng, sales = seeded.groups["Engineering"]["id"], seeded.groups["Sales"]["id"]
    page = c.directory_sync.list_groups(directory=seeded.directory, order="asc")
    assert [(g.id, g.name, g.idp_id) for g in page.data] == [(eng, "Engineering", "okta-g-eng"), (sales, "Sales", "okta-g-sales")]
    assert all(g.directory_id == seeded.directory and g.organization_id == seeded.org for g in page.data)
    desc = c.directory_sync.list_groups(directory=seeded.directory, limit=1)
    assert [g.id for g in itertools.islice(desc.auto_paging_iter(), 10)] == [sales, eng]
    u = [x["id"] for x in seeded.users]
    assert [g.id for g in c.directory_sync.list_groups(user=u[2], order="asc").data] == [eng, sales]
    assert [g.id for g in c.directory_sync.list_groups(user=u[3]).data] == [sales]
    assert c.directory_sync.list_groups(user=u[4]).data == []
    g = c.directory_sync.get_group(sales)
    assert (g.id, g.name, g.idp_id, g.directory_id) == (sales, "Sales", "okta-g-sales", seeded.directory)


# -- events ----------------------------------------------------------------

def test_events_of_a_type_after_a_cursor(worker, seeded):
    c = sdk(worker)
    ids = [u["id"] for u in seeded.users]

    def created(after=None, limit=2):
        return c.events.list_events(events=["dsync.user.created"], organization_id=seeded.org,
                                    order="asc", limit=limit, after=after)

    got = pages(lambda after: created(after))
    assert [len(p) for p in got] == [2, 2, 1]
    events = [e for p in got for e in p]
    assert all(isinstance(e, DsyncUserCreated) for e in events), [type(e).__name__ for e in events]
    assert [e.data.id for e in events] == ids
    assert events[2].data.idp_id == "okta-u2" and events[2].data.custom_attributes["department"] == "R&D"
    # An application that stored the second event's id resumes after it.
    resumed = created(after=events[1].id, limit=10)
    assert [e.id for e in resumed.data] == [e.id for e in events[2:]]
    # A type filter of two types; membership events carry the user and group.
    added = c.events.list_events(events=["dsync.group.user_added"], organization_id=seeded.org, order="asc", limit=100)
    assert all(isinstance(e, DsyncGroupUserAdded) for e in added.data)
    pairs = {(e.data.group.name, e.data.user.id) for e in added.data}
    assert pairs == {(name, uid) for name, uids in seeded.members.items() for uid in uids}
    both = c.events.list_events(events=["dsync.user.created", "dsync.group.created"], organization_id=seeded.org,
                                order="asc", limit=100)
    assert [e.event for e in both.data] == ["dsync.user.created"] * N_USERS + ["dsync.group.created"] * 2


def test_events_in_a_time_range(worker, seeded):
    c = sdk(worker)

    def created(**kw):
        return c.events.list_events(events=["dsync.user.created"], organization_id=seeded.org, order="asc",
                                    limit=100, **kw).data

    assert len(created(range_start=iso(seeded.started), range_end=iso(seeded.finished))) == N_USERS
    assert created(range_end=iso(seeded.started)) == []
    assert created(range_start=iso(seeded.finished)) == []


# -- errors ----------------------------------------------------------------

@pytest.mark.parametrize("call", ["get_directory", "get_user", "get_group"])
def test_unknown_id_is_the_sdks_not_found_error(worker, seeded, call):
    c = sdk(worker)
    real = {"get_directory": seeded.directory, "get_user": seeded.users[0]["id"],
            "get_group": seeded.groups["Sales"]["id"]}[call]
    # The route is there (a 404 for a missing route would pass below) ...
    assert getattr(c.directory_sync, call)(real).id == real
    # ... and an id well formed but unknown, or not an id of ours at all, is
    # a 404 at WorkOS: the SDK raises its NotFoundError.
    for unknown in (real.rsplit("_", 1)[0] + "_" + secrets.token_hex(16), "nothing_here"):
        with pytest.raises(NotFoundError) as e:
            getattr(c.directory_sync, call)(unknown)
        assert e.value.status_code == 404, e.value
        # WorkOS's error shape: the message at the top level, which the SDK reads.
        assert isinstance((e.value.response_json or {}).get("message"), str), e.value.raw_body
        assert e.value.message == e.value.response_json["message"]


def test_wrong_key_is_the_sdks_authentication_error(worker, seeded):
    with pytest.raises(AuthenticationError) as e:
        sdk(worker, api_key="sk_test_" + secrets.token_hex(16)).directory_sync.list_directories(organization_id=seeded.org)
    assert e.value.status_code == 401


def test_delete_directory(worker, seeded):
    d = worker.new_directory(name="Short-lived")
    r = d.scim("POST", "/Users", {"schemas": [CORE_USER], "userName": "gone@acme.test"})
    assert r.status_code == 201, r.text
    c = sdk(worker)
    assert c.directory_sync.delete_directory(d.id) is None
    # The IdP's token stops working at once; the SDK's event log has the deletion.
    assert d.scim("GET", "/Users").status_code == 401
    deleted = c.events.list_events(events=["dsync.deleted"], organization_id=d.org, order="asc")
    assert [(type(e), e.data.id) for e in deleted.data] == [(DsyncDeleted, d.id)]
    # Data is removed in the background: until then the directory says so.
    try:
        assert c.directory_sync.get_directory(d.id).state == "deleting"
    except NotFoundError:
        pass
    assert [x.state for x in c.directory_sync.list_directories(organization_id=d.org).data] in ([], ["deleting"])


def test_admin_portal_links_open_once_and_are_revoked(worker, seeded):
    """admin_portal.generate_link and revoke_link: the link opens Rollcall's
    set-up portal once; revoking the admin's links ends their session."""
    c = sdk(worker)
    link = c.admin_portal.generate_link(organization=seeded.org, intent="dsync", external_user_id="it-admin-1")
    assert link.link.startswith(f"{worker.url}/portal/launch?secret=")
    browser = requests.Session()
    opened = browser.get(link.link, allow_redirects=True, timeout=10)
    assert opened.status_code == 200 and "text/html" in opened.headers["content-type"]
    assert browser.get(f"{worker.url}/portal/api/session", timeout=10).json()["organization"]["id"] == seeded.org
    assert c.admin_portal.revoke_link(organization=seeded.org, external_user_id="it-admin-1") is None
    assert browser.get(f"{worker.url}/portal/api/session", timeout=10).status_code == 401
    with pytest.raises(NotFoundError):
        c.admin_portal.generate_link(organization="org_" + "0" * 32, intent="dsync")


# -- the Node SDK ----------------------------------------------------------

def test_node_sdk_same_calls(worker, seeded):
    """@workos-inc/node (pinned in package.json, installed by `npm ci`) runs
    the same calls from workos_sdk.mjs with only `apiHostname`, `port` and
    `https: false` set, and prints what it got as JSON."""
    assert (ROOT / "node_modules/@workos-inc/node/package.json").is_file(), "run npm ci (scripts/setup.sh does)"
    u = [x["id"] for x in seeded.users]
    eng, sales = seeded.groups["Engineering"]["id"], seeded.groups["Sales"]["id"]
    arg = json.dumps({"url": worker.url, "key": worker.admin_key, "org": seeded.org, "directory": seeded.directory,
                      "group": eng, "user": u[2]})
    p = subprocess.run([shutil.which("node") or "node", str(ROOT / "tests/e2e/workos_sdk.mjs"), arg],
                       capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)

    assert [d["id"] for d in out["directories"]] == [seeded.other_directory, seeded.directory]
    assert out["directoriesAfter"] is None
    # The Node SDK turns WorkOS's "linked" into "active" itself.
    assert out["directory"] == {"id": seeded.directory, "organizationId": seeded.org, "name": "Acme Okta",
                                "state": "active", "type": "okta scim v2.0"}
    assert out["userPages"] == [u[0:2], u[2:4], u[4:5]]
    assert out["usersAuto"] == u[::-1]
    assert out["groupUserPages"] == [seeded.members["Engineering"][0:2], seeded.members["Engineering"][2:3]]
    assert out["user"] == {
        "id": u[2], "directoryId": seeded.directory, "organizationId": seeded.org, "idpId": "okta-u2",
        "email": "user2@acme.test", "firstName": "Given2", "lastName": "Family2", "state": "active",
        "customAttributes": out["user"]["customAttributes"], "groups": out["user"]["groups"],
    }
    ca = out["user"]["customAttributes"]
    assert (ca["department"], ca["employee_number"], ca["manager_id"], ca["job_title"]) == ("R&D", "102", "okta-u0", "Engineer 2")
    # portal.generateLink: a one-time link to Rollcall's set-up portal, which opens once.
    assert out["portalLink"].startswith(f"{worker.url}/portal/launch?secret="), out["portalLink"]
    opened = requests.get(out["portalLink"], allow_redirects=False, timeout=10)
    assert (opened.status_code, opened.headers["location"]) == (303, "/portal")
    assert requests.get(out["portalLink"], allow_redirects=False, timeout=10).status_code == 403
    assert out["portalBadIntent"]["status"] == 422, out["portalBadIntent"]
    assert out["directoryGroups"] == [{"id": eng, "name": "Engineering", "idpId": "okta-g-eng"},
                                      {"id": sales, "name": "Sales", "idpId": "okta-g-sales"}]
    assert out["userGroups"] == [eng, sales]
    assert out["group"] == {"id": eng, "name": "Engineering", "idpId": "okta-g-eng", "directoryId": seeded.directory}
    events = [e for p in out["eventPages"] for e in p]
    assert [len(p) for p in out["eventPages"]] == [2, 2, 1]
    assert [(e["event"], e["userId"]) for e in events] == [("dsync.user.created", x) for x in u]
    assert events[2]["idpId"] == "okta-u2"
    assert out["eventsResumed"] == [e["id"] for e in events[2:]]
    for what in ("user", "directory", "group"):
        assert out["notFound"][what] is not None and out["notFound"][what]["name"] == "NotFoundException", out["notFound"]
        assert out["notFound"][what]["status"] == 404
    assert out["wrongKey"] is not None and out["wrongKey"]["name"] == "UnauthorizedException" and out["wrongKey"]["status"] == 401


# -- webhook endpoints and WorkOS-Signature --------------------------------

def test_webhook_endpoint_through_the_sdk_and_a_delivery_it_verifies(worker):
    """An endpoint made, listed, changed and deleted through the SDK's
    webhooks module; a SCIM push arrives at a receiver on 127.0.0.1 with a
    `WorkOS-Signature` header that the SDK's verify_event accepts with the
    secret from the create answer (and the Standard Webhooks headers too)."""
    from harness import Receiver, wait_until
    c = sdk(worker)
    rx = Receiver()
    ep = None
    try:
        ep = c.webhooks.create_webhook_endpoint(endpoint_url=rx.url, events=["dsync.user.created"])
        assert (ep.object, ep.endpoint_url, ep.status, ep.events) == ("webhook_endpoint", rx.url, "enabled", ["dsync.user.created"])
        assert ep.secret.startswith("whsec_") and ep.created_at <= ep.updated_at
        rx.secret = ep.secret  # the receiver's Standard Webhooks check
        # Listed (newest first by default) with the secret field blank.
        listed = [e for p in pages(lambda after: c.webhooks.list_webhook_endpoints(limit=5, after=after)) for e in p]
        mine = [e for e in listed if e.id == ep.id]
        assert len(mine) == 1 and mine[0].secret == "" and mine[0].endpoint_url == rx.url
        # Disabled, then enabled again with another subscription, through the SDK.
        off = c.webhooks.update_webhook_endpoint(ep.id, status="disabled")
        assert off.status == "disabled"
        on = c.webhooks.update_webhook_endpoint(ep.id, status="enabled", events=["dsync.user.created", "dsync.user.updated"])
        assert (on.status, on.events, on.secret) == ("enabled", ["dsync.user.created", "dsync.user.updated"], "")

        d = worker.new_directory(name="Webhooked")
        r = d.scim("POST", "/Users", {"schemas": [CORE_USER], "userName": "hooked@acme.test", "externalId": "okta-hooked"})
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
        q = wait_until(lambda: next((q for q in rx.of(d.id) if q["event"].get("event") == "dsync.user.created"), None),
                       60, "the dsync.user.created delivery", worker)
        sig = q["headers"].get("workos-signature")
        assert sig and sig.startswith("t=") and ", v1=" in sig, q["headers"]
        event = c.webhooks.verify_event(event_body=q["body"], event_signature=sig, secret=ep.secret)
        assert isinstance(event, DsyncUserCreated), type(event).__name__
        assert (event.id, event.event, event.data.id, event.data.directory_id) == (q["id"], "dsync.user.created", uid, d.id)
        assert event.data.idp_id == "okta-hooked"
        assert q["verified"] is True  # the Standard Webhooks signature, same delivery
        # The timestamp is in milliseconds, as the SDK reads it.
        assert abs(int(sig.split(", ")[0][2:]) / 1000 - q["arrived"]) < 60
        with pytest.raises(ValueError):
            c.webhooks.verify_event(event_body=q["body"] + b" ", event_signature=sig, secret=ep.secret)
        with pytest.raises(ValueError):
            c.webhooks.verify_event(event_body=q["body"], event_signature=sig, secret="whsec_" + "A" * 43)

        # The Node SDK: the same endpoint calls, and constructEvent on this delivery.
        assert (ROOT / "node_modules/@workos-inc/node/package.json").is_file(), "run npm ci (scripts/setup.sh does)"
        arg = json.dumps({"url": worker.url, "key": worker.admin_key, "receiverUrl": rx.url,
                          "delivery": {"payload": q["body"].decode(), "sigHeader": sig, "secret": ep.secret}})
        p = subprocess.run([shutil.which("node") or "node", str(ROOT / "tests/e2e/workos_webhooks.mjs"), arg],
                           capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
        assert p.returncode == 0, p.stderr[-3000:]
        out = json.loads(p.stdout)
        assert out["created"] == {"object": "webhook_endpoint", "id": out["created"]["id"], "endpointUrl": rx.url,
                                  "status": "enabled", "events": ["dsync.group.created"], "secretPrefix": "whsec_",
                                  "datesValid": True}
        assert out["listed"] == [{"id": out["created"]["id"], "secret": "", "status": "enabled"}]
        assert out["updated"] == {"status": "disabled", "events": ["dsync.group.updated"], "endpointUrl": rx.url}
        assert out["afterDelete"] is not None and out["afterDelete"]["status"] == 404, out["afterDelete"]
        assert out["event"] == {"id": q["id"], "event": "dsync.user.created", "userId": uid, "directoryId": d.id}
        assert out["rawVerified"] == q["id"]
        assert out["tampered"] is not None and out["tampered"]["name"] == "SignatureVerificationException", out["tampered"]

        # Deleted through the SDK: gone from the list, and a second delete is the SDK's NotFoundError.
        assert c.webhooks.delete_webhook_endpoint(ep.id) is None
        assert ep.id not in [e.id for e in c.webhooks.list_webhook_endpoints(limit=100).data]
        with pytest.raises(NotFoundError):
            c.webhooks.delete_webhook_endpoint(ep.id)
        ep = None
    finally:
        if ep is not None:
            worker.api("DELETE", f"/v1/webhook_endpoints/{ep.id}")
        rx.close()
