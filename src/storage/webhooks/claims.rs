//! The claim batch of a delivery: takes the probe of open circuits that are
//! due for one, claims the attempt for endpoints whose circuit is closed,
//! defers it for the others, and reads the event. Every statement touches
//! the rows of one (event, endpoint) pair or one endpoint row: O(1) rows
//! per attempt.
//!
//! With one database it is one batch whose statements join endpoints with
//! events and deliveries. With separate databases the same decisions take
//! three calls: the event and what it already got (data), the probe and the
//! endpoints' circuits (control), then the claims (data), each taking what
//! the previous call read as parameters.

use crate::stmt;
use crate::storage::events::{mark_dispatched, select as select_event, EventRecord};
use crate::storage::{Batch, Db, DbError, Row, RowExt, SqlValue, Stmt};
use serde_json::{json, Value};

/// The attempt a Queue message asks for, and this message's claim.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    pub event_id: &'a str,
    /// One endpoint (a retry), or None: every subscribed endpoint.
    pub endpoint_id: Option<&'a str>,
    pub chain: &'a str,
    /// 1-based.
    pub attempt: u32,
    /// This message's own time-ordered id: it names the claims and, with
    /// the endpoint, makes each delivery id.
    pub token: &'a str,
    pub now: &'a str,
    /// Until when a probe taken holds the circuit (the request's timeout and some).
    pub lease: &'a str,
}

/// What a claim batch found: the event (None: never committed) and the
/// endpoints this message claimed or deferred, by endpoint id.
#[derive(Debug, Clone, Default)]
pub struct Claim {
    pub event: Option<EventRecord>,
    pub targets: Vec<ClaimedEndpoint>,
}

/// An endpoint this message claimed (to POST now) or deferred.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEndpoint {
    pub delivery_id: String,
    pub endpoint_id: String,
    /// Deferred (no POST): its circuit is open or it is on hold.
    pub deferred: bool,
    /// When a deferred attempt is due.
    pub due_at: Option<String>,
    pub url: String,
    pub secret_sealed: Option<String>,
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_expires_at: Option<String>,
    /// This message holds the probe of the endpoint's open circuit.
    pub probe: bool,
    pub circuit_opens: u32,
    pub failing_since: Option<String>,
}

impl ClaimedEndpoint {
    fn from_row(row: &Row) -> Self {
        let opt = |c: &str| row.str(c).map(str::to_string);
        ClaimedEndpoint {
            delivery_id: row.string("delivery_id"),
            endpoint_id: row.string("id"),
            deferred: row.str("claim_status") == Some("deferred"),
            due_at: opt("due_at"),
            url: row.string("url"),
            secret_sealed: opt("secret_sealed"),
            previous_secret_sealed: opt("previous_secret_sealed"),
            previous_secret_expires_at: opt("previous_secret_expires_at"),
            probe: row.int("probe") == Some(1),
            circuit_opens: u32::try_from(row.int("circuit_opens").unwrap_or(0)).unwrap_or(0),
            failing_since: opt("failing_since"),
        }
    }
}

/// The endpoint `w` subscribes to the event named by `event`.
fn subscribed(event: &str) -> String {
    format!("(w.events IS NULL OR EXISTS (SELECT 1 FROM json_each(w.events) j WHERE j.value = {event}))")
}

/// The endpoint `w` has not yet received the event `e` in this chain `?3`
/// (a catch-up chain skips what any chain delivered).
const NOT_RECEIVED: &str = "NOT EXISTS (SELECT 1 FROM deliveries s WHERE s.event_id = e.id AND s.endpoint_id = w.id AND s.status = 'succeeded' \
     AND (s.chain = ?3 OR ?3 LIKE 'catchup%'))";

/// Whether this message may POST to the endpoint `w` now: its circuit is
/// closed or this message (`?5`) holds the probe, and it is not on hold at
/// `?6`. The claim takes exactly these endpoints and the deferral exactly
/// the others (null-safe comparisons, so that `NOT` is the complement), so
/// no attempt falls between them.
const CLEAR: &str = "((w.circuit_open_until IS NULL OR w.probe_claim IS ?5) AND (w.hold_until IS NULL OR w.hold_until <= ?6))";

