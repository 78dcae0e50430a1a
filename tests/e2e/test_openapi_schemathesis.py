"""schemathesis (PyPI, pinned in requirements.txt) against the Worker under
`wrangler dev`, driven by docs/openapi.json, which the Worker serves byte for
byte at `/openapi.json` (checked here too): every operation of both dialects, with
generated parameters and bodies and the admin key, must answer no 5xx, only
documented status codes and content types, and bodies that match the
documented schema (README § The OpenAPI document).

Generated ids name nothing, so alone they would reach little but 404s and
422s: the Worker is seeded first (an organisation and a directory with users
and groups pushed over SCIM and pull settings, a webhook endpoint with
deliveries, a whitelabel hostname, a spare SCIM token), and every generated
case is sent a second time with the seeded ids put in its path, query and
body, so the success paths are checked too. Writes that would spoil the seed
(updates, deletions) get objects of their own. Every webhook URL a case would
register is pointed first at a loopback receiver that answers 410, so nothing
is ever sent off this machine, and Rollcall disables each such endpoint at
its first delivery instead of sending every later event (redeliveries among
them) to all of them. Every identity provider URL a case would set for pull
reconciliation is a loopback port where nothing listens, so each pull run
fails (`idp_unreachable`) having read and changed nothing. Deterministic
(derandomized, a fixed number of examples per operation: the same requests
and answers every run) and bounded: about 4,300 requests, a minute and three
quarters on two cores."""

from __future__ import annotations

