"""docs/IDP-QUIRKS.md § Required server behaviour 7: parallel PATCHes to one group or user lose nothing, and
their events stay one per real change with a gapless sequence."""

from concurrent.futures import ThreadPoolExecutor

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def test_parallel_member_patches_to_one_group_lose_nothing(directory):
    users = []
    for i in range(24):
        r = directory.scim("POST", "/Users", {"userName": f"p{i}@x.test"})
        assert r.status_code == 201, r.text
        users.append(r.json()["id"])
    g = directory.scim("POST", "/Groups", {"displayName": "Crowd", "members": []})
    gid = g.json()["id"]

    def add(chunk):
        body = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in chunk]}]}
        return directory.scim("PATCH", f"/Groups/{gid}", body).status_code

    chunks = [users[i:i + 3] for i in range(0, len(users), 3)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(add, chunks))
    assert all(s == 204 for s in statuses), statuses  # no projection asked: no body

    members = {m["value"] for m in directory.scim("GET", f"/Groups/{gid}").json()["members"]}
    assert members == set(users)
    events = directory.events()
    added = [e for e in events if e["event"] == "dsync.group.user_added"]
    assert sorted(e["data"]["user"]["id"] for e in added) == sorted(users)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))


def test_parallel_attribute_patches_to_one_user_lose_nothing(directory):
    uid = directory.scim("POST", "/Users", {"userName": "many@x.test"}).json()["id"]
    attrs = ["title", "nickName", "userType", "preferredLanguage", "locale", "timezone", "displayName", "profileUrl"]

    def set_attr(a):
        body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": a, "value": f"https://{a}.example" if a == "profileUrl" else f"v-{a}"}]}
        return directory.scim("PATCH", f"/Users/{uid}", body).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(set_attr, attrs)) == {200}
    user = directory.scim("GET", f"/Users/{uid}").json()
    for a in attrs:
        assert a in user, a
    assert user["meta"]["version"] == f'W/"{1 + len(attrs)}"'
    updates = [e for e in directory.events() if e["event"] == "dsync.user.updated"]
    assert len(updates) == len(attrs)