/// When a deferred attempt to `w` is due: its next probe or the end of its hold.
const DUE: &str = "max(coalesce(w.circuit_open_until, ''), coalesce(w.hold_until, ''))";

/// A retry for an endpoint since disabled or deleted ends its chain.
const CANCEL: &str =
    "UPDATE deliveries SET status = 'cancelled' WHERE event_id = ?1 AND endpoint_id = ?2 AND chain = ?3 AND status IN ('retrying', 'deferred')";

/// Inserts this message's attempt (`?1` event, `?3` chain, `?4` attempt,
/// `?5` token, `?6` now) for the endpoints `w` of `from_where`, as a row
/// `sending` (unique per event, endpoint, chain, attempt) or `deferred`
/// until `due`. A `deferred` row of the same attempt is taken over; any
/// other row wins, so only the message that claimed an attempt POSTs and
/// retry chains never multiply.
fn insert_attempts(deferred: Option<&str>, from_where: &str, params: Vec<SqlValue>) -> Stmt {
    let sql = match deferred {
        None => format!(
            "INSERT INTO deliveries (id, event_id, endpoint_id, chain, attempt, claim, status, created_at) \
             SELECT ?5 || '_' || substr(w.id, 10), e.id, w.id, ?3, ?4, ?5, 'sending', ?6 \
             {from_where} \
             ON CONFLICT (event_id, endpoint_id, chain, attempt) DO UPDATE SET claim = excluded.claim, status = 'sending', \
               created_at = excluded.created_at, next_attempt_at = NULL WHERE deliveries.status = 'deferred'"
        ),
        Some(due) => format!(
            "INSERT INTO deliveries (id, event_id, endpoint_id, chain, attempt, claim, status, next_attempt_at, created_at) \
             SELECT ?5 || '_' || substr(w.id, 10), e.id, w.id, ?3, ?4, ?5, 'deferred', \
                    {due}, ?6 \
             {from_where} \
             ON CONFLICT (event_id, endpoint_id, chain, attempt) DO UPDATE SET claim = excluded.claim, \
               next_attempt_at = excluded.next_attempt_at WHERE deliveries.status = 'deferred'"
        ),
    };
    Stmt::new(sql, params)
}

/// Earlier attempts of the same (event, endpoint, chain) as an attempt this
/// claim deferred are no longer the pending one (the sweeper then heals the
/// deferred attempt, not an earlier retry).
fn retire_before_deferred(token: &str) -> Stmt {
    stmt!(
        "UPDATE deliveries SET status = 'retried' WHERE status IN ('retrying', 'sending') AND id IN ( \
           SELECT p.id FROM deliveries d JOIN deliveries p ON p.event_id = d.event_id AND p.endpoint_id = d.endpoint_id AND p.chain = d.chain \
           WHERE d.claim = ?1 AND d.status = 'deferred' AND p.attempt < d.attempt)",
        token
    )
}

/// Claims the attempt (see the module documentation): one batch when
/// `control` and `data` are one database, else three calls.
pub async fn claim<D: Db>(control: &D, data: &D, req: &ClaimRequest<'_>) -> Result<Claim, DbError> {
    if crate::storage::db::same_database(control, data) {
        claim_shared(control, req).await
    } else {
        claim_split(control, data, req).await
    }
}

/// `?1` event, `?2` endpoint (or NULL), `?3` chain, `?4` attempt, `?5` token, `?6` now.
fn shared_params(req: &ClaimRequest<'_>) -> Vec<SqlValue> {
    vec![req.event_id.into(), req.endpoint_id.into(), req.chain.into(), i64::from(req.attempt).into(), req.token.into(), req.now.into()]
}

