//! The Queue consumer's use case: deliver one event to the endpoints that
//! subscribe to it, record every attempt, and decide what happens next
//! (another attempt after a delay, the dead-letter queue, or done).
//!
//! Messages arrive at least once, and the sweeper republishes whatever
//! looks lost, so the same attempt may be asked for twice. Each attempt is
//! therefore claimed first, in the batch that reads the event: a row with
//! status `sending`, unique per (event, endpoint, chain, attempt). Only the
//! message that claimed it POSTs, so retry chains never multiply.

use crate::events::outbox::{envelope, EVENT_COLUMNS};
use crate::stmt;
use crate::storage::db::{first, rows};
use crate::storage::{Db, Row, RowExt, Stmt};
use crate::support::crypto::SecretBox;
use crate::support::time::Millis;
use crate::webhook::retry::{classify, next_delay, parse_retry_after, AttemptResult, MAX_QUEUE_DELAY};
use crate::webhook::sign::signature_header;
use serde::{Deserialize, Serialize};

use super::Services;

/// The chain of attempts an event starts with; a redelivery starts another.
pub const MAIN_CHAIN: &str = "main";

/// A Queue message: attempt `attempt` (1-based; 0 or 1 for the first) of
/// chain `chain` for one endpoint, or for every subscribed endpoint when
/// `endpoint_id` is None; not before `due_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueMessage {
    pub event_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default)]
    pub due_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
}

impl QueueMessage {
    /// The first attempts of a new event.
    pub fn fan_out(event_id: &str) -> Self {
        QueueMessage { event_id: event_id.to_string(), endpoint_id: None, attempt: 1, due_ms: 0, chain: None }
    }
    /// A new chain of attempts to every subscribed endpoint (the redeliver API).
    pub fn redeliver(event_id: &str, chain: &str) -> Self {
        QueueMessage { chain: Some(chain.to_string()), ..Self::fan_out(event_id) }
    }
    pub fn chain(&self) -> &str {
        self.chain.as_deref().unwrap_or(MAIN_CHAIN)
    }
}

/// A message to send, after `delay_seconds` (at most the Queue's maximum).
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    pub message: QueueMessage,
    pub delay_seconds: u32,
}

/// What to do with the message that was handled.
#[derive(Debug, Default)]
pub struct Handled {
    /// False: a storage failure; let the Queue retry this message.
    pub ack: bool,
    pub send: Vec<Send>,
    /// Deliveries that exhausted their retries, for the dead-letter queue.
    pub dead: Vec<QueueMessage>,
}

