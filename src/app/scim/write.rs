//! One write: the change's rows, its events (derived from before/after) and
//! its preconditions, as a single D1 batch on the directory's data database.

use super::auth::Authed;
use crate::app::Services;
use crate::events::{derive, EventDraft, Slice};
use crate::storage::events::insert_events;
use crate::storage::users_groups::guard_directory_live;
use crate::storage::{Batch, Db, DbError, Results, Stmt};

/// How many times a use case re-reads and re-decides after a concurrent
/// change to the same resource, before answering 429.
pub const MAX_ATTEMPTS: usize = 16;

/// The change to make.
pub struct Write {
    /// Guards and row changes, in order.
    pub stmts: Vec<Stmt>,
    pub before: Slice,
    pub after: Slice,
    /// Reads run after the change in the same batch (the response's data),
    /// read through their slots in [`Committed::tail`].
    pub tail: Batch,
}

impl Write {
    /// A change with nothing to read back.
    pub fn new(stmts: Vec<Stmt>, before: Slice, after: Slice) -> Self {
        Write { stmts, before, after, tail: Batch::new() }
    }
}

/// What the batch did.
pub struct Committed {
    pub event_ids: Vec<String>,
    /// The results of [`Write::tail`], by the slots it handed out.
    pub tail: Results,
}

pub async fn commit<D: Db>(svc: &Services<'_, D>, authed: &Authed, w: Write) -> Result<Committed, DbError> {
    let now = svc.now_text();
    let ids = svc.ids();
    let drafts: Vec<EventDraft> = derive(&w.before, &w.after).into_iter().map(|(event, data)| EventDraft { id: ids.make("event"), event, data }).collect();
    let mut b = Batch::new();
    b.push(guard_directory_live(&authed.directory_id));
    b.extend(w.stmts);
    b.extend(insert_events(&authed.directory_id, &drafts, &now));
    let tail = b.extend(w.tail.into_stmts());
    let mut results = b.run(svc.data(&authed.directory_id)).await?;
    Ok(Committed { event_ids: drafts.into_iter().map(|d| d.id).collect(), tail: Results::from_vec(results.take(tail)) })
}