async fn claim_shared<D: Db>(db: &D, req: &ClaimRequest<'_>) -> Result<Claim, DbError> {
    let addressed = format!("{} AND {NOT_RECEIVED}", subscribed("e.event"));
    let mut b = Batch::new();
    if let Some(endpoint) = req.endpoint_id {
        let cancel = format!("{CANCEL} AND NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?2 AND state = 'enabled')");
        b.push(stmt!(cancel, req.event_id, endpoint, req.chain));
    }
    // The probe: a conditional UPDATE, so of all concurrent consumers
    // exactly one gets it; it holds the circuit open until the lease ends.
    let mut probe_params = shared_params(req);
    probe_params.push(req.lease.into());
    b.push(Stmt::new(
        format!(
            "UPDATE webhook_endpoints AS w SET probe_claim = ?5, circuit_open_until = ?7 \
             WHERE w.state = 'enabled' AND w.circuit_open_until IS NOT NULL AND w.circuit_open_until <= ?6 AND (?2 IS NULL OR w.id = ?2) \
               AND (w.hold_until IS NULL OR w.hold_until <= ?6) \
               AND EXISTS (SELECT 1 FROM events e WHERE e.id = ?1 AND {addressed}) \
               AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.event_id = ?1 AND x.endpoint_id = w.id AND x.chain = ?3 AND x.attempt = ?4 AND x.status <> 'deferred')"
        ),
        probe_params,
    ));
    let from = "FROM events e, webhook_endpoints w \
             WHERE e.id = ?1 AND w.state = 'enabled' AND (?2 IS NULL OR w.id = ?2) \
               AND";
    b.push(insert_attempts(None, &format!("{from} {CLEAR} AND {addressed}"), shared_params(req)));
    b.push(insert_attempts(Some(DUE), &format!("{from} NOT {CLEAR} AND {addressed}"), shared_params(req)));
    b.push(retire_before_deferred(req.token));
    let claimed = b.push(stmt!(
        "SELECT d.id AS delivery_id, d.status AS claim_status, d.next_attempt_at AS due_at, w.id, w.url, w.secret_sealed, \
                w.previous_secret_sealed, w.previous_secret_expires_at, coalesce(w.probe_claim = ?1, 0) AS probe, \
                w.circuit_opens, w.circuit_open_until, w.failing_since \
         FROM deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.claim = ?1 ORDER BY w.id",
        req.token
    ));
    let event = b.push(select_event(req.event_id));
    b.push(mark_dispatched(req.event_id, req.now));
    let r = b.run(db).await?;
    Ok(Claim { event: r.first(event).map(EventRecord::from_row), targets: r.rows(claimed).iter().map(ClaimedEndpoint::from_row).collect() })
}

fn ids(rows: &[Row]) -> String {
    Value::from(rows.iter().map(|r| r.string("endpoint_id")).collect::<Vec<_>>()).to_string()
}

