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
