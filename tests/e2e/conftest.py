import pytest

from harness import Directory, Receiver, Worker


@pytest.fixture(scope="session")
def worker():
    """The Worker under wrangler dev, with a compressed retry schedule.

    These tests pin the retry schedule attempt by attempt (receivers that
    fail every first k attempts, or always): with the production threshold
    of 5 failures in a row the circuit breaker would open and spread those
    attempts over its probes. The circuit has its own tests
    (test_endpoint_isolation.py); here it stays closed."""
    w = Worker(WEBHOOK_RETRY_SCHEDULE="0,1,2,2,2", OUTBOX_GRACE_SECONDS="1", WEBHOOK_TIMEOUT_MS="2000",
               WEBHOOK_CIRCUIT_THRESHOLD="1000").start()
    yield w
    w.stop()


@pytest.fixture
def directory(worker) -> Directory:
    """A fresh organisation and directory: tests never share SCIM state."""
    return worker.new_directory()


@pytest.fixture
def receiver_factory(worker):
    made = []

    def make(plan=None, events=None):
        r = Receiver(plan=plan)
        body = {"url": r.url}
        if events is not None:
            body["events"] = events
        resp = worker.api("POST", "/v1/webhook_endpoints", body)
        assert resp.status_code == 201, resp.text
        r.secret = resp.json()["secret"]
        r.endpoint_id = resp.json()["id"]
        made.append(r)
        return r

    yield make
    for r in made:
        worker.api("DELETE", f"/v1/webhook_endpoints/{r.endpoint_id}")
        r.close()