import collections
import os

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from harness import ROOT, Receiver, Worker, wait_until

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Examples per operation and generation mode; each is sent twice (as
# generated, then with the seeded ids). ROLLCALL_SCHEMATHESIS_EXAMPLES=100
# (and ROLLCALL_SCHEMATHESIS_RANDOM=1 for new inputs each run) explores further.
MAX_EXAMPLES = int(os.environ.get("ROLLCALL_SCHEMATHESIS_EXAMPLES", "20"))
DETERMINISTIC = os.environ.get("ROLLCALL_SCHEMATHESIS_RANDOM") != "1"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
# The identity provider of every pull setting: the discard port, closed.
PULL_IDP = {"scim_url": "http://127.0.0.1:9/scim", "token_url": "http://127.0.0.1:9/token"}

# (method, path template) -> Counter of statuses, over both sends.
SEEN: dict[tuple[str, str], collections.Counter] = collections.defaultdict(collections.Counter)


class Seed:
    """Ids of what the fixture made, by the role each plays."""

    def __init__(self, worker: Worker, receiver: Receiver, sink: Receiver):
        api = worker.api
        self.receiver, self.sink = receiver, sink
        org = api("POST", "/v1/organizations", {"name": "Schemathesis Org", "external_id": "ext-schemathesis"})
        assert org.status_code == 201, org.text
        self.org, self.external_id = org.json()["id"], "ext-schemathesis"
        # An organisation without directories, to update.
        self.org_mutable = api("POST", "/v1/organizations", {"name": "Mutable"}).json()["id"]
        d = api("POST", "/v1/directories", {"organization_id": self.org, "name": "Seeded", "provider": "okta"})
        assert d.status_code == 201, d.text
        self.directory, base, token = d.json()["id"], d.json()["scim"]["base_url"], d.json()["scim"]["bearer_token"]
        self.hostname = "scim.schemathesis.test"
        assert api("POST", "/v1/domains", {"hostname": self.hostname, "organization_id": self.org}).status_code == 201

        endpoint = api("POST", "/v1/webhook_endpoints", {"url": receiver.url})
        assert endpoint.status_code == 201, endpoint.text
        self.endpoint = endpoint.json()["id"]
        self.endpoint_mutable = api("POST", "/v1/webhook_endpoints", {"url": receiver.url}).json()["id"]
        self.api = api

        def scim(method, path, body):
            r = requests.request(method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert r.status_code in (200, 201), r.text
            return r.json()

        users = [scim("POST", "/Users", {
            "schemas": [CORE_USER], "userName": f"st{i}@example.test", "externalId": f"idp-st{i}",
            "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
            "emails": [{"value": f"st{i}@example.test", "type": "work", "primary": True}], "title": "Tester",
        }) for i in range(3)]
        self.user, self.user_email, self.user_idp_id = users[0]["id"], "st0@example.test", "idp-st0"
        group = scim("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Testers", "externalId": "idp-g1",
                                         "members": [{"value": u["id"]} for u in users[:2]]})
        self.group = group["id"]
        scim("PATCH", f"/Users/{users[1]['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                                  "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]})
        log = worker.list_all("/v1/events", directory_id=self.directory)
        assert {"dsync.activated", "dsync.user.created", "dsync.user.updated", "dsync.group.created",
                "dsync.group.user_added"} <= {e["event"] for e in log}
        self.event = log[0]["id"]
        self.pulled(self.directory)
        # Deliveries to list: the seeded endpoints have had the events.
        wait_until(lambda: len(receiver.delivered()) >= len(log), 60, "the seeded events delivered", worker)
        # What each DELETE operation deletes, made before any case runs.
        self.doomed = {path: self.doomed_for(path) for path, item in schema.raw_schema["paths"].items() if "delete" in item}

    def made(self, path: str, body: dict) -> dict:
        r = self.api("POST", path, body)
        assert r.status_code == 201, r.text
        return r.json()

    def pulled(self, directory: str) -> str:
        """Gives `directory` pull settings, for the pull routes and
        `POST /directories/{id}/sync` to answer 2xx."""
        r = self.api("PUT", f"/v1/directories/{directory}/pull", {**PULL_IDP, "client_id": "schemathesis", "client_secret": "pull-secret"})
        assert r.status_code == 200, r.text
        return directory

    def doomed_for(self, path: str) -> dict[str, str]:
        """Path values for one DELETE operation: objects only it deletes, so
        each DELETE route answers 2xx once (then 404)."""
        resource = path.removeprefix("/v1").split("/")[1]
        if path.endswith("{token_id}"):
            return {"id": self.directory, "token_id": self.made(f"/v1/directories/{self.directory}/tokens", {"type": "oauth_client"})["id"]}
        if path.endswith("/pull"):
            return {"id": self.pulled(self.made("/v1/directories", {"organization_id": self.org, "name": "Doomed pull", "provider": "okta"})["id"])}
        if resource == "organizations":
            return {"id": self.made("/v1/organizations", {"name": "Doomed"})["id"]}
        if resource == "directories":
            return {"id": self.made("/v1/directories", {"organization_id": self.org, "name": "Doomed", "provider": "entra_id"})["id"]}
        if resource == "domains":
            return {"hostname": self.made("/v1/domains", {"hostname": "doomed.schemathesis.test", "organization_id": self.org})["hostname"]}
        if resource == "webhook_endpoints":
            return {"id": self.made("/v1/webhook_endpoints", {"url": self.sink.url})["id"]}
        raise AssertionError(f"nothing to delete for DELETE {path}")

    def path_value(self, method: str, path: str, name: str) -> str | None:
        """The seeded value of a path parameter of `method path`."""
        if method == "DELETE":
            return self.doomed[path].get(name)
        if name == "external_id":
            return self.external_id
        resource = path.removeprefix("/v1").split("/")[1]
        if resource == "organizations":
            return self.org_mutable if method in ("PUT", "PATCH") else self.org
        if resource == "webhook_endpoints":
            return self.endpoint_mutable if method == "PATCH" else self.endpoint
        return {"directories": self.directory, "directory_users": self.user, "directory_groups": self.group, "events": self.event}.get(resource)

    def query_value(self, name: str) -> str | None:
        return {
            "directory": self.directory, "directory_id": self.directory, "group": self.group, "group_id": self.group,
            "user": self.user, "user_id": self.user, "organization_id": self.org, "event_id": self.event,
            "idp_id": self.user_idp_id, "email": self.user_email,
        }.get(name)


def loopback_only(case, seed: Seed) -> None:
    """Points any webhook URL the Worker would accept at the sink, and any
    identity provider URL at PULL_IDP."""
    if isinstance(case.body, dict):
        for key, url in (("url", seed.sink.url), ("endpoint_url", seed.sink.url), *PULL_IDP.items()):
            v = case.body.get(key)
            if isinstance(v, str) and v.strip().lower().startswith(("http://", "https://")):
                case.body[key] = url


