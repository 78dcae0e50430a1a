"""Issue 2: a user pushed over SCIM arrives as a correctly signed webhook."""

import json


def test_a_user_pushed_over_scim_arrives_as_a_signed_webhook(worker, directory, receiver_factory):
    receiver = receiver_factory()
    created = directory.scim(
        "POST",
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
            "password": "correct horse battery staple",
            "active": True,
        },
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["userName"] == "bjensen@example.com"
    assert "password" not in user
    assert created.headers["Location"].endswith(f"/Users/{user['id']}")
    assert created.headers["Content-Type"].startswith("application/scim+json")

    fetched = directory.scim("GET", f"/Users/{user['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["name"]["givenName"] == "Barbara"

    def arrived(r):
        return any(e["event"] == "dsync.user.created" and e["directory_id"] == directory.id for e in r.delivered())

    assert receiver.wait_for(arrived, 60), worker.logs()[-3000:]
    requests_for_user = [r for r in receiver.requests if json.loads(r["body"])["event"] == "dsync.user.created" and json.loads(r["body"])["directory_id"] == directory.id]
    assert requests_for_user and all(r["verified"] for r in requests_for_user)
    event = json.loads(requests_for_user[0]["body"])
    assert requests_for_user[0]["headers"]["webhook-id"] == event["id"]
    assert event["data"]["id"] == user["id"]
    assert event["data"]["username"] == "bjensen@example.com"
    assert "correct horse" not in requests_for_user[0]["body"].decode()


def test_the_first_authenticated_call_activates_the_directory(worker, directory):
    assert worker.api("GET", f"/v1/directories/{directory.id}").json()["state"] == "pending"
    assert directory.scim("GET", "/Users?count=1").status_code == 200
    assert worker.api("GET", f"/v1/directories/{directory.id}").json()["state"] == "linked"
    events = directory.events()
    assert [e["event"] for e in events] == ["dsync.activated"]
    assert events[0]["sequence"] == 1


def test_a_wrong_token_gets_401_with_a_scim_error(directory):
    for headers in ({"Authorization": "Bearer not-the-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}, {}):
        r = __import__("requests").get(directory.base + "/Users", headers=headers, timeout=10)
        assert r.status_code == 401
        body = r.json()
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert body["status"] == "401"


def test_a_token_of_another_directory_gets_401(worker, directory):
    other = worker.new_directory()
    assert directory.scim("GET", "/Users", token=other.token).status_code == 401


def test_the_management_api_needs_the_admin_key(worker):
    r = __import__("requests").get(worker.url + "/v1/organizations", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_the_bearer_token_is_stored_hashed(worker, directory):
    tokens = worker.api("GET", f"/v1/directories/{directory.id}/tokens").json()["data"]
    assert len(tokens) == 1
    assert directory.token not in json.dumps(tokens)
    assert tokens[0]["hint"] == directory.token[-4:]
