//! Recording attempts: each POST's outcome on its delivery row (data
//! database) and on its endpoint's health counters (control database), in
//! one record batch per Queue message; and the log of attempts the
//! management API pages through.

use super::endpoints::disable;
use super::Mixed;
use crate::stmt;
use crate::storage::page::Keyset;
use crate::storage::{Db, DbError, Row, RowExt, SqlValue, Stmt};

/// One attempt of an event to an endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub event_id: &'a str,
    pub endpoint_id: &'a str,
    pub chain: &'a str,
    /// 1-based.
    pub attempt: u32,
}

/// How a POST went, as its delivery row keeps it.
#[derive(Debug, Clone, Copy)]
pub struct AttemptRecord<'a> {
    /// succeeded, retrying, failed or gone.
    pub status: &'a str,
    pub response_code: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<&'a str>,
    /// When the next attempt is due (a retry).
    pub next_attempt_at: Option<&'a str>,
    /// When the POST started.
    pub started_at: &'a str,
}

/// How one attempt went, for the endpoint's health counters.
#[derive(Debug, Clone, Copy)]
pub struct Health<'a> {
    pub endpoint_id: &'a str,
    pub failed: bool,
    /// When it ended (RFC 3339).
    pub at: &'a str,
    /// The event's position in the log (where a catch-up would resume).
    pub event_pos: i64,
    /// The claim token of the message that made the attempt.
    pub token: &'a str,
    pub threshold: u32,
    /// When the circuit's next probe is due should this failure open it.
    pub reopen_at: &'a str,
    pub bucket: i64,
    /// The attempt got no answer: hold the endpoint's attempts until then.
    pub hold_until: Option<&'a str>,
}

/// A statement of the record batch, or a disable (whose statements need
/// to know where the log ends, which depends on the databases).
enum Item {
    Control(Stmt),
    Data(Stmt),
    Disable { endpoint_id: String, reason: String, now: String },
}

/// The record batch of one Queue message, built in the order it runs.
#[derive(Default)]
pub struct Records {
    items: Vec<Item>,
}

