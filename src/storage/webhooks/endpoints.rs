//! Webhook endpoints as the management API keeps them (control database),
//! and the statements that disable or re-enable one, which also end its
//! pending deliveries (data database) and remember where the event log
//! stood (for a later catch-up).

use super::{LogEnd, Mixed};
use crate::stmt;
use crate::storage::page::Keyset;
use crate::storage::{Db, DbError, Row, RowExt, SqlValue, Stmt};
use crate::webhook::circuit::Counters;

const COLUMNS: &str = "id, url, events, state, disabled_reason, previous_secret_expires_at, created_at, updated_at, \
     consecutive_failures, failing_since, circuit_open_until, health_bucket, bucket_attempts, bucket_failures, prev_attempts, prev_failures";

/// An endpoint as the API shows it, with its health counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    /// The event names it subscribes to; None: every event.
    pub events: Option<Vec<String>>,
    pub state: String,
    pub disabled_reason: Option<String>,
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub consecutive_failures: i64,
    pub failing_since: Option<String>,
    /// None: the circuit is closed; else when its next probe may go.
    pub circuit_open_until: Option<String>,
    pub counters: Counters,
}

fn opt(row: &Row, col: &str) -> Option<String> {
    row.str(col).map(str::to_string)
}

impl Endpoint {
    fn from_row(r: &Row) -> Self {
        let int = |c: &str| r.int(c).unwrap_or(0);
        Endpoint {
            id: r.string("id"),
            url: r.string("url"),
            events: serde_json::from_value(r.json("events")).ok(),
            state: r.string("state"),
            disabled_reason: opt(r, "disabled_reason"),
            previous_secret_expires_at: opt(r, "previous_secret_expires_at"),
            created_at: r.string("created_at"),
            updated_at: r.string("updated_at"),
            consecutive_failures: int("consecutive_failures"),
            failing_since: opt(r, "failing_since"),
            circuit_open_until: opt(r, "circuit_open_until"),
            counters: Counters {
                bucket: int("health_bucket"),
                attempts: int("bucket_attempts"),
                failures: int("bucket_failures"),
                prev_attempts: int("prev_attempts"),
                prev_failures: int("prev_failures"),
            },
        }
    }
}

fn select(id: &str) -> Stmt {
    stmt!(format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = ?1"), id)
}

/// A new endpoint; its secret already sealed (bound to `id`).
#[derive(Debug, Clone)]
pub struct NewEndpoint<'a> {
    pub id: &'a str,
    pub url: &'a str,
    /// JSON text of the subscribed names; None: every event.
    pub events: Option<&'a str>,
    pub secret_sealed: &'a str,
    pub now: &'a str,
}

/// Inserts the endpoint and reads it back.
pub async fn create<D: Db>(control: &D, e: &NewEndpoint<'_>) -> Result<Option<Endpoint>, DbError> {
    let insert = stmt!(
        "INSERT INTO webhook_endpoints (id, url, events, secret_sealed, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        e.id,
        e.url,
        e.events,
        e.secret_sealed,
        e.now
    );
    let r = control.batch(vec![insert, select(e.id)]).await?;
    Ok(r.get(1).and_then(|r| r.rows.first()).map(Endpoint::from_row))
}

/// One page of endpoints (rows as [`Keyset::stmt`] reads them).
pub async fn list<D: Db>(control: &D, page: &Keyset) -> Result<Vec<Endpoint>, DbError> {
    let r = control.batch(vec![page.stmt(COLUMNS, "webhook_endpoints", "1 = 1", Vec::new(), "id")]).await?;
    Ok(r.first().map(|r| r.rows.iter().map(Endpoint::from_row).collect()).unwrap_or_default())
}

pub async fn get<D: Db>(control: &D, id: &str) -> Result<Option<Endpoint>, DbError> {
    let r = control.batch(vec![select(id)]).await?;
    Ok(r.first().and_then(|r| r.rows.first()).map(Endpoint::from_row))
}

/// Turning an endpoint on or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// Re-enable it, catching it up on what it missed as chain `catchup_chain`.
    Enable { catchup_chain: String },
    /// Disable it, saying why.
    Disable { reason: String },
}

/// What a PATCH changes: absent fields stay as they are.
#[derive(Debug, Clone)]
pub struct EndpointChange<'a> {
    pub url: Option<&'a str>,
    /// Some(None): every event; Some(Some(json)): those names.
    pub events: Option<Option<&'a str>>,
    pub state: Option<StateChange>,
    pub now: &'a str,
}

