//! The circuit breaker through the use case, on SQLite: what reaches the
//! network, what is deferred, and what the endpoint row says. Every test
//! runs on one database and on separate control and data databases.

use super::*;
use crate::app::Config;
use crate::storage::sqlite::{block_on, Sqlite};
use crate::storage::webhooks::testing::{self, Checked, Side};
use crate::storage::{Row, RowExt};
use crate::support::crypto::SecretBox;
use crate::support::ids::tests::Counter;
use crate::support::time::parse_rfc3339;
use std::cell::{Cell, RefCell};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const T0: i64 = 1_800_000_000_000;

/// A receiver that answers every POST with `status` (None: no answer).
struct Fake {
    now: Cell<i64>,
    status: Cell<Option<u16>>,
    posts: RefCell<Vec<String>>,
}

impl HttpClient for Fake {
    fn now(&self) -> Millis {
        Millis(self.now.get())
    }
    async fn post(&self, url: &str, _: Vec<(String, String)>, _: Vec<u8>, _: Timeouts) -> PostResult {
        self.posts.borrow_mut().push(url.to_string());
        PostResult { status: self.status.get(), duration_ms: 10, ..Default::default() }
    }
}

struct World {
    control: Checked,
    /// A data database of its own (None: the control database).
    data: Option<Checked>,
    cfg: Config,
    entropy: Counter,
    http: Fake,
}

impl World {
    fn new(cfg: Config, split: bool) -> Self {
        let control = Checked::new(if split { Side::Control } else { Side::Both });
        let data = split.then(|| Checked::new(Side::Data));
        let sealed = SecretBox::new(KEY).seal(b"whsec_dGVzdA==", &[7; 12], "endpoint_a").unwrap();
        testing::insert_endpoint(&control.db, "endpoint_a", "https://a.example/hook", &sealed);
        let http = Fake { now: Cell::new(T0), status: Cell::new(Some(500)), posts: RefCell::new(Vec::new()) };
        World { control, data, cfg: Config { encryption_key: KEY.into(), ..cfg }, entropy: Counter(Cell::new(1)), http }
    }

    fn data(&self) -> &Sqlite {
        &self.data.as_ref().unwrap_or(&self.control).db
    }

    fn event(&self, id: &str) -> QueueMessage {
        testing::insert_event(self.data(), id);
        QueueMessage::fan_out(id)
    }

    fn run(&self, msgs: &[QueueMessage]) -> Vec<Handled> {
        let now = Millis(self.http.now.get());
        let svc = match &self.data {
            Some(data) => Services::split(&self.control, data, &self.cfg, now, &self.entropy),
            None => Services::new(&self.control, &self.cfg, now, &self.entropy),
        };
        block_on(handle_batch(&svc, &self.http, msgs))
    }

    fn endpoint(&self) -> Row {
        testing::endpoint_row(&self.control.db, "endpoint_a")
    }

    fn posts(&self) -> usize {
        self.http.posts.borrow().len()
    }

    fn statuses(&self, event: &str) -> Vec<(i64, String)> {
        testing::delivery_statuses(self.data(), event)
    }

    fn advance_to(&self, at: &str) {
        self.http.now.set(parse_rfc3339(at).unwrap().0);
    }
}

/// Runs a test on one database, then on separate control and data databases.
fn both(test: impl Fn(bool)) {
    for split in [false, true] {
        eprintln!("control and data in separate databases: {split}");
        test(split);
    }
}

/// Five events fail at a 500: the circuit is open after the fifth.
fn opened(split: bool) -> World {
    let w = World::new(Config { circuit_probe_seconds: 30, circuit_max_probe_seconds: 100, ..Config::default() }, split);
    let msgs: Vec<QueueMessage> = (0..5).map(|i| w.event(&format!("event_{i}"))).collect();
    let h = w.run(&msgs);
    assert!(h.iter().all(|h| h.outcomes.len() == 1 && h.outcomes[0].status == "retrying"));
    assert_eq!(w.posts(), 5);
    w
}