impl Records {
    pub fn new() -> Self {
        Records::default()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// An attempt that got no POST in this invocation (its endpoint did not
    /// answer another one): deferred until `due`, keeping its number.
    pub fn deferred(&mut self, delivery_id: &str, due: &str, a: &Attempt<'_>) {
        self.items.push(Item::Data(stmt!(
            "UPDATE deliveries SET status = 'deferred', claim = NULL, next_attempt_at = ?2 WHERE id = ?1 AND status = 'sending'",
            delivery_id,
            due
        )));
        self.items.push(Item::Data(retire_before(a)));
    }
    /// A POST made for the claimed delivery `delivery_id`.
    pub fn attempted(&mut self, delivery_id: &str, a: &Attempt<'_>, r: &AttemptRecord<'_>) {
        self.items.push(Item::Data(retire_before(a)));
        self.items.push(Item::Data(stmt!(
            "UPDATE deliveries SET status = ?2, response_code = ?3, duration_ms = ?4, error = ?5, next_attempt_at = ?6, claim = NULL, created_at = ?7 WHERE id = ?1",
            delivery_id,
            r.status,
            r.response_code.map(i64::from),
            r.duration_ms,
            r.error,
            r.next_attempt_at,
            r.started_at
        )));
    }
    /// Updates the endpoint's health after an attempt, relative to the stored
    /// counters: a success closes the circuit and ends the run of failures; a
    /// failure counts, and opens the circuit when it reaches the threshold (or
    /// re-opens it when it was this message's probe, until `reopen_at`); a
    /// failure without an answer also puts the endpoint on hold.
    pub fn health(&mut self, o: &Health<'_>) {
        self.items.push(Item::Control(stmt!(
            "UPDATE webhook_endpoints SET \
               consecutive_failures = CASE WHEN ?2 = 1 THEN consecutive_failures + 1 ELSE 0 END, \
               failing_since = CASE WHEN ?2 = 1 THEN coalesce(failing_since, ?3) END, \
               failing_pos = CASE WHEN ?2 = 1 THEN min(coalesce(failing_pos, ?4), ?4) END, \
               circuit_open_until = CASE WHEN ?2 = 0 THEN NULL \
                 WHEN probe_claim IS ?5 OR (circuit_open_until IS NULL AND consecutive_failures + 1 >= ?6) THEN ?7 ELSE circuit_open_until END, \
               circuit_opens = CASE WHEN ?2 = 0 THEN 0 \
                 WHEN probe_claim IS ?5 OR (circuit_open_until IS NULL AND consecutive_failures + 1 >= ?6) THEN circuit_opens + 1 ELSE circuit_opens END, \
               probe_claim = CASE WHEN ?2 = 0 OR probe_claim IS ?5 THEN NULL ELSE probe_claim END, \
               prev_attempts = CASE WHEN health_bucket = ?8 THEN prev_attempts WHEN health_bucket = ?8 - 1 THEN bucket_attempts ELSE 0 END, \
               prev_failures = CASE WHEN health_bucket = ?8 THEN prev_failures WHEN health_bucket = ?8 - 1 THEN bucket_failures ELSE 0 END, \
               bucket_attempts = CASE WHEN health_bucket = ?8 THEN bucket_attempts ELSE 0 END + 1, \
               bucket_failures = CASE WHEN health_bucket = ?8 THEN bucket_failures ELSE 0 END + ?2, \
               health_bucket = ?8, \
               hold_until = CASE WHEN ?2 = 0 THEN NULL ELSE coalesce(?9, hold_until) END \
             WHERE id = ?1",
            o.endpoint_id,
            o.failed,
            o.at,
            o.event_pos,
            o.token,
            i64::from(o.threshold),
            o.reopen_at,
            o.bucket,
            o.hold_until
        )));
    }
    /// Disables the endpoint (see `disable` below).
    pub fn disable(&mut self, endpoint_id: &str, reason: &str, now: &str) {
        self.items.push(Item::Disable { endpoint_id: endpoint_id.to_string(), reason: reason.to_string(), now: now.to_string() });
    }
    /// Runs the record batch: one batch when control and data are one
    /// database, else the endpoints' statements first, then the deliveries'.
    pub async fn run<D: Db>(self, control: &D, data: &D) -> Result<(), DbError> {
        let mut m = Mixed::new(control, data);
        let any_disable = self.items.iter().any(|i| matches!(i, Item::Disable { .. }));
        let end = if any_disable { m.log_end().await? } else { super::LogEnd::Inline };
        for item in self.items {
            match item {
                Item::Control(s) => {
                    m.control(s);
                }
                Item::Data(s) => {
                    m.data(s);
                }
                Item::Disable { endpoint_id, reason, now } => disable(&mut m, &endpoint_id, &reason, &now, end),
            }
        }
        m.run().await.map(|_| ())
    }
}

/// Earlier attempts of the same (event, endpoint, chain) are no longer the
/// pending one once attempt `attempt` is made or deferred (the sweeper then
/// heals that attempt, not an earlier retry). A lookup on the unique key's
/// prefix: it reads that pair's attempts only.
fn retire_before(a: &Attempt<'_>) -> Stmt {
    stmt!(
        "UPDATE deliveries SET status = 'retried' WHERE event_id = ?1 AND endpoint_id = ?2 AND chain = ?3 AND attempt < ?4 AND status IN ('retrying', 'sending')",
        a.event_id,
        a.endpoint_id,
        a.chain,
        i64::from(a.attempt)
    )
}

/// One attempt as the deliveries log shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub chain: String,
    pub attempt: i64,
    pub status: String,
    pub response_code: Option<i64>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
}

impl DeliveryRecord {
    fn from_row(r: &Row) -> Self {
        DeliveryRecord {
            id: r.string("id"),
            event_id: r.string("event_id"),
            endpoint_id: r.string("endpoint_id"),
            chain: r.string("chain"),
            attempt: r.int("attempt").unwrap_or(0),
            status: r.string("status"),
            response_code: r.int("response_code"),
            duration_ms: r.int("duration_ms"),
            error: r.str("error").map(str::to_string),
            next_attempt_at: r.str("next_attempt_at").map(str::to_string),
            created_at: r.string("created_at"),
        }
    }
}

/// One page of the attempts to an endpoint, of one event if `event_id`.
pub async fn log<D: Db>(data: &D, endpoint_id: &str, event_id: Option<&str>, page: &Keyset) -> Result<Vec<DeliveryRecord>, DbError> {
    let mut cond = "endpoint_id = ?".to_string();
    let mut params = vec![SqlValue::from(endpoint_id)];
    if let Some(e) = event_id {
        cond.push_str(" AND event_id = ?");
        params.push(SqlValue::from(e));
    }
    let cols = "id, event_id, endpoint_id, chain, attempt, status, response_code, duration_ms, error, next_attempt_at, created_at";
    let r = data.batch(vec![page.stmt(cols, "deliveries", &cond, params, "id")]).await?;
    Ok(r.first().map(|r| r.rows.iter().map(DeliveryRecord::from_row).collect()).unwrap_or_default())
}
