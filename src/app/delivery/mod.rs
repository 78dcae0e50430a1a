//! The Queue consumer's use case: deliver a batch of messages, each one
//! event to the endpoints it addresses; record every attempt and each
//! endpoint's health, and decide what happens next (another attempt after a
//! delay, a deferral while a circuit is open, the dead-letter queue, done).
//!
//! Messages arrive at least once, and the sweeper republishes whatever
//! looks lost, so the same attempt may be asked for twice. Each attempt is
//! therefore claimed first, in the batch that reads the event: a row with
//! status `sending`, unique per (event, endpoint, chain, attempt). Only the
//! message that claimed it POSTs, so retry chains never multiply.
//!
//! Isolation (issue 9): the messages of a batch are prepared concurrently,
//! their POSTs run concurrently within a budget shared fairly by endpoints
//! ([`fair`]), and an endpoint that fails over and over has its circuit
//! opened: its attempts wait (without a POST, keeping their attempt
//! numbers) for a single probe to tell that it is back.

mod claims;
pub mod fair;

use crate::app::Cost;
use crate::events::outbox::{envelope, EVENT_COLUMNS};
use crate::stmt;
use crate::storage::db::{first, rows, Metered};
use crate::storage::{Db, Row, RowExt, Stmt};
use crate::support::crypto::SecretBox;
use crate::support::time::{parse_rfc3339, Millis};
use crate::webhook::circuit::{bucket_of, probe_interval, should_disable};
use crate::webhook::retry::{classify, next_delay, parse_retry_after, AttemptResult, MAX_QUEUE_DELAY};
use crate::webhook::sign::signature_header;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use super::Services;

/// How long an endpoint whose attempt got no answer is left alone: its other
/// attempts of the invocation, and any attempt that arrives meanwhile, are
/// deferred (without using an attempt number) until then.
pub const STRUGGLING_DEFER_SECONDS: i64 = 5;

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
    /// A catch-up attempt for a re-enabled endpoint (chain `catchup_…`).
    pub fn catch_up(event_id: &str, endpoint_id: &str, chain: &str) -> Self {
        QueueMessage { endpoint_id: Some(endpoint_id.to_string()), chain: Some(chain.to_string()), ..Self::fan_out(event_id) }
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
    /// What happened to each endpoint's attempt (for the shell's log line).
    pub outcomes: Vec<DeliveryOutcome>,
    /// What handling this message cost in D1.
    pub cost: Cost,
    /// What went wrong inside, for the log line.
    pub error: Option<String>,
    /// Wall time of the Queue batch the message was handled in (its
    /// messages run together), POSTs included.
    pub ms: i64,
}

impl Handled {
    fn acked() -> Self {
        Handled { ack: true, ..Default::default() }
    }
}

/// One endpoint's attempt of a message, as logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryOutcome {
    pub endpoint_id: String,
    pub attempt: u32,
    /// succeeded, retrying, failed, gone, or deferred (no POST).
    pub status: &'static str,
    pub response_code: Option<u16>,
    pub ms: i64,
    /// The attempt was the probe of an open circuit.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub probe: bool,
}

/// What a webhook POST came back with.
#[derive(Debug, Clone, Default)]
pub struct PostResult {
    pub status: Option<u16>,
    pub retry_after: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// How long a POST may take: to the response headers, and in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub first_byte_ms: u64,
    pub total_ms: u64,
}

/// Outbound HTTP (the Worker's `fetch`) and its clock: each POST is signed
/// with the time it actually starts.
#[allow(async_fn_in_trait)]
pub trait HttpClient {
    fn now(&self) -> Millis;
    async fn post(&self, url: &str, headers: Vec<(String, String)>, body: Vec<u8>, timeouts: Timeouts) -> PostResult;
}

/// An endpoint this message claimed (or deferred), with what a POST needs.
struct Target {
    delivery_id: String,
    endpoint_id: String,
    url: String,
    secrets: Vec<String>,
    /// This message's claim token; it holds the probe when `probe`.
    claim_token: String,
    probe: bool,
    circuit_opens: u32,
    failing_since: Option<String>,
}

