//! What the sweeper looks for: events no consumer picked up, attempts whose
//! Queue message looks lost (retries and deferrals long overdue, claims
//! never recorded) to endpoints still enabled, and re-enabled endpoints
//! with a catch-up to schedule; and the catch-up cursor.

use crate::stmt;
use crate::storage::events::undispatched;
use crate::storage::{Batch, Db, DbError, Row, RowExt, SqlValue, Stmt};
use serde_json::Value;

/// Where a pending attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Failed; its next attempt is due at `next_attempt_at`.
    Retrying,
    /// Claimed, and never recorded (a crash mid-POST).
    Sending,
    /// Deferred while a circuit was open; due at `next_attempt_at`.
    Deferred,
}

/// An attempt whose Queue message looks lost.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAttempt {
    pub event_id: String,
    pub endpoint_id: String,
    pub chain: String,
    /// The attempt the row is (1-based).
    pub attempt: i64,
    pub state: Pending,
}

/// A re-enabled endpoint's catch-up: events with `from < pos <= end`, as chain `chain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Catchup {
    pub endpoint_id: String,
    pub from: i64,
    pub end: i64,
    pub chain: String,
}

/// What one sweep found.
#[derive(Debug, Clone, Default)]
pub struct Overdue {
    pub undispatched: Vec<String>,
    pub attempts: Vec<PendingAttempt>,
    pub catchups: Vec<Catchup>,
}

/// How late is lost, and how much one sweep takes.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs<'a> {
    /// Events created, and retries and deferrals due, before this.
    pub late: &'a str,
    /// Claims made before this (a POST's timeout later than `late`).
    pub sending: &'a str,
    /// Rows of each kind.
    pub limit: i64,
    /// Endpoints caught up per sweep.
    pub catchup_endpoints: i64,
}

/// The pending attempts in `state`, oldest first, to endpoints in `scope`
/// (an SQL fragment ending in `WHERE` or `AND`).
fn pending(state: Pending, scope: &str, late: &str, sending: &str, limit: i64, mut extra: Vec<SqlValue>) -> Stmt {
    let (status, at, cutoff) = match state {
        Pending::Retrying => ("retrying", "next_attempt_at", late),
        Pending::Sending => ("sending", "created_at", sending),
        Pending::Deferred => ("deferred", "next_attempt_at", late),
    };
    let mut params = vec![cutoff.into(), limit.into()];
    params.append(&mut extra);
    Stmt::new(
        format!(
            "SELECT d.event_id, d.endpoint_id, d.chain, d.attempt FROM deliveries d {scope} \
             d.status = '{status}' AND d.{at} < ?1 ORDER BY d.{at} LIMIT ?2"
        ),
        params,
    )
}

const STATES: [Pending; 3] = [Pending::Retrying, Pending::Sending, Pending::Deferred];

/// One sweep's reads: one batch when control and data are one database;
/// else the enabled endpoints (and the catch-ups) are read from control
/// first and the data statements take their ids.
pub async fn overdue<D: Db>(control: &D, data: &D, c: &Cutoffs<'_>) -> Result<Overdue, DbError> {
    let catchups = stmt!(
        "SELECT id, catchup_pos, catchup_end, catchup_chain FROM webhook_endpoints WHERE state = 'enabled' AND catchup_pos IS NOT NULL ORDER BY id LIMIT ?1",
        c.catchup_endpoints
    );
    if crate::storage::db::same_database(control, data) {
        let mut b = Batch::new();
        let events = b.push(undispatched(c.late, c.limit));
        let scope = "JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.state = 'enabled' WHERE";
        let attempts = STATES.map(|s| b.push(pending(s, scope, c.late, c.sending, c.limit, Vec::new())));
        let catchups = b.push(catchups);
        let r = b.run(data).await?;
        return Ok(found(r.rows(events), attempts.map(|a| r.rows(a)), r.rows(catchups)));
    }
    let mut b = Batch::new();
    let enabled = b.push(stmt!("SELECT id FROM webhook_endpoints WHERE state = 'enabled'"));
    let catchups = b.push(catchups);
    let on_control = b.run(control).await?;
    let enabled = Value::from(on_control.rows(enabled).iter().map(|w| w.string("id")).collect::<Vec<_>>()).to_string();
    let mut b = Batch::new();
    let events = b.push(undispatched(c.late, c.limit));
    let scope = "WHERE d.endpoint_id IN (SELECT value FROM json_each(?3)) AND";
    let attempts = STATES.map(|s| b.push(pending(s, scope, c.late, c.sending, c.limit, vec![enabled.as_str().into()])));
    let r = b.run(data).await?;
    Ok(found(r.rows(events), attempts.map(|a| r.rows(a)), on_control.rows(catchups)))
}

/// The rows of a sweep's reads, typed.
fn found(events: &[Row], attempts: [&[Row]; 3], catchups: &[Row]) -> Overdue {
    let attempt = |state: Pending| {
        move |row: &Row| PendingAttempt {
            event_id: row.string("event_id"),
            endpoint_id: row.string("endpoint_id"),
            chain: row.string("chain"),
            attempt: row.int("attempt").unwrap_or(0),
            state,
        }
    };
    Overdue {
        undispatched: events.iter().map(|row| row.string("id")).collect(),
        attempts: STATES.iter().zip(attempts).flat_map(|(&s, rows)| rows.iter().map(attempt(s))).collect(),
        catchups: catchups
            .iter()
            .map(|row| Catchup {
                endpoint_id: row.string("id"),
                from: row.int("catchup_pos").unwrap_or(0),
                end: row.int("catchup_end").unwrap_or(0),
                chain: row.string("catchup_chain"),
            })
            .collect(),
    }
}

/// Moves an endpoint's catch-up cursor from `from` to `next` (None: done)
/// with a compare-and-set; false when another sweep moved it first.
pub async fn advance_catchup<D: Db>(control: &D, endpoint_id: &str, from: i64, next: Option<i64>) -> Result<bool, DbError> {
    let moved = control.batch(vec![stmt!("UPDATE webhook_endpoints SET catchup_pos = ?2 WHERE id = ?1 AND catchup_pos = ?3", endpoint_id, next, from)]).await?;
    Ok(moved.first().map_or(0, |m| m.rows_written) > 0)
}
