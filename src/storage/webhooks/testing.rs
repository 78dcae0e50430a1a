//! Test helpers that set up and inspect webhook state directly (the
//! delivery use case's tests), so that no SQL lives outside storage.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::stmt;
use crate::storage::sqlite::{block_on, Sqlite};
use crate::storage::{Db, Row, RowExt};

/// An enabled endpoint subscribed to every event.
pub fn insert_endpoint(db: &Sqlite, id: &str, url: &str, secret_sealed: &str) {
    block_on(db.batch(vec![stmt!(
        "INSERT INTO webhook_endpoints (id, url, secret_sealed, created_at, updated_at) VALUES (?1, ?2, ?3, 't', 't')",
        id,
        url,
        secret_sealed
    )]))
    .unwrap();
}

/// A `dsync.user.created` event, next in the log, without a directory row.
pub fn insert_event(db: &Sqlite, id: &str) {
    block_on(db.batch(vec![stmt!(
        "INSERT INTO events (id, directory_id, organization_id, sequence, event, data, created_at) \
         VALUES (?1, 'd', 'o', (SELECT count(*) + 1 FROM events), 'dsync.user.created', '{}', 't')",
        id
    )]))
    .unwrap();
}

/// Every column of the endpoint row.
pub fn endpoint_row(db: &Sqlite, id: &str) -> Row {
    let r = block_on(db.batch(vec![stmt!("SELECT * FROM webhook_endpoints WHERE id = ?1", id)])).unwrap();
    r[0].rows[0].clone()
}

/// (attempt, status) of every delivery of the event, by attempt.
pub fn delivery_statuses(db: &Sqlite, event_id: &str) -> Vec<(i64, String)> {
    let r = block_on(db.batch(vec![stmt!("SELECT attempt, status FROM deliveries WHERE event_id = ?1 ORDER BY attempt", event_id)])).unwrap();
    r[0].rows.iter().map(|row| (row.int("attempt").unwrap(), row.string("status"))).collect()
}

/// Puts every endpoint on hold until `until`.
pub fn hold_all_until(db: &Sqlite, until: &str) {
    block_on(db.batch(vec![stmt!("UPDATE webhook_endpoints SET hold_until = ?1", until)])).unwrap();
}

/// Which database a [`Checked`] handle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Control and data in one database: anything goes.
    Both,
    Control,
    Data,
}

/// A database that fails the test when a statement names a table of the
/// other kind of database (both have every table, so a misplaced statement
/// would otherwise run, on the wrong rows, without an error).
pub struct Checked {
    pub db: Sqlite,
    pub side: Side,
}

impl Checked {
    pub fn new(side: Side) -> Self {
        Checked { db: Sqlite::open_migrated().unwrap(), side }
    }
}

const CONTROL_ONLY: &[&str] = &["organizations", "domains", "directory_tokens", "webhook_endpoints"];
const DATA_ONLY: &[&str] = &["users", "groups", "memberships", "user_emails", "events", "deliveries", "group_removals"];

/// The tables a statement names: after FROM, JOIN, INTO and UPDATE, and
/// the second table of `FROM a x, b y`.
pub fn tables(sql: &str) -> Vec<String> {
    let words: Vec<&str> = sql.split(|c: char| c.is_whitespace() || c == '(' || c == ')').filter(|w| !w.is_empty()).collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if ["FROM", "JOIN", "INTO", "UPDATE"].contains(&w.to_ascii_uppercase().as_str()) {
            if let Some(t) = words.get(i + 1) {
                out.push(t.trim_end_matches(',').to_string());
            }
            if words.get(i + 2).is_some_and(|a| a.ends_with(',')) {
                if let Some(t) = words.get(i + 3) {
                    out.push(t.to_string());
                }
            }
        }
    }
    out
}

impl Db for Checked {
    async fn batch(&self, stmts: Vec<crate::storage::Stmt>) -> Result<Vec<crate::storage::StmtResult>, crate::storage::DbError> {
        let wrong = match self.side {
            Side::Both => &[][..],
            Side::Control => DATA_ONLY,
            Side::Data => CONTROL_ONLY,
        };
        for s in &stmts {
            let bad: Vec<String> = tables(&s.sql).into_iter().filter(|t| wrong.contains(&t.as_str())).collect();
            assert!(bad.is_empty(), "{bad:?} named on the {:?} database: {}", self.side, s.sql);
        }
        self.db.batch(stmts).await
    }
}

#[test]
fn tables_are_found_after_from_join_into_update_and_commas() {
    let t = tables("INSERT INTO deliveries (id) SELECT w.id FROM events e, webhook_endpoints w WHERE NOT EXISTS (SELECT 1 FROM deliveries s) ");
    assert_eq!(t, ["deliveries", "events", "webhook_endpoints", "deliveries"]);
    assert_eq!(tables("SELECT id, url, events, state FROM webhook_endpoints WHERE id = ?1"), ["webhook_endpoints"]);
    assert_eq!(tables("UPDATE webhook_endpoints AS w SET x = 1"), ["webhook_endpoints"]);
}

#[test]
#[should_panic(expected = "named on the Data database")]
fn a_control_table_on_the_data_database_fails_the_test() {
    let _ = block_on(Checked::new(Side::Data).batch(vec![stmt!("SELECT id FROM webhook_endpoints")]));
}