/// A message after its claim batch.
enum Prepared {
    Finished(Handled),
    Ready { body: Vec<u8>, event_pos: i64, targets: Vec<Target>, handled: Handled },
}

/// Handles one Queue batch: every message's claim batch concurrently, then
/// all their POSTs within the invocation's budget, then every message's
/// record batch concurrently. One [`Handled`] per message, in order.
pub async fn handle_batch<D: Db, H: HttpClient>(svc: &Services<'_, D>, http: &H, msgs: &[QueueMessage]) -> Vec<Handled> {
    let meters: Vec<(Metered<'_, D>, Metered<'_, D>)> = msgs.iter().map(|_| (Metered::new(svc.db), Metered::new(svc.data))).collect();
    let svcs: Vec<Services<'_, Metered<'_, D>>> = meters.iter().map(|(c, d)| if svc.shared() { svc.over(c, c) } else { svc.over(c, d) }).collect();
    let prepared: Vec<Prepared> = join_all(svcs.iter().zip(msgs).map(|(s, m)| prepare(s, m))).await;

    // Every POST of the batch: (message, target), laned by endpoint.
    let mut jobs: Vec<(usize, usize)> = Vec::new();
    let mut lanes: Vec<String> = Vec::new();
    for (mi, p) in prepared.iter().enumerate() {
        if let Prepared::Ready { targets, .. } = p {
            for (ti, t) in targets.iter().enumerate() {
                jobs.push((mi, ti));
                lanes.push(t.endpoint_id.clone());
            }
        }
    }
    let timeouts = Timeouts { first_byte_ms: svc.cfg.webhook_first_byte_timeout_ms, total_ms: svc.cfg.webhook_timeout_ms };
    let results = fair::run_fair(
        &lanes,
        fair::BUDGET,
        fair::PER_ENDPOINT,
        |j| {
            let job = jobs.get(j).and_then(|&(mi, ti)| match prepared.get(mi) {
                Some(Prepared::Ready { body, targets, .. }) => Some((msgs.get(mi)?, body, targets.get(ti)?)),
                _ => None,
            });
            async move {
                match job {
                    Some((msg, body, target)) => post(http, msg, target, body, timeouts).await,
                    None => (Millis(0), PostResult::default()),
                }
            }
        },
        |(_, r)| r.status.is_none(),
    )
    .await;

    let mut per_message: Vec<Vec<Option<(Millis, PostResult)>>> = prepared.iter().map(|_| Vec::new()).collect();
    for (&(mi, _), r) in jobs.iter().zip(results) {
        if let Some(v) = per_message.get_mut(mi) {
            v.push(r);
        }
    }
    let finished = join_all(svcs.iter().zip(msgs).zip(prepared).zip(per_message).map(|(((s, m), p), r)| finish(s, http, m, p, r))).await;
    finished
        .into_iter()
        .zip(&meters)
        .map(|(mut h, (c, d))| {
            h.cost = Cost::of(c) + if svc.shared() { Cost::default() } else { Cost::of(d) };
            h.ms = http.now().0 - svc.now.0;
            h
        })
        .collect()
}