#[test]
fn consecutive_failures_up_to_the_threshold_open_the_circuit() {
    both(|split| {
        let w = opened(split);
        let e = w.endpoint();
        assert_eq!(e.int("consecutive_failures"), Some(5));
        assert_eq!(e.int("circuit_opens"), Some(1));
        let open_until = parse_rfc3339(e.str("circuit_open_until").unwrap()).unwrap();
        assert_eq!(open_until.0, T0 + 10 + 30_000, "the first probe is due the base interval after the failure");
        assert!(e.str("failing_since").is_some());
        assert_eq!((e.int("bucket_attempts"), e.int("bucket_failures")), (Some(5), Some(5)));
    });
}

#[test]
fn while_the_circuit_is_open_an_attempt_is_deferred_without_a_post_and_keeps_its_number() {
    both(|split| {
        let w = opened(split);
        let m = w.event("event_new");
        let h = w.run(std::slice::from_ref(&m));
        assert_eq!(w.posts(), 5, "no POST while the circuit is open");
        assert_eq!(h[0].outcomes[0].status, "deferred");
        let open_until = parse_rfc3339(w.endpoint().str("circuit_open_until").unwrap()).unwrap();
        assert_eq!(h[0].send.len(), 1);
        let s = &h[0].send[0];
        assert_eq!((s.message.attempt, s.message.due_ms), (1, open_until.0));
        assert_eq!(s.message.endpoint_id.as_deref(), Some("endpoint_a"));
        assert_eq!(w.statuses("event_new"), vec![(1, "deferred".to_string())]);
        // A retry due meanwhile is deferred too, as the same attempt.
        let retry = QueueMessage { endpoint_id: Some("endpoint_a".into()), attempt: 2, ..QueueMessage::fan_out("event_0") };
        let h = w.run(&[retry]);
        assert_eq!(h[0].send[0].message.attempt, 2);
        assert_eq!(w.statuses("event_0"), vec![(1, "retried".to_string()), (2, "deferred".to_string())]);
        assert_eq!(w.posts(), 5);
    });
}

#[test]
fn one_probe_goes_out_when_due_and_its_success_closes_the_circuit() {
    both(|split| {
        let w = opened(split);
        let a = w.event("event_a");
        let b = w.event("event_b");
        let deferred: Vec<QueueMessage> = w.run(&[a, b]).into_iter().map(|h| h.send[0].message.clone()).collect();
        w.advance_to(w.endpoint().str("circuit_open_until").unwrap());
        w.http.status.set(Some(200));
        // Both deferred attempts come back at the probe time: one probes.
        let h = w.run(&deferred);
        assert_eq!(w.posts(), 6, "exactly one probe");
        let probed: Vec<&str> = h.iter().flat_map(|h| h.outcomes.iter().map(|o| o.status)).collect();
        assert_eq!(probed.iter().filter(|s| **s == "succeeded").count(), 1);
        assert_eq!(probed.iter().filter(|s| **s == "deferred").count(), 1);
        let e = w.endpoint();
        assert_eq!((e.str("circuit_open_until"), e.int("consecutive_failures"), e.str("failing_since")), (None, Some(0), None));
        // The other one, deferred again, goes out now that the circuit is closed.
        let again: Vec<QueueMessage> = h.iter().flat_map(|h| h.send.iter().map(|s| QueueMessage { due_ms: 0, ..s.message.clone() })).collect();
        let h = w.run(&again);
        assert_eq!(h[0].outcomes[0].status, "succeeded");
        assert_eq!(h[0].outcomes[0].attempt, 1, "a deferral uses no attempt");
        assert_eq!(w.posts(), 7);
    });
}

