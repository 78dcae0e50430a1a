//! One write: the change's rows, its events (derived from before/after) and
//! its preconditions, as a single D1 batch.

use super::auth::Authed;
use crate::app::Services;
use crate::events::{derive, insert_events, EventDraft, Slice};
use crate::storage::scim_sql::guard_directory_live;
use crate::storage::{Db, DbError, Stmt, StmtResult};

/// How many times a use case re-reads and re-decides after a concurrent
/// change to the same resource, before answering 429.
pub const MAX_ATTEMPTS: usize = 16;

/// The change to make.
pub struct Write {
    /// Guards and row changes, in order.
    pub stmts: Vec<Stmt>,
    pub before: Slice,
    pub after: Slice,
    /// Reads run after the change in the same batch (the response's data).
    pub tail: Vec<Stmt>,
}

/// What the batch did.
pub struct Committed {
    pub event_ids: Vec<String>,
    pub tail: Vec<StmtResult>,
}

pub async fn commit<D: Db>(svc: &Services<'_, D>, authed: &Authed, w: Write) -> Result<Committed, DbError> {
    let now = svc.now_text();
    let ids = svc.ids();
    let drafts: Vec<EventDraft> = derive(&w.before, &w.after).into_iter().map(|(event, data)| EventDraft { id: ids.make("event"), event, data }).collect();
    let tail_len = w.tail.len();
    let mut batch = Vec::with_capacity(w.stmts.len() + drafts.len() / 10 + 4 + tail_len);
    batch.push(guard_directory_live(&authed.directory_id));
    batch.extend(w.stmts);
    batch.extend(insert_events(&authed.directory_id, &drafts, &now));
    batch.extend(w.tail);
    let mut results = svc.db.batch(batch).await?;
    let tail = results.split_off(results.len().saturating_sub(tail_len));
    Ok(Committed { event_ids: drafts.into_iter().map(|d| d.id).collect(), tail })
}
