//! SQL as data: statements with bound parameters, run by D1 in the Worker and
//! by SQLite in native tests, plus the row <-> domain mapping.

pub mod db;
pub mod directory_purge;
pub mod events;
pub mod filter_sql;
pub mod guard;
pub mod page;
pub mod removal_sql;
pub mod scim_sql;
#[cfg(not(target_arch = "wasm32"))]
pub mod sqlite;
pub mod webhooks;

pub use db::{Batch, Db, DbError, Results, Row, RowExt, Slot, Slots, SqlValue, Stmt, StmtResult};
