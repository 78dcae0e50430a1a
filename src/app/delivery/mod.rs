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
mod record;

use crate::app::{Cost, Meters};
use crate::storage::db::Metered;
use crate::storage::Db;
use crate::support::time::Millis;
use crate::webhook::retry::MAX_QUEUE_DELAY;
use crate::webhook::sign::{signature_header, workos_signature};
use claims::{prepare, Prepared};
use futures_util::future::join_all;
use record::finish;
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

impl DeliveryOutcome {
    /// An attempt deferred without a POST (it keeps its number).
    fn deferred(endpoint_id: String, msg: &QueueMessage) -> Self {
        DeliveryOutcome { endpoint_id, attempt: msg.attempt.max(1), status: "deferred", response_code: None, ms: 0, probe: false }
    }
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

/// Handles one Queue batch: every message's claim batch concurrently, then
/// all their POSTs within the invocation's budget, then every message's
/// record batch concurrently. One [`Handled`] per message, in order.
pub async fn handle_batch<D: Db, H: HttpClient>(svc: &Services<'_, D>, http: &H, msgs: &[QueueMessage]) -> Vec<Handled> {
    let meters: Vec<Meters<'_, D>> = msgs.iter().map(|_| Meters::new(svc)).collect();
    let svcs: Vec<Services<'_, Metered<'_, D>>> = meters.iter().map(|m| m.services(svc)).collect();
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
        .map(|(mut h, m)| {
            h.cost = m.cost();
            h.ms = http.now().0 - svc.now.0;
            h
        })
        .collect()
}

/// The same attempt again at `due` (a Queue delay of at most 12 hours; the
/// message carries its due time, so a longer wait is chained).
fn requeue(message: QueueMessage, due: Millis, now: Millis) -> Send {
    let remaining = u64::try_from((due.0 - now.0 + 999) / 1000).unwrap_or(0);
    Send { message: QueueMessage { due_ms: due.0, ..message }, delay_seconds: u32::try_from(remaining.min(MAX_QUEUE_DELAY)).unwrap_or(0) }
}

/// Signs and POSTs the event to one endpoint; returns when it started.
/// Every POST carries both signatures: Standard Webhooks' (`webhook-*`,
/// one per live secret) and WorkOS's (`workos-signature`, with the current
/// secret, the first of `secrets`, at the same instant in milliseconds).
async fn post<H: HttpClient>(http: &H, msg: &QueueMessage, target: &Target, body: &[u8], timeouts: Timeouts) -> (Millis, PostResult) {
    let at = http.now();
    if target.secrets.is_empty() {
        return (at, PostResult { error: Some("the signing secret cannot be opened (ENCRYPTION_KEY changed?)".into()), ..Default::default() });
    }
    let ts = at.seconds();
    let refs: Vec<&str> = target.secrets.iter().map(String::as_str).collect();
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("user-agent".to_string(), "Rollcall-Webhooks/1.0".to_string()),
        ("webhook-id".to_string(), msg.event_id.clone()),
        ("webhook-timestamp".to_string(), ts.to_string()),
        ("webhook-signature".to_string(), signature_header(&refs, &msg.event_id, ts, body)),
    ];
    if let Some(current) = refs.first() {
        headers.push(("workos-signature".to_string(), workos_signature(current, at.0, body)));
    }
    (at, http.post(&target.url, headers, body.to_vec(), timeouts).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(attempt: u32) -> QueueMessage {
        QueueMessage { event_id: "event_1".into(), endpoint_id: Some("endpoint_1".into()), attempt, due_ms: 0, chain: None }
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