#[test]
fn a_failed_probe_reopens_the_circuit_for_twice_as_long() {
    both(|split| {
        let w = opened(split);
        let m = w.event("event_p");
        let deferred = w.run(&[m]).remove(0).send.remove(0).message;
        let first_open = w.endpoint().string("circuit_open_until");
        w.advance_to(&first_open);
        let h = w.run(&[QueueMessage { due_ms: 0, ..deferred }]);
        assert_eq!(h[0].outcomes[0].status, "retrying");
        assert_eq!(w.posts(), 6);
        let e = w.endpoint();
        let reopened = parse_rfc3339(e.str("circuit_open_until").unwrap()).unwrap();
        assert_eq!(reopened.0, parse_rfc3339(&first_open).unwrap().0 + 10 + 60_000);
        assert_eq!(e.int("circuit_opens"), Some(2));
        assert_eq!(e.str("probe_claim"), None);
    });
}

#[test]
fn an_endpoint_failing_for_the_whole_window_is_disabled_with_a_reason() {
    both(|split| {
        let w = World::new(Config { disable_after_seconds: 60, circuit_threshold: 1000, ..Config::default() }, split);
        let m = w.event("event_1");
        w.run(std::slice::from_ref(&m));
        assert_eq!(w.endpoint().str("state"), Some("enabled"));
        w.http.now.set(T0 + 61_000);
        let retry = QueueMessage { endpoint_id: Some("endpoint_a".into()), attempt: 2, ..m };
        w.run(&[retry]);
        let e = w.endpoint();
        assert_eq!(e.str("state"), Some("disabled"));
        assert!(e.str("disabled_reason").is_some_and(|r| r.contains("60 seconds")), "{e:?}");
        assert!(e.int("disabled_pos").is_some());
    });
}

#[test]
fn a_hung_endpoint_gets_no_more_posts_in_the_same_invocation_and_loses_no_attempt() {
    both(|split| {
        let w = World::new(Config { circuit_threshold: 1000, ..Config::default() }, split);
        w.http.status.set(None);
        let msgs: Vec<QueueMessage> = (0..4).map(|i| w.event(&format!("event_{i}"))).collect();
        let h = w.run(&msgs);
        // PER_ENDPOINT run at once; all of them hang; the rest wait for later.
        assert_eq!(w.posts(), fair::PER_ENDPOINT);
        let deferred: Vec<&Send> = h.iter().flat_map(|h| h.send.iter()).filter(|s| s.message.attempt == 1).collect();
        assert_eq!(deferred.len(), 4 - fair::PER_ENDPOINT);
        assert!(deferred.iter().all(|s| s.delay_seconds == u32::try_from(STRUGGLING_DEFER_SECONDS).unwrap()));
        assert_eq!(w.statuses("event_3"), vec![(1, "deferred".to_string())]);
        // Meanwhile a new event's attempt is held back too: no POST, no attempt used.
        let h = w.run(&[w.event("event_new")]);
        assert_eq!(w.posts(), fair::PER_ENDPOINT);
        assert_eq!((h[0].outcomes[0].status, h[0].send[0].message.attempt), ("deferred", 1));
        // After the hold, it is tried again.
        w.http.now.set(T0 + 10 + STRUGGLING_DEFER_SECONDS * 1000);
        w.run(&[QueueMessage { due_ms: 0, ..h[0].send[0].message.clone() }]);
        assert_eq!(w.posts(), fair::PER_ENDPOINT + 1);
    });
}

#[test]
fn an_attempt_due_for_a_probe_while_the_endpoint_is_on_hold_is_deferred_not_lost() {
    both(|split| {
        let w = opened(split);
        let open_until = w.endpoint().string("circuit_open_until");
        // A hung attempt that was in flight when the circuit opened put it on
        // hold past the probe time.
        let hold = parse_rfc3339(&open_until).unwrap().plus_seconds(3).to_rfc3339();
        testing::hold_all_until(&w.control.db, &hold);
        w.advance_to(&open_until);
        let h = w.run(&[w.event("event_h")]);
        assert_eq!(w.posts(), 5, "no probe while on hold");
        assert_eq!(h[0].outcomes[0].status, "deferred");
        assert_eq!(h[0].send[0].message.due_ms, parse_rfc3339(&hold).unwrap().0);
        assert_eq!(w.statuses("event_h"), vec![(1, "deferred".to_string())]);
        assert_eq!(w.endpoint().str("probe_claim"), None);
    });
}