/// The claim batch of one message: takes due probes, claims the attempts to
/// endpoints with a closed circuit, defers the others, and reads the event.
async fn prepare<D: Db>(svc: &Services<'_, D>, msg: &QueueMessage) -> Prepared {
    if msg.due_ms > svc.now.0 {
        // A wait longer than the Queue's maximum delay, chained.
        return Prepared::Finished(Handled { send: vec![requeue(msg.clone(), Millis(msg.due_ms), svc.now)], ..Handled::acked() });
    }
    let token = svc.ids().make("delivery");
    let now = svc.now_text();
    let lease_seconds = i64::try_from(svc.cfg.webhook_timeout_ms / 1000).unwrap_or(30) + 5;
    let lease = svc.now.plus_seconds(lease_seconds).to_rfc3339();
    let mut batch = Vec::new();
    if let Some(endpoint) = &msg.endpoint_id {
        // A retry for an endpoint since disabled or deleted ends its chain.
        batch.push(stmt!(
            "UPDATE deliveries SET status = 'cancelled' WHERE event_id = ?1 AND endpoint_id = ?2 AND chain = ?3 AND status IN ('retrying', 'deferred') \
             AND NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?2 AND state = 'enabled')",
            msg.event_id.as_str(),
            endpoint.as_str(),
            msg.chain()
        ));
    }
    let at = batch.len();
    batch.push(claims::probe(msg, &token, &now, &lease));
    batch.push(claims::claim(msg, &token, &now));
    batch.push(claims::defer(msg, &token, &now));
    batch.push(claims::retire_before_deferred(&token));
    batch.push(claims::claimed(&token));
    batch.push(stmt!(format!("SELECT {EVENT_COLUMNS}, e.pos FROM events e WHERE e.id = ?1"), msg.event_id.as_str()));
    batch.push(stmt!("UPDATE events SET dispatched_at = ?2 WHERE id = ?1 AND dispatched_at IS NULL", msg.event_id.as_str(), now.as_str()));
    let Ok(results) = svc.db.batch(batch).await else {
        return Prepared::Finished(Handled::default());
    };
    let Some(event) = first(&results, at + 5) else {
        // The event was never committed: nothing to deliver.
        return Prepared::Finished(Handled::acked());
    };
    let body = serde_json::to_vec(&envelope(event)).unwrap_or_default();
    let event_pos = event.int("pos").unwrap_or(0);
    let mut handled = Handled::acked();
    let mut targets = Vec::new();
    for row in rows(&results, at + 4) {
        if row.str("claim_status") == Some("deferred") {
            let due = row.str("due_at").and_then(parse_rfc3339).unwrap_or(svc.now);
            let endpoint_id = row.string("id");
            handled.send.push(requeue(QueueMessage { endpoint_id: Some(endpoint_id.clone()), due_ms: 0, ..msg.clone() }, due, svc.now));
            handled.outcomes.push(DeliveryOutcome { endpoint_id, attempt: msg.attempt.max(1), status: "deferred", response_code: None, ms: 0, probe: false });
        } else {
            targets.push(Target {
                delivery_id: row.string("delivery_id"),
                claim_token: token.clone(),
                endpoint_id: row.string("id"),
                url: row.string("url"),
                secrets: secrets(svc, row, svc.now),
                probe: row.int("probe") == Some(1),
                circuit_opens: u32::try_from(row.int("circuit_opens").unwrap_or(0)).unwrap_or(0),
                failing_since: row.str("failing_since").map(str::to_string),
            });
        }
    }
    Prepared::Ready { body, event_pos, targets, handled }
}

/// The same attempt again at `due` (a Queue delay of at most 12 hours; the
/// message carries its due time, so a longer wait is chained).
fn requeue(message: QueueMessage, due: Millis, now: Millis) -> Send {
    let remaining = u64::try_from((due.0 - now.0 + 999) / 1000).unwrap_or(0);
    Send { message: QueueMessage { due_ms: due.0, ..message }, delay_seconds: u32::try_from(remaining.min(MAX_QUEUE_DELAY)).unwrap_or(0) }
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

/// Signs and POSTs the event to one endpoint; returns when it started.
async fn post<H: HttpClient>(http: &H, msg: &QueueMessage, target: &Target, body: &[u8], timeouts: Timeouts) -> (Millis, PostResult) {
    let at = http.now();
    if target.secrets.is_empty() {
        return (at, PostResult { error: Some("the signing secret cannot be opened (ENCRYPTION_KEY changed?)".into()), ..Default::default() });
    }
    let ts = at.seconds();
    let refs: Vec<&str> = target.secrets.iter().map(String::as_str).collect();
    let headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("user-agent".to_string(), "Rollcall-Webhooks/1.0".to_string()),
        ("webhook-id".to_string(), msg.event_id.clone()),
        ("webhook-timestamp".to_string(), ts.to_string()),
        ("webhook-signature".to_string(), signature_header(&refs, &msg.event_id, ts, body)),
    ];
    (at, http.post(&target.url, headers, body.to_vec(), timeouts).await)
}

