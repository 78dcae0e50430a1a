//! The Queue consumer's use case: deliver one event to the endpoints that
//! subscribe to it, record every attempt, and decide what happens next
//! (another attempt after a delay, the dead-letter queue, or done).

use crate::events::outbox::{envelope, EVENT_COLUMNS};
use crate::stmt;
use crate::storage::db::{first, rows};
use crate::storage::{Db, Row, RowExt, Stmt};
use crate::support::crypto::SecretBox;
use crate::webhook::retry::{classify, next_delay, parse_retry_after, AttemptResult, MAX_QUEUE_DELAY};
use crate::webhook::sign::signature_header;
use serde::{Deserialize, Serialize};

use super::Services;

/// A Queue message. Without `endpoint_id` it fans an event out to every
/// subscribed endpoint (first attempts); with it, it is attempt `attempt`
/// for one endpoint, not before `due_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueMessage {
    pub event_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default)]
    pub due_ms: i64,
    /// Deliver even where a delivery already succeeded (the redeliver API).
    #[serde(default)]
    pub redeliver: bool,
}

impl QueueMessage {
    pub fn fan_out(event_id: &str) -> Self {
        QueueMessage { event_id: event_id.to_string(), endpoint_id: None, attempt: 0, due_ms: 0, redeliver: false }
    }
    pub fn redeliver(event_id: &str) -> Self {
        QueueMessage { redeliver: true, ..Self::fan_out(event_id) }
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

const ENDPOINT_COLUMNS: &str = "id, url, events, state, secret_sealed, previous_secret_sealed, previous_secret_expires_at";

fn subscribed(endpoint: &Row, event: &str) -> bool {
    match endpoint.json("events") {
        serde_json::Value::Array(a) => a.iter().any(|e| e.as_str() == Some(event)),
        _ => true,
    }
}

pub async fn handle_message<D: Db, H: HttpClient>(svc: &Services<'_, D>, http: &H, msg: &QueueMessage) -> Handled {
    if msg.due_ms > svc.now.0 {
        // A wait longer than the Queue's maximum delay, chained.
        let remaining = u64::try_from((msg.due_ms - svc.now.0 + 999) / 1000).unwrap_or(0);
        return Handled { ack: true, send: vec![Send { message: msg.clone(), delay_seconds: u32::try_from(remaining.min(MAX_QUEUE_DELAY)).unwrap_or(0) }], dead: Vec::new() };
    }
    let endpoints_stmt = match &msg.endpoint_id {
        Some(e) => stmt!(format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1 AND state = 'enabled'"), e.as_str()),
        None => stmt!(format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE state = 'enabled' ORDER BY id")),
    };
    let reads = vec![
        stmt!(format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.id = ?1"), msg.event_id.as_str()),
        endpoints_stmt,
        stmt!("SELECT DISTINCT endpoint_id FROM deliveries WHERE event_id = ?1 AND status = 'succeeded'", msg.event_id.as_str()),
    ];
    let Ok(results) = svc.db.batch(reads).await else {
        return Handled::default();
    };
    let Some(event) = first(&results, 0) else {
        // The event was never committed (or was pruned): nothing to deliver.
        return Handled { ack: true, ..Default::default() };
    };
    let done: Vec<String> = rows(&results, 2).iter().map(|r| r.string("endpoint_id")).collect();
    let kind = event.string("event");
    let body = serde_json::to_vec(&envelope(event)).unwrap_or_default();
    let attempt = msg.attempt.max(1);
    let mut out = Handled { ack: true, ..Default::default() };
    let mut writes = vec![stmt!("UPDATE events SET dispatched_at = ?2 WHERE id = ?1 AND dispatched_at IS NULL", msg.event_id.as_str(), svc.now_text())];
    for endpoint in rows(&results, 1) {
        let id = endpoint.string("id");
        if !subscribed(endpoint, &kind) || (!msg.redeliver && done.contains(&id)) {
            continue;
        }
        let (stmts, next) = attempt_one(svc, http, &msg.event_id, endpoint, &body, attempt, msg.redeliver).await;
        writes.extend(stmts);
        match next {
            Next::Done => {}
            Next::Retry(s) => out.send.push(s),
            Next::Dead(m) => out.dead.push(m),
        }
    }
    if svc.db.batch(writes).await.is_err() {
        // The attempts happened but are not recorded; let the Queue retry
        // (receivers deduplicate on webhook-id).
        return Handled::default();
    }
    out
}

enum Next {
    Done,
    Retry(Send),
    Dead(QueueMessage),
}

/// The live signing secrets of an endpoint: current, and the previous one
/// during a rotation's overlap.
fn secrets<D: Db>(svc: &Services<'_, D>, endpoint: &Row) -> Vec<String> {
    let boxed = SecretBox::new(&svc.cfg.encryption_key);
    let open = |col: &str| endpoint.str(col).and_then(|s| boxed.open(s)).and_then(|b| String::from_utf8(b).ok());
    let mut out: Vec<String> = open("secret_sealed").into_iter().collect();
    let previous_live = endpoint.str("previous_secret_expires_at").is_some_and(|t| t > svc.now_text().as_str());
    if previous_live {
        out.extend(open("previous_secret_sealed"));
    }
    out
}

async fn attempt_one<D: Db, H: HttpClient>(
    svc: &Services<'_, D>,
    http: &H,
    event_id: &str,
    endpoint: &Row,
    body: &[u8],
    attempt: u32,
    redeliver: bool,
) -> (Vec<Stmt>, Next) {
    let endpoint_id = endpoint.string("id");
    let secrets = secrets(svc, endpoint);
    let ts = svc.now.seconds();
    let result = if secrets.is_empty() {
        PostResult { error: Some("the signing secret cannot be opened (ENCRYPTION_KEY changed?)".into()), ..Default::default() }
    } else {
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("user-agent".to_string(), "Rollcall-Webhooks/1.0".to_string()),
            ("webhook-id".to_string(), event_id.to_string()),
            ("webhook-timestamp".to_string(), ts.to_string()),
            ("webhook-signature".to_string(), signature_header(&refs, event_id, ts, body)),
        ];
        http.post(&endpoint.string("url"), headers, body.to_vec(), svc.cfg.webhook_timeout_ms).await
    };
    let verdict = match result.status {
        Some(s) => classify(s, result.retry_after.as_deref().and_then(|r| parse_retry_after(r, ts))),
        None => AttemptResult::Failed { status: None, retry_after: None },
    };
    let now = svc.now_text();
    let delivery_id = svc.ids().make("delivery");
    let mut stmts = vec![stmt!(
        "UPDATE deliveries SET status = 'retried' WHERE event_id = ?1 AND endpoint_id = ?2 AND status = 'retrying'",
        event_id,
        endpoint_id.as_str()
    )];
    let record = |status: &str, next: Option<String>| {
        stmt!(
            "INSERT INTO deliveries (id, event_id, endpoint_id, attempt, status, response_code, duration_ms, error, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            delivery_id.as_str(),
            event_id,
            endpoint_id.as_str(),
            i64::from(attempt),
            status,
            result.status.map(i64::from),
            result.duration_ms,
            result.error.clone(),
            next,
            now.as_str()
        )
    };
    let next = match verdict {
        AttemptResult::Delivered => {
            stmts.push(record("succeeded", None));
            Next::Done
        }
        AttemptResult::Gone => {
            stmts.push(record("gone", None));
            stmts.push(stmt!(
                "UPDATE webhook_endpoints SET state = 'disabled', disabled_reason = 'The receiver answered 410 Gone', updated_at = ?2 WHERE id = ?1",
                endpoint_id.as_str(),
                now.as_str()
            ));
            Next::Done
        }
        AttemptResult::Failed { retry_after, .. } => {
            let mut jitter = [0u8; 2];
            svc.entropy.fill(&mut jitter);
            let j = u32::from(u16::from_le_bytes(jitter)) % 1001;
            let message = QueueMessage { event_id: event_id.to_string(), endpoint_id: Some(endpoint_id.clone()), attempt: attempt + 1, due_ms: 0, redeliver };
            match next_delay(&svc.cfg.retry_schedule, attempt, j, retry_after) {
                Some(delay) => {
                    let due = svc.now.plus_seconds(i64::try_from(delay).unwrap_or(i64::MAX));
                    stmts.push(record("retrying", Some(due.to_rfc3339())));
                    let delay_seconds = u32::try_from(delay.min(MAX_QUEUE_DELAY)).unwrap_or(0);
                    Next::Retry(Send { message: QueueMessage { due_ms: due.0, ..message }, delay_seconds })
                }
                None => {
                    stmts.push(record("failed", None));
                    Next::Dead(QueueMessage { attempt, ..message })
                }
            }
        }
    };
    (stmts, next)
}
