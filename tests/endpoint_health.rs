//! Issue 9 through the whole app on SQLite: the endpoint's health on GET,
//! auto-disable, and a re-enabled endpoint catching up on what it missed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;
use rollcall::app::delivery::{handle_batch, HttpClient, PostResult, QueueMessage, Timeouts};
use rollcall::app::maintenance::sweep;
use rollcall::app::Config;
use rollcall::storage::sqlite::block_on;
use rollcall::support::time::Millis;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use support::{App, Dir};

/// Answers every POST with `status`; remembers each webhook-id.
struct Receiver {
    now: Cell<i64>,
    status: Cell<u16>,
    ids: RefCell<Vec<String>>,
}

impl HttpClient for Receiver {
    fn now(&self) -> Millis {
        Millis(self.now.get())
    }
    async fn post(&self, _: &str, headers: Vec<(String, String)>, _: Vec<u8>, _: Timeouts) -> PostResult {
        let id = headers.iter().find(|(k, _)| k == "webhook-id").map(|(_, v)| v.clone()).unwrap_or_default();
        self.ids.borrow_mut().push(id);
        PostResult { status: Some(self.status.get()), duration_ms: 5, ..Default::default() }
    }
}

fn setup(tune: impl FnOnce(&mut Config)) -> (App, Dir, String, Receiver) {
    let mut app = App::new();
    tune(&mut app.cfg);
    let ep = app.admin("POST", "/v1/webhook_endpoints", Some(json!({"url": "http://127.0.0.1:9/hook"})));
    assert_eq!(ep.status, 201, "{:?}", ep.body);
    let dir = app.new_directory("okta");
    let rx = Receiver { now: Cell::new(app.clock.get()), status: Cell::new(200), ids: RefCell::new(Vec::new()) };
    (app, dir, ep.body["id"].as_str().unwrap().to_string(), rx)
}

/// Runs the consumer on one Queue batch of `msgs`.
fn consume(app: &App, rx: &Receiver, msgs: Vec<QueueMessage>) {
    rx.now.set(app.clock.get());
    block_on(handle_batch(&app.svc(), rx, &msgs));
}

fn new_user(app: &App, dir: &Dir, name: &str) {
    let r = app.scim(dir, "POST", "/Users", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})));
    assert_eq!(r.status, 201, "{:?}", r.body);
}

fn fan_out_all(app: &App, dir: &Dir) -> Vec<QueueMessage> {
    app.events(dir).iter().map(|e| QueueMessage::fan_out(e["id"].as_str().unwrap())).collect()
}

fn endpoint(app: &App, id: &str) -> Value {
    let r = app.admin("GET", &format!("/v1/webhook_endpoints/{id}"), None);
    assert_eq!(r.status, 200);
    r.body
}

fn sweep_now(app: &App) -> Vec<QueueMessage> {
    block_on(sweep(&app.svc())).unwrap()
}

#[test]
fn get_shows_the_circuit_and_the_recent_failure_rate() {
    let (app, dir, id, rx) = setup(|c| c.circuit_threshold = 2);
    let h = &endpoint(&app, &id)["health"];
    assert_eq!(h["circuit"], "closed");
    assert_eq!(h["recent"], json!({"attempts": 0, "failures": 0, "failure_rate": 0.0, "window_seconds": 7200}));
    rx.status.set(500);
    new_user(&app, &dir, "a@example.com");
    consume(&app, &rx, fan_out_all(&app, &dir));
    let h = endpoint(&app, &id)["health"].clone();
    assert_eq!(h["circuit"], "open", "{h}");
    assert_eq!(h["consecutive_failures"], 2);
    assert!(h["failing_since"].is_string() && h["next_probe_at"].is_string());
    assert_eq!(h["recent"]["failure_rate"], 1.0);
}

#[test]
fn reenabling_catches_up_on_what_was_missed_and_skips_what_was_delivered() {
    let (app, dir, id, rx) = setup(|_| {});
    new_user(&app, &dir, "before@example.com");
    consume(&app, &rx, fan_out_all(&app, &dir));
    let delivered_before: Vec<String> = rx.ids.borrow().clone();
    assert_eq!(delivered_before.len(), 2); // dsync.activated, dsync.user.created

    assert_eq!(app.admin("PATCH", &format!("/v1/webhook_endpoints/{id}"), Some(json!({"state": "disabled"}))).status, 200);
    new_user(&app, &dir, "missed1@example.com");
    new_user(&app, &dir, "missed2@example.com");
    consume(&app, &rx, fan_out_all(&app, &dir));
    assert_eq!(rx.ids.borrow().len(), 2, "nothing goes to a disabled endpoint");

    let r = app.admin("PATCH", &format!("/v1/webhook_endpoints/{id}"), Some(json!({"state": "enabled"})));
    assert_eq!(r.status, 200);
    let catch_up = sweep_now(&app);
    assert_eq!(catch_up.len(), 2, "the two events missed: {catch_up:?}");
    assert!(catch_up.iter().all(|m| m.endpoint_id.as_deref() == Some(id.as_str()) && m.chain().starts_with("catchup_")));
    consume(&app, &rx, catch_up);
    let all: Vec<String> = app.events(&dir).iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(*rx.ids.borrow(), all, "every event once, in order");
    assert!(sweep_now(&app).is_empty(), "the cursor is done");
}

#[test]
fn an_endpoint_disabled_after_failing_for_the_window_gets_its_failed_events_on_reenable() {
    let (app, dir, id, rx) = setup(|c| {
        c.disable_after_seconds = 60;
        c.circuit_threshold = 1000;
    });
    rx.status.set(500);
    new_user(&app, &dir, "x@example.com");
    consume(&app, &rx, fan_out_all(&app, &dir));
    app.advance(61_000);
    let retries: Vec<QueueMessage> = app
        .events(&dir)
        .iter()
        .map(|e| QueueMessage { endpoint_id: Some(id.clone()), attempt: 2, ..QueueMessage::fan_out(e["id"].as_str().unwrap()) })
        .collect();
    consume(&app, &rx, retries);
    let ep = endpoint(&app, &id);
    assert_eq!(ep["state"], "disabled");
    assert!(ep["disabled_reason"].as_str().unwrap().contains("60 seconds"));
    rx.status.set(200);
    rx.ids.borrow_mut().clear();
    app.admin("PATCH", &format!("/v1/webhook_endpoints/{id}"), Some(json!({"state": "enabled"})));
    let msgs = sweep_now(&app);
    consume(&app, &rx, msgs);
    assert_eq!(rx.ids.borrow().len(), 2, "both events that failed are delivered");
    assert_eq!(endpoint(&app, &id)["health"]["consecutive_failures"], 0);
}