/// The record batch of one message: each attempt's outcome, each endpoint's
/// health, and for an attempt skipped because its endpoint did not answer
/// in this invocation, a deferral.
async fn finish<D: Db, H: HttpClient>(
    svc: &Services<'_, D>,
    http: &H,
    msg: &QueueMessage,
    prepared: Prepared,
    results: Vec<Option<(Millis, PostResult)>>,
) -> Handled {
    let (event_pos, targets, mut out) = match prepared {
        Prepared::Finished(h) => return h,
        Prepared::Ready { event_pos, targets, handled, .. } => (event_pos, targets, handled),
    };
    let mut writes = Vec::new();
    for (target, result) in targets.iter().zip(results) {
        let Some((at, result)) = result else {
            let due = http.now().plus_seconds(STRUGGLING_DEFER_SECONDS);
            writes.push(stmt!(
                "UPDATE deliveries SET status = 'deferred', claim = NULL, next_attempt_at = ?2 WHERE id = ?1 AND status = 'sending'",
                target.delivery_id.as_str(),
                due.to_rfc3339()
            ));
            writes.push(claims::retire_before(&msg.event_id, &target.endpoint_id, msg.chain(), msg.attempt.max(1)));
            out.send.push(requeue(QueueMessage { endpoint_id: Some(target.endpoint_id.clone()), due_ms: 0, ..msg.clone() }, due, svc.now));
            out.outcomes.push(DeliveryOutcome {
                endpoint_id: target.endpoint_id.clone(),
                attempt: msg.attempt.max(1),
                status: "deferred",
                response_code: None,
                ms: 0,
                probe: false,
            });
            continue;
        };
        let (stmts, next, status) = record(svc, msg, target, event_pos, at, &result);
        writes.extend(stmts);
        out.outcomes.push(DeliveryOutcome {
            endpoint_id: target.endpoint_id.clone(),
            attempt: msg.attempt.max(1),
            status,
            response_code: result.status,
            ms: result.duration_ms,
            probe: target.probe,
        });
        match next {
            Next::Done => {}
            Next::Retry(s) => out.send.push(s),
            Next::Dead(m) => out.dead.push(m),
        }
    }
    if !writes.is_empty() && svc.db.batch(writes).await.is_err() {
        // The attempts happened but are not recorded: their claims stay
        // 'sending' and the sweeper schedules the next attempt.
        out.error = Some("could not record webhook attempts".into());
    }
    out
}

#[derive(Debug, PartialEq)]
enum Next {
    Done,
    Retry(Send),
    Dead(QueueMessage),
}