/// Applies the change and reads the endpoint back (None: no such endpoint).
/// Re-enabling resets its health and sets the catch-up cursor before the
/// state changes; disabling ends its pending retries and deferrals.
pub async fn update<D: Db>(control: &D, data: &D, id: &str, c: &EndpointChange<'_>) -> Result<Option<Endpoint>, DbError> {
    let mut m = Mixed::new(control, data);
    let end = if c.state.is_some() { m.log_end().await? } else { LogEnd::Inline };
    if let Some(StateChange::Enable { catchup_chain }) = &c.state {
        m.control(reenable(id, catchup_chain, end));
    }
    let state = c.state.as_ref().map(|s| if matches!(s, StateChange::Enable { .. }) { "enabled" } else { "disabled" });
    m.control(stmt!(
        "UPDATE webhook_endpoints SET url = coalesce(?2, url), events = CASE WHEN ?3 = 1 THEN ?4 ELSE events END, \
         state = coalesce(?5, state), disabled_reason = CASE WHEN ?5 = 'enabled' THEN NULL ELSE disabled_reason END, updated_at = ?6 WHERE id = ?1",
        id,
        c.url,
        c.events.is_some(),
        c.events.flatten(),
        state,
        c.now
    ));
    if let Some(StateChange::Disable { reason }) = &c.state {
        disable(&mut m, id, reason, c.now, end);
    }
    let read = m.control(select(id));
    let r = m.run().await?;
    Ok(r.first(read).map(Endpoint::from_row))
}

/// Deletes the endpoint and ends its pending retries; whether it existed.
pub async fn delete<D: Db>(control: &D, data: &D, id: &str) -> Result<bool, DbError> {
    let mut m = Mixed::new(control, data);
    let found = m.control(stmt!("SELECT count(*) AS n FROM webhook_endpoints WHERE id = ?1", id));
    m.control(stmt!("DELETE FROM webhook_endpoints WHERE id = ?1", id));
    m.data(stmt!("UPDATE deliveries SET status = 'cancelled' WHERE endpoint_id = ?1 AND status = 'retrying'", id));
    let r = m.run().await?;
    Ok(r.first(found).and_then(|r| r.int("n")) == Some(1))
}

/// A new sealed secret; the current one becomes the previous one until
/// `previous_expires_at`. Reads the endpoint back (None: no such endpoint).
pub async fn rotate_secret<D: Db>(control: &D, id: &str, sealed: &str, previous_expires_at: &str, now: &str) -> Result<Option<Endpoint>, DbError> {
    let rotate = stmt!(
        "UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed, previous_secret_expires_at = ?2, secret_sealed = ?3, updated_at = ?4 WHERE id = ?1",
        id,
        previous_expires_at,
        sealed,
        now
    );
    let r = control.batch(vec![rotate, select(id)]).await?;
    Ok(r.get(1).and_then(|r| r.rows.first()).map(Endpoint::from_row))
}

/// Disables an endpoint and ends its pending retries and deferrals (a 410
/// from the receiver, a failure lasting WEBHOOK_DISABLE_AFTER_SECONDS, or
/// the API): nothing more is sent to it, and the sweeper no longer sees
/// them as overdue. It remembers where a re-enable catches up from: the
/// first event of its run of failures, or else the end of the log.
pub(crate) fn disable<D: Db>(m: &mut Mixed<'_, D>, id: &str, reason: &str, now: &str, end: LogEnd) {
    let mut params = vec![SqlValue::from(id), SqlValue::from(reason), SqlValue::from(now)];
    let end = end.expr(&mut params);
    m.control(Stmt::new(
        format!(
            "UPDATE webhook_endpoints SET state = 'disabled', disabled_reason = ?2, updated_at = ?3, \
             disabled_pos = coalesce(disabled_pos, failing_pos - 1, {end}) WHERE id = ?1"
        ),
        params,
    ));
    m.data(stmt!("UPDATE deliveries SET status = 'cancelled' WHERE endpoint_id = ?1 AND status IN ('retrying', 'deferred')", id));
}

/// Re-enabling a disabled endpoint: a fresh bill of health, and a catch-up
/// cursor over the events it missed (from where it was disabled to the end
/// of the log now), which the sweeper schedules in chunks as chain `chain`.
/// Must run before the statement that sets the state.
fn reenable(id: &str, chain: &str, end: LogEnd) -> Stmt {
    let mut params = vec![SqlValue::from(id), SqlValue::from(chain)];
    let end = end.expr(&mut params);
    Stmt::new(
        format!(
            "UPDATE webhook_endpoints SET catchup_pos = disabled_pos, catchup_end = {end}, catchup_chain = ?2, \
             disabled_pos = NULL, consecutive_failures = 0, failing_since = NULL, failing_pos = NULL, circuit_open_until = NULL, circuit_opens = 0, probe_claim = NULL \
             WHERE id = ?1 AND state = 'disabled'"
        ),
        params,
    )
}