async fn claim_split<D: Db>(control: &D, data: &D, req: &ClaimRequest<'_>) -> Result<Claim, DbError> {
    // 1. The event, the endpoints that received it, and those that made
    //    this attempt already.
    let mut b = Batch::new();
    let event = b.push(select_event(req.event_id));
    let received = b.push(stmt!(
        "SELECT s.endpoint_id FROM deliveries s WHERE s.event_id = ?1 AND s.status = 'succeeded' AND (s.chain = ?2 OR ?2 LIKE 'catchup%')",
        req.event_id,
        req.chain
    ));
    let attempted = b.push(stmt!(
        "SELECT x.endpoint_id FROM deliveries x WHERE x.event_id = ?1 AND x.chain = ?2 AND x.attempt = ?3 AND x.status <> 'deferred'",
        req.event_id,
        req.chain,
        i64::from(req.attempt)
    ));
    let r = b.run(data).await?;
    let Some(event) = r.first(event).map(EventRecord::from_row) else { return Ok(Claim::default()) };

    // 2. The probe and the circuits of the endpoints it is addressed to
    //    (?1 event name, ?2 endpoint, ?3 received, ?4 attempted, ?5 token, ?6 now, ?7 lease).
    let p: Vec<SqlValue> = vec![
        event.event.as_str().into(),
        req.endpoint_id.into(),
        ids(r.rows(received)).into(),
        ids(r.rows(attempted)).into(),
        req.token.into(),
        req.now.into(),
        req.lease.into(),
    ];
    let addressed = format!("{} AND w.id NOT IN (SELECT value FROM json_each(?3))", subscribed("?1"));
    let mut b = Batch::new();
    b.push(Stmt::new(
        format!(
            "UPDATE webhook_endpoints AS w SET probe_claim = ?5, circuit_open_until = ?7 \
             WHERE w.state = 'enabled' AND w.circuit_open_until IS NOT NULL AND w.circuit_open_until <= ?6 AND (?2 IS NULL OR w.id = ?2) \
               AND (w.hold_until IS NULL OR w.hold_until <= ?6) AND {addressed} AND w.id NOT IN (SELECT value FROM json_each(?4))"
        ),
        p.clone(),
    ));
    let endpoints = b.push(Stmt::new(
        format!(
            "SELECT w.id, w.url, w.secret_sealed, w.previous_secret_sealed, w.previous_secret_expires_at, coalesce(w.probe_claim = ?5, 0) AS probe, \
                    w.circuit_opens, w.circuit_open_until, w.failing_since, {CLEAR} AS clear, {DUE} AS due \
             FROM webhook_endpoints w WHERE w.state = 'enabled' AND (?2 IS NULL OR w.id = ?2) AND {addressed} ORDER BY w.id"
        ),
        p.into_iter().take(6).collect(),
    ));
    let enabled = req.endpoint_id.map(|id| b.push(stmt!("SELECT count(*) AS n FROM webhook_endpoints WHERE id = ?1 AND state = 'enabled'", id)));
    let r = b.run(control).await?;
    let endpoints = r.rows(endpoints);
    let clear: Vec<&str> = endpoints.iter().filter(|w| w.int("clear") == Some(1)).filter_map(|w| w.str("id")).collect();
    let held: Vec<Value> = endpoints.iter().filter(|w| w.int("clear") != Some(1)).map(|w| json!({ "id": w.str("id"), "due": w.str("due") })).collect();

    // 3. The claims, as the shared batch makes them.
    let mut b = Batch::new();
    if let (Some(endpoint), Some(enabled)) = (req.endpoint_id, enabled) {
        if r.first(enabled).and_then(|r| r.int("n")) != Some(1) {
            b.push(stmt!(CANCEL, req.event_id, endpoint, req.chain));
        }
    }
    let with = |list: String| vec![req.event_id.into(), list.into(), req.chain.into(), i64::from(req.attempt).into(), req.token.into(), req.now.into()];
    let mut claimed = None;
    if !clear.is_empty() || !held.is_empty() {
        let from = format!("WHERE e.id = ?1 AND {NOT_RECEIVED}");
        b.push(insert_attempts(None, &format!("FROM events e, (SELECT value AS id FROM json_each(?2)) w {from}"), with(Value::from(clear).to_string())));
        let held_from = "FROM events e, (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.due') AS due FROM json_each(?2)) w";
        b.push(insert_attempts(Some("w.due"), &format!("{held_from} {from}"), with(Value::from(held).to_string())));
        b.push(retire_before_deferred(req.token));
        claimed = Some(b.push(stmt!(
            "SELECT d.id AS delivery_id, d.status AS claim_status, d.next_attempt_at AS due_at, d.endpoint_id FROM deliveries d WHERE d.claim = ?1 ORDER BY d.endpoint_id",
            req.token
        )));
    }
    b.push(mark_dispatched(req.event_id, req.now));
    let written = b.run(data).await?;
    let rows = claimed.map(|c| written.rows(c)).unwrap_or_default();
    let targets = rows
        .iter()
        .filter_map(|d| {
            let w = endpoints.iter().find(|w| w.str("id") == d.str("endpoint_id"))?;
            let mut row = w.clone();
            row.extend(d.iter().map(|(k, v)| (k.clone(), v.clone())));
            Some(ClaimedEndpoint::from_row(&row))
        })
        .collect();
    Ok(Claim { event: Some(event), targets })
}