/// The statements recording one POST to a claimed endpoint started at `at`,
/// what comes next, and the attempt's status.
fn record<D: Db>(
    svc: &Services<'_, D>,
    msg: &QueueMessage,
    target: &Target,
    event_pos: i64,
    at: Millis,
    result: &PostResult,
) -> (Vec<Stmt>, Next, &'static str) {
    let endpoint_id = target.endpoint_id.as_str();
    let attempt = msg.attempt.max(1);
    let ts = at.seconds();
    let verdict = match result.status {
        Some(s) => classify(s, result.retry_after.as_deref().and_then(|r| parse_retry_after(r, ts))),
        None => AttemptResult::Failed { status: None, retry_after: None },
    };
    let done_at = Millis(at.0 + result.duration_ms);
    let done_text = done_at.to_rfc3339();
    let mut stmts = vec![claims::retire_before(&msg.event_id, endpoint_id, msg.chain(), attempt)];
    let record = |status: &str, next: Option<String>| {
        stmt!(
            "UPDATE deliveries SET status = ?2, response_code = ?3, duration_ms = ?4, error = ?5, next_attempt_at = ?6, claim = NULL, created_at = ?7 WHERE id = ?1",
            target.delivery_id.as_str(),
            status,
            result.status.map(i64::from),
            result.duration_ms,
            result.error.clone(),
            next,
            at.to_rfc3339()
        )
    };
    let cfg = svc.cfg;
    let reopen_at = done_at
        .plus_seconds(i64::try_from(probe_interval(target.circuit_opens, cfg.circuit_probe_seconds, cfg.circuit_max_probe_seconds)).unwrap_or(i64::MAX / 2_000))
        .to_rfc3339();
    let hold_until = result.status.is_none().then(|| done_at.plus_seconds(STRUGGLING_DEFER_SECONDS).to_rfc3339());
    let health = |failed: bool| {
        claims::health(&claims::Outcome {
            endpoint_id,
            failed,
            at: &done_text,
            event_pos,
            token: &target.claim_token,
            threshold: cfg.circuit_threshold,
            reopen_at: &reopen_at,
            bucket: bucket_of(done_at),
            hold_until: hold_until.as_deref(),
        })
    };
    let (next, status) = match verdict {
        AttemptResult::Delivered => {
            stmts.push(record("succeeded", None));
            stmts.push(health(false));
            (Next::Done, "succeeded")
        }
        AttemptResult::Gone => {
            stmts.push(record("gone", None));
            stmts.push(health(true));
            stmts.extend(crate::app::api::webhooks::disable(endpoint_id, "The receiver answered 410 Gone", &done_text));
            (Next::Done, "gone")
        }
        AttemptResult::Failed { retry_after, .. } => {
            let mut jitter = [0u8; 2];
            svc.entropy.fill(&mut jitter);
            let j = u32::from(u16::from_le_bytes(jitter)) % 1001;
            let next = after_failure(msg, endpoint_id, done_at, &cfg.retry_schedule, j, retry_after);
            let status = match &next {
                Next::Retry(s) => {
                    stmts.push(record("retrying", Some(Millis(s.message.due_ms).to_rfc3339())));
                    "retrying"
                }
                _ => {
                    stmts.push(record("failed", None));
                    "failed"
                }
            };
            stmts.push(health(true));
            if should_disable(target.failing_since.as_deref(), done_at, cfg.disable_after_seconds) {
                let since = target.failing_since.as_deref().unwrap_or_default();
                let reason = format!("Every attempt failed since {since} (more than {} seconds)", cfg.disable_after_seconds);
                stmts.extend(crate::app::api::webhooks::disable(endpoint_id, &reason, &done_text));
            }
            (next, status)
        }
    };
    (stmts, next, status)
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
        let Next::Retry(s) = after_failure(&msg(9), "endpoint_1", Millis(1_000_000), &DEFAULT_RETRY_SCHEDULE, 500, None) else { panic!("expected a retry") };
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
        fn now(&self) -> Millis {
            Millis(0)
        }
        async fn post(&self, _: &str, _: Vec<(String, String)>, _: Vec<u8>, _: Timeouts) -> PostResult {
            panic!("no POST may happen before a message is due")
        }
    }

    #[test]
    fn a_message_that_arrives_before_its_due_time_is_queued_again_for_the_rest() {
        let db = crate::storage::sqlite::Sqlite::open_migrated().unwrap();
        let cfg = crate::app::Config::default();
        let entropy = crate::support::ids::tests::Counter(std::cell::Cell::new(1));
        let svc = Services::new(&db, &cfg, Millis(0), &entropy);
        let early = QueueMessage { due_ms: 100_000_000, ..msg(10) };
        let soon = QueueMessage { due_ms: 2_500, ..msg(3) };
        let h = crate::storage::sqlite::block_on(handle_batch(&svc, &NoNetwork, &[early.clone(), soon]));
        assert!(h[0].ack);
        assert_eq!(h[0].send, vec![Send { message: early.clone(), delay_seconds: 43_200 }]);
        assert_eq!(h[1].send[0].delay_seconds, 3);
    }
}

#[cfg(test)]
mod circuit_tests;
