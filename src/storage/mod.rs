//! SQL as data: statements with bound parameters, run by D1 in the Worker and
//! by SQLite in native tests, plus the row <-> domain mapping.

pub mod db;
pub mod directories;
pub mod directory_purge;
pub mod events;
pub mod guard;
pub mod organizations;
pub mod page;
pub mod portal;
pub mod pull;
pub mod scim_requests;
#[cfg(not(target_arch = "wasm32"))]
pub mod sqlite;
pub mod users_groups;
pub mod webhooks;

pub use db::{Batch, Db, DbError, Results, Row, RowExt, Slot, Slots, SqlValue, Stmt, StmtResult};
