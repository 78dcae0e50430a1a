//! Preconditions: how a write batch re-checks what its use case read.
//!
//! D1 has no interactive transactions. A use case reads, decides in Rust,
//! then sends one batch that makes the change. Between the read and the
//! write someone else may have changed the same rows, so the batch opens
//! with guards: each is an `INSERT INTO guard` that inserts a row only when
//! its condition fails, and the `guard` table's CHECK constraint (named
//! `precondition_failed`, see migrations/0001_init.sql) rejects every row.
//! A failed condition therefore aborts the whole batch, which rolls back,
//! and the driver's message names the constraint; [`DbError::from_message`]
//! turns it into [`DbError::Precondition`], and the use case reads again.
//!
//! Every guard in the code base is built here, by [`unless`] or
//! [`unless_exists`]; nothing else writes to the `guard` table.
//!
//! [`DbError::from_message`]: super::DbError::from_message
//! [`DbError::Precondition`]: super::DbError::Precondition

use super::{SqlValue, Stmt};

/// Aborts the batch unless `condition` (an SQL boolean expression over the
/// bound `params`) holds when the statement runs. `reason` is a short
/// literal naming the precondition for someone reading a failed batch.
pub fn unless(reason: &'static str, condition: &str, params: Vec<SqlValue>) -> Stmt {
    debug_assert!(reason.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "guard reasons are plain words");
    Stmt::new(format!("INSERT INTO guard (reason) SELECT '{reason}' WHERE NOT ({condition})"), params)
}

/// Aborts the batch unless `select` (a `SELECT 1 FROM …`) finds a row.
pub fn unless_exists(reason: &'static str, select: &str, params: Vec<SqlValue>) -> Stmt {
    unless(reason, &format!("EXISTS ({select})"), params)
}

/// A statement that always aborts its batch (tests of atomicity).
pub fn always(reason: &'static str) -> Stmt {
    unless(reason, "0", Vec::new())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::stmt;
    use crate::storage::sqlite::{block_on, Sqlite};
    use crate::storage::{Db, DbError};

    #[test]
    fn a_failed_condition_rolls_the_whole_batch_back() {
        let db = Sqlite::open_migrated().unwrap();
        let insert = stmt!("INSERT INTO organizations (id, name, created_at, updated_at) VALUES ('o1', 'A', 't', 't')");
        let r = block_on(db.batch(vec![insert.clone(), unless_exists("org", "SELECT 1 FROM organizations WHERE name = ?1", vec!["B".into()])]));
        assert_eq!(r.err(), Some(DbError::Precondition));
        let r = block_on(db.batch(vec![insert, unless_exists("org", "SELECT 1 FROM organizations WHERE name = ?1", vec!["A".into()])]));
        assert!(r.is_ok());
        let r = block_on(db.batch(vec![unless("count", "(SELECT count(*) FROM organizations) = ?1", vec![SqlValue::Int(1)])]));
        assert!(r.is_ok());
        assert_eq!(block_on(db.batch(vec![always("test")])).err(), Some(DbError::Precondition));
        let n = block_on(db.batch(vec![stmt!("SELECT count(*) AS n FROM guard")])).unwrap();
        assert_eq!(n[0].rows[0].get("n"), Some(&serde_json::json!(0)));
    }
}
