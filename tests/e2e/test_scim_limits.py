"""Limits that only the real runtime enforces: D1's 100 bound parameters per
statement, and the request size checked before the body is read."""

import requests


def test_the_longest_filter_allowed_runs_on_d1_and_a_longer_one_is_invalid(directory):
    directory.scim("POST", "/Users", {"userName": "u7@x.test"})
    terms = [f'userName eq "u{i}@x.test"' for i in range(90)]
    r = directory.scim("GET", "/Users", params={"filter": " or ".join(terms), "count": 5})
    assert r.status_code == 200, r.text
    assert r.json()["totalResults"] == 1
    r = directory.scim("GET", "/Users", params={"filter": " or ".join(terms + ['userName eq "one-too-many"'])})
    assert r.status_code == 400
    assert r.json()["scimType"] == "invalidFilter"


def test_an_oversized_body_is_413_before_it_is_read(directory):
    max_size = directory.scim("GET", "/ServiceProviderConfig").json()["bulk"]["maxPayloadSize"]
    body = b'{"userName": "big@x.test", "title": "' + b"x" * max_size + b'"}'
    r = requests.post(directory.base + "/Users", data=body, timeout=60,
                      headers={"Authorization": f"Bearer {directory.token}", "Content-Type": "application/scim+json"})
    assert r.status_code == 413
    assert r.json()["status"] == "413"
    assert str(max_size) in r.json()["detail"]
    assert directory.scim("GET", "/Users").json()["totalResults"] == 0
