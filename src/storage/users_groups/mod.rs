//! A directory's users, groups and memberships, on the data database that
//! holds the directory (with its `user_emails` index and pending
//! `group_removals`, and the data-side `directories` row's counters).
//!
//! Reads are pushed into a [`Batch`] and handed back as a [`Read`]: a typed
//! slot the use case turns into records once the batch ran, so it never
//! sees a row or a position. Writes are statements the use case puts in its
//! write batch; every write that depends on what was read carries a guard
//! ([`crate::storage::guard`]), so a concurrent change aborts the batch and
//! the use case retries from a fresh read.

pub mod filter;
pub mod groups;
pub mod list;
pub mod management;
pub mod memberships;
pub mod removals;
pub mod users;

use super::{guard, Batch, Results, Row, Slot, SqlValue, Stmt};
use crate::directory::{GroupRecord, UserRecord};
use crate::scim::schema::ResourceKind;
use serde_json::Value;

/// Columns to select for a [`UserRecord`] from table alias `u`.
const USER_COLUMNS: &str = "u.id, u.directory_id, u.resource, u.version, u.created_at, u.updated_at";
/// Columns to select for a [`GroupRecord`] from table alias `g`.
const GROUP_COLUMNS: &str = "g.id, g.directory_id, g.resource, g.version, g.created_at, g.updated_at";

/// A member or group reference as SCIM shows it: id and display name.
#[derive(Debug, Clone, PartialEq)]
pub struct Ref {
    pub id: String,
    pub display: String,
}

/// A read pushed into a [`Batch`]: its statement's result, turned into a
/// `T` once the batch ran. Holding typed reads instead of positions means
/// adding a statement to a batch cannot shift what another read returns.
pub struct Read<T> {
    slot: Slot,
    parse: fn(&[Row]) -> T,
}

impl<T> Read<T> {
    fn push(b: &mut Batch, stmt: Stmt, parse: fn(&[Row]) -> T) -> Self {
        Read { slot: b.push(stmt), parse }
    }
    /// The records read, from the batch's results.
    pub fn get(&self, r: &Results) -> T {
        (self.parse)(r.rows(self.slot))
    }
}

fn user_of(rows: &[Row]) -> Option<UserRecord> {
    rows.first().and_then(UserRecord::from_row)
}

fn users_of(rows: &[Row]) -> Vec<UserRecord> {
    rows.iter().filter_map(UserRecord::from_row).collect()
}

fn group_of(rows: &[Row]) -> Option<GroupRecord> {
    rows.first().and_then(GroupRecord::from_row)
}

fn groups_of(rows: &[Row]) -> Vec<GroupRecord> {
    rows.iter().filter_map(GroupRecord::from_row).collect()
}

/// A list of ids as one bound parameter (read back with `json_each`), so a
/// statement's parameter count does not grow with the list.
fn ids_json(ids: &[String]) -> String {
    Value::from(ids.to_vec()).to_string()
}

fn count(n: usize) -> SqlValue {
    SqlValue::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn table(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    }
}

/// Aborts the batch unless the user or group still has the version read.
fn guard_version(kind: ResourceKind, id: &str, version: i64) -> Stmt {
    guard::unless_exists("version", &format!("SELECT 1 FROM {} WHERE id = ?1 AND version = ?2", table(kind)), vec![id.into(), version.into()])
}

/// Aborts the batch if the directory was deleted meanwhile (the data-side
/// `directories` row, which a directory delete marks in step with the
/// control side).
pub fn guard_directory_live(directory_id: &str) -> Stmt {
    guard::unless_exists("directory", "SELECT 1 FROM directories WHERE id = ?1 AND state = 'linked'", vec![directory_id.into()])
}

/// Keeps `directories.user_count` / `group_count` in step with inserts and
/// deletes: an unfiltered list's `totalResults` reads them instead of
/// counting the directory.
fn adjust_count(directory_id: &str, kind: ResourceKind, delta: i64) -> Stmt {
    let col = count_column(kind);
    Stmt::new(format!("UPDATE directories SET {col} = {col} + ?2 WHERE id = ?1"), vec![directory_id.into(), delta.into()])
}

fn count_column(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "user_count",
        ResourceKind::Group => "group_count",
    }
}