def with_seeded_ids(case, seed: Seed) -> bool:
    """Puts the seeded ids into the case; whether it changed anything."""
    changed = False
    for name in list(case.path_parameters or {}):
        # The operation's method: schemathesis also sends methods the path
        # does not document, which must not take a DELETE's objects.
        value = seed.path_value(case.operation.method.upper(), case.operation.path, name)
        if value is not None:
            case.path_parameters[name] = value
            changed = True
    if case.query is not None:
        for name in list(case.query):
            value = seed.query_value(name)
            if value is not None:
                case.query[name] = value
                changed = True
        # From the first page: a generated cursor names nothing.
        for name in ("after", "before"):
            if name in case.query:
                del case.query[name]
                changed = True
    if isinstance(case.body, dict):
        for key, value in (("organization_id", seed.org), ("organization", seed.org), ("url", seed.sink.url), ("endpoint_url", seed.sink.url),
                           *PULL_IDP.items()):
            if key in case.body:
                case.body[key] = value
                changed = True
        # The portal links: a link for the seeded organisation, for a named admin.
        if case.operation.path.startswith("/portal/"):
            case.body["organization"] = seed.org
            case.body["external_user_id"] = "schemathesis-admin"
            for url in ("return_url", "success_url"):
                case.body.pop(url, None)
            if case.operation.path == "/portal/generate_link":
                case.body["intent"] = "dsync"
            changed = True
    return changed


@pytest.fixture(scope="module")
def st_worker():
    w = Worker().start()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def seed(st_worker):
    receiver, sink = Receiver(), Receiver(plan=lambda q: 410)
    yield Seed(st_worker, receiver, sink)
    receiver.close()
    sink.close()


# The document as kept; the Worker serves these very bytes (checked below
# and in tests/openapi_document.rs). Loaded at collection, before the
# Worker runs, and the base URL given with each call: schemathesis's loader
# from a fixture (`schemathesis.pytest.from_fixture`) fails on pytest 9.2
# (it sets `Function._nodeid`, which pytest no longer has).
schema = schemathesis.openapi.from_path(str(ROOT / "docs" / "openapi.json"))
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=DETERMINISTIC, database="none")


def test_the_worker_serves_the_document(st_worker):
    r = requests.get(st_worker.url + "/openapi.json", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.content == (ROOT / "docs" / "openapi.json").read_bytes()


@schema.parametrize()
def test_every_operation_answers_as_documented(case, seed, st_worker):
    # Requests with a method the path does not document (schemathesis
    # sends some) are checked but not counted for their operation.
    key = (case.method.upper(), case.operation.path) if case.method.upper() == case.operation.method.upper() else None
    loopback_only(case, seed)
    auth = {"Authorization": f"Bearer {st_worker.admin_key}"}
    SEEN[key][case.call_and_validate(base_url=st_worker.url, headers=auth, checks=CHECKS).status_code] += 1
    if with_seeded_ids(case, seed):
        SEEN[key][case.call_and_validate(base_url=st_worker.url, headers=auth, checks=CHECKS).status_code] += 1


def test_the_success_paths_were_reached(st_worker, seed):
    """Runs after the operations (pytest keeps file order): each was answered
    2xx at least once, so its success schema was checked against a real answer."""
    if not SEEN:
        pytest.skip("the operations were not run in this session")
    SEEN.pop(None, None)
    missed = {f"{m} {p}": dict(c) for (m, p), c in SEEN.items() if not any(200 <= s < 300 for s in c)}
    assert len(SEEN) == sum(len(item) for item in schema.raw_schema["paths"].values()), sorted(SEEN)
    print("\n".join(f"{m} {p}: {dict(c)}" for (m, p), c in sorted(SEEN.items())))
    assert not missed, f"operations never answered 2xx: {missed}"
    # Every registered webhook points at this machine's receivers.
    urls = {e["url"] for e in st_worker.list_all("/v1/webhook_endpoints")}
    assert urls <= {seed.receiver.url, seed.sink.url}, urls