/// What a webhook POST came back with.
#[derive(Debug, Clone, Default)]
pub struct PostResult {
    pub status: Option<u16>,
    pub retry_after: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// Outbound HTTP (the Worker's `fetch`).
#[allow(async_fn_in_trait)]
pub trait HttpClient {
    async fn post(&self, url: &str, headers: Vec<(String, String)>, body: Vec<u8>, timeout_ms: u64) -> PostResult;
}

/// Claims this message's attempt for every enabled endpoint it addresses
/// that subscribes to the event, has no such attempt yet, and whose chain
/// has not already succeeded.
/// `token` is this message's own time-ordered id: it names the claims and,
/// with the endpoint, makes each delivery id (so the log sorts by time).
fn claim(msg: &QueueMessage, token: &str, now: &str) -> Stmt {
    stmt!(
        "INSERT OR IGNORE INTO deliveries (id, event_id, endpoint_id, chain, attempt, claim, status, created_at) \
         SELECT ?5 || '_' || substr(w.id, 10), e.id, w.id, ?3, ?4, ?5, 'sending', ?6 \
         FROM events e, webhook_endpoints w \
         WHERE e.id = ?1 AND w.state = 'enabled' AND (?2 IS NULL OR w.id = ?2) \
           AND (w.events IS NULL OR EXISTS (SELECT 1 FROM json_each(w.events) j WHERE j.value = e.event)) \
           AND NOT EXISTS (SELECT 1 FROM deliveries s WHERE s.event_id = e.id AND s.endpoint_id = w.id AND s.chain = ?3 AND s.status = 'succeeded') \
         ORDER BY w.id",
        msg.event_id.as_str(),
        msg.endpoint_id.clone(),
        msg.chain(),
        i64::from(msg.attempt.max(1)),
        token,
        now
    )
}

pub async fn handle_message<D: Db, H: HttpClient>(svc: &Services<'_, D>, http: &H, msg: &QueueMessage) -> Handled {
    if msg.due_ms > svc.now.0 {
        // A wait longer than the Queue's maximum delay, chained.
        let remaining = u64::try_from((msg.due_ms - svc.now.0 + 999) / 1000).unwrap_or(0);
        return Handled { ack: true, send: vec![Send { message: msg.clone(), delay_seconds: u32::try_from(remaining.min(MAX_QUEUE_DELAY)).unwrap_or(0) }], dead: Vec::new() };
    }
    let token = svc.ids().make("delivery");
    let now = svc.now_text();
    let mut batch = Vec::new();
    if let Some(endpoint) = &msg.endpoint_id {
        // A retry for an endpoint since disabled or deleted ends its chain.
        batch.push(stmt!(
            "UPDATE deliveries SET status = 'cancelled' WHERE event_id = ?1 AND endpoint_id = ?2 AND chain = ?3 AND status = 'retrying' \
             AND NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?2 AND state = 'enabled')",
            msg.event_id.as_str(),
            endpoint.as_str(),
            msg.chain()
        ));
    }
    batch.push(claim(msg, &token, &now));
    batch.push(stmt!(
        "SELECT d.id AS delivery_id, w.id, w.url, w.secret_sealed, w.previous_secret_sealed, w.previous_secret_expires_at \
         FROM deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.claim = ?1 ORDER BY w.id",
        token.as_str()
    ));
    batch.push(stmt!(format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.id = ?1"), msg.event_id.as_str()));
    batch.push(stmt!("UPDATE events SET dispatched_at = ?2 WHERE id = ?1 AND dispatched_at IS NULL", msg.event_id.as_str(), now.as_str()));
    let Ok(results) = svc.db.batch(batch).await else {
        return Handled::default();
    };
    let offset = usize::from(msg.endpoint_id.is_some());
    let claimed = rows(&results, offset + 1);
    let Some(event) = first(&results, offset + 2) else {
        // The event was never committed: nothing to deliver.
        return Handled { ack: true, ..Default::default() };
    };
    let body = serde_json::to_vec(&envelope(event)).unwrap_or_default();
    let mut out = Handled { ack: true, ..Default::default() };
    let mut writes = Vec::new();
    let mut elapsed = 0;
    for endpoint in claimed {
        let at = Millis(svc.now.0 + elapsed);
        let (stmts, next, took) = attempt_one(svc, http, msg, endpoint, &body, at).await;
        elapsed += took;
        writes.extend(stmts);
        match next {
            Next::Done => {}
            Next::Retry(s) => out.send.push(s),
            Next::Dead(m) => out.dead.push(m),
        }
    }
    if !writes.is_empty() && svc.db.batch(writes).await.is_err() {
        // The attempts happened but are not recorded: their claims stay
        // 'sending' and the sweeper schedules the next attempt.
        crate::app::log_error("could not record webhook attempts");
    }
    out
}

#[derive(Debug, PartialEq)]
enum Next {
    Done,
    Retry(Send),
    Dead(QueueMessage),
}

/// The live signing secrets of an endpoint: current, and the previous one
/// during a rotation's overlap.
fn secrets<D: Db>(svc: &Services<'_, D>, endpoint: &Row, at: Millis) -> Vec<String> {
    let boxed = SecretBox::new(&svc.cfg.encryption_key);
    let id = endpoint.str("id").unwrap_or_default();
    let open = |col: &str| endpoint.str(col).and_then(|s| boxed.open(s, id)).and_then(|b| String::from_utf8(b).ok());
    let mut out: Vec<String> = open("secret_sealed").into_iter().collect();
    let previous_live = endpoint.str("previous_secret_expires_at").is_some_and(|t| t > at.to_rfc3339().as_str());
    if previous_live {
        out.extend(open("previous_secret_sealed"));
    }
    out
}

/// POSTs the event to one claimed endpoint at `at`; returns the statements
/// recording the outcome, what comes next, and how long it took.
async fn attempt_one<D: Db, H: HttpClient>(
    svc: &Services<'_, D>,
    http: &H,
    msg: &QueueMessage,
    endpoint: &Row,
    body: &[u8],
    at: Millis,
) -> (Vec<Stmt>, Next, i64) {
    let endpoint_id = endpoint.string("id");
    let delivery_id = endpoint.string("delivery_id");
    let attempt = msg.attempt.max(1);
    let secrets = secrets(svc, endpoint, at);
    let ts = at.seconds();
    let result = if secrets.is_empty() {
        PostResult { error: Some("the signing secret cannot be opened (ENCRYPTION_KEY changed?)".into()), ..Default::default() }
    } else {
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("user-agent".to_string(), "Rollcall-Webhooks/1.0".to_string()),
            ("webhook-id".to_string(), msg.event_id.clone()),
            ("webhook-timestamp".to_string(), ts.to_string()),
            ("webhook-signature".to_string(), signature_header(&refs, &msg.event_id, ts, body)),
        ];
        http.post(&endpoint.string("url"), headers, body.to_vec(), svc.cfg.webhook_timeout_ms).await
    };
    let verdict = match result.status {
        Some(s) => classify(s, result.retry_after.as_deref().and_then(|r| parse_retry_after(r, ts))),
        None => AttemptResult::Failed { status: None, retry_after: None },
    };
    let done_at = Millis(at.0 + result.duration_ms);
    let mut stmts = vec![stmt!(
        "UPDATE deliveries SET status = 'retried' WHERE event_id = ?1 AND endpoint_id = ?2 AND chain = ?3 AND attempt < ?4 AND status IN ('retrying', 'sending')",
        msg.event_id.as_str(),
        endpoint_id.as_str(),
        msg.chain(),
        i64::from(attempt)
    )];
    let record = |status: &str, next: Option<String>| {
        stmt!(
            "UPDATE deliveries SET status = ?2, response_code = ?3, duration_ms = ?4, error = ?5, next_attempt_at = ?6, claim = NULL, created_at = ?7 WHERE id = ?1",
            delivery_id.as_str(),
            status,
            result.status.map(i64::from),
            result.duration_ms,
            result.error.clone(),
            next,
            at.to_rfc3339()
        )
    };
    let next = match verdict {
        AttemptResult::Delivered => {
            stmts.push(record("succeeded", None));
            Next::Done
        }
        AttemptResult::Gone => {
            stmts.push(record("gone", None));
            stmts.extend(crate::app::api::webhooks::disable(&endpoint_id, "The receiver answered 410 Gone", &done_at.to_rfc3339()));
            Next::Done
        }
        AttemptResult::Failed { retry_after, .. } => {
            let mut jitter = [0u8; 2];
            svc.entropy.fill(&mut jitter);
            let j = u32::from(u16::from_le_bytes(jitter)) % 1001;
            let next = after_failure(msg, &endpoint_id, done_at, &svc.cfg.retry_schedule, j, retry_after);
            match &next {
                Next::Retry(s) => stmts.push(record("retrying", Some(Millis(s.message.due_ms).to_rfc3339()))),
                _ => stmts.push(record("failed", None)),
            }
            next
        }
    };
    (stmts, next, result.duration_ms)
}

/// What follows a failed attempt: the next attempt, due after the schedule's
/// delay (a Queue delay of at most 12 hours; the message carries its due
/// time, so a longer wait is chained), or the dead-letter queue.
fn after_failure(msg: &QueueMessage, endpoint_id: &str, at: Millis, schedule: &[u64], jitter: u32, retry_after: Option<u64>) -> Next {
    let attempt = msg.attempt.max(1);
    let message = QueueMessage { endpoint_id: Some(endpoint_id.to_string()), attempt: attempt + 1, due_ms: 0, ..msg.clone() };
    match next_delay(schedule, attempt, jitter, retry_after) {
        Some(delay) => {
            let due = at.plus_seconds(i64::try_from(delay).unwrap_or(i64::MAX));
            let delay_seconds = u32::try_from(delay.min(MAX_QUEUE_DELAY)).unwrap_or(0);
            Next::Retry(Send { message: QueueMessage { due_ms: due.0, ..message }, delay_seconds })
        }
        None => Next::Dead(QueueMessage { attempt, ..message }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::config::DEFAULT_RETRY_SCHEDULE;

    fn msg(attempt: u32) -> QueueMessage {
        QueueMessage { event_id: "event_1".into(), endpoint_id: Some("endpoint_1".into()), attempt, due_ms: 0, chain: None }
    }

    #[test]
    fn a_wait_past_the_queue_maximum_is_queued_for_twelve_hours_with_its_due_time() {
        // After attempt 9 the schedule waits 24 h (86,400 s).
        let Next::Retry(s) = after_failure(&msg(9), "endpoint_1", Millis(1_000_000), &DEFAULT_RETRY_SCHEDULE, 500, None) else {
            panic!("expected a retry")
        };
        assert_eq!(s.delay_seconds, u32::try_from(MAX_QUEUE_DELAY).unwrap());
        assert_eq!(s.message.due_ms, 1_000_000 + 86_400_000);
        assert_eq!(s.message.attempt, 10);
    }

    #[test]
    fn the_last_attempt_goes_to_the_dead_letter_queue() {
        let next = after_failure(&msg(10), "endpoint_1", Millis(0), &DEFAULT_RETRY_SCHEDULE, 500, None);
        assert_eq!(next, Next::Dead(QueueMessage { attempt: 10, ..msg(10) }));
    }

    #[test]
    fn a_retry_keeps_its_chain() {
        let m = QueueMessage { chain: Some("redelivery_1".into()), ..msg(1) };
        let Next::Retry(s) = after_failure(&m, "endpoint_1", Millis(0), &DEFAULT_RETRY_SCHEDULE, 500, None) else { panic!() };
        assert_eq!(s.message.chain(), "redelivery_1");
        assert_eq!(s.delay_seconds, 5);
    }

    /// Fails every POST: these tests must not reach the network.
    struct NoNetwork;
    impl HttpClient for NoNetwork {
        async fn post(&self, _: &str, _: Vec<(String, String)>, _: Vec<u8>, _: u64) -> PostResult {
            panic!("no POST may happen before a message is due")
        }
    }

    #[test]
    fn a_message_that_arrives_before_its_due_time_is_queued_again_for_the_rest() {
        let db = crate::storage::sqlite::Sqlite::open_migrated().unwrap();
        let cfg = crate::app::Config::default();
        let entropy = crate::support::ids::tests::Counter(std::cell::Cell::new(1));
        let svc = Services { db: &db, cfg: &cfg, now: Millis(0), entropy: &entropy };
        let early = QueueMessage { due_ms: 100_000_000, ..msg(10) };
        let h = crate::storage::sqlite::block_on(handle_message(&svc, &NoNetwork, &early));
        assert!(h.ack);
        assert_eq!(h.send, vec![Send { message: early.clone(), delay_seconds: 43_200 }]);
        let soon = QueueMessage { due_ms: 2_500, ..msg(3) };
        let h = crate::storage::sqlite::block_on(handle_message(&svc, &NoNetwork, &soon));
        assert_eq!(h.send[0].delay_seconds, 3);
    }
}
