//! Tells pending group removals (`migrations/0004_group_removals.sql`) in
//! chunks: each chunk is one read and one atomic batch that deletes up to
//! [`CHUNK`] memberships and writes their `dsync.group.user_removed` events
//! (the batch gives out their sequence numbers, so the log stays gapless);
//! a removal with nothing left is finished, with `dsync.group.deleted` when
//! the group was deleted. Any interruption leaves whole chunks behind, and
//! the next run (the fetch handler's `wait_until`, the cron) goes on from
//! there; two runners on one chunk cannot both write it (its guard).

use super::scim::auth::Authed;
use super::scim::write::{commit, Write};
use super::Services;
use crate::directory::views::user_view;
use crate::directory::UserRecord;
use crate::events::Slice;
use crate::storage::db::{first, rows};
use crate::storage::removal_sql as rm;
pub use crate::storage::removal_sql::CHUNK;
use crate::storage::{Db, DbError, RowExt};
use std::collections::{BTreeMap, BTreeSet};

/// Chunks per invocation after a request (`wait_until`): each costs about
/// 2 + 4 + CHUNK / 25 statements (28), so 16 stay near 450 of D1's 1,000
/// queries per invocation.
pub const CHUNKS_AFTER_REQUEST: usize = 16;
/// Chunks per cron run (which also sweeps and purges directories).
pub const CHUNKS_PER_CRON: usize = 12;

/// What a run did.
#[derive(Debug, Default)]
pub struct Progress {
    /// Events written (to publish).
    pub event_ids: Vec<String>,
    /// Chunks written (a finished removal counts as one).
    pub chunks: usize,
    /// Nothing is left to tell.
    pub done: bool,
}

/// Tells up to `chunks` chunks, oldest removal first.
pub async fn run<D: Db>(svc: &Services<'_, D>, chunks: usize) -> Result<Progress, DbError> {
    let mut p = Progress::default();
    for _ in 0..chunks {
        let r = svc.db.batch(vec![rm::select_next_removal(), rm::select_next_chunk()]).await?;
        let Some(item) = first(&r, 0) else {
            p.done = true;
            return Ok(p);
        };
        let (removal_id, group_id) = (item.string("id"), item.string("group_id"));
        let authed = Authed { directory_id: item.string("directory_id"), organization_id: item.string("organization_id"), activated: None };
        let group = item.json("group_view");
        let users: Vec<UserRecord> = rows(&r, 1).iter().filter_map(UserRecord::from_row).collect();
        let groups: BTreeMap<String, serde_json::Value> = [(group_id.clone(), group)].into();
        let w = if users.is_empty() {
            // The group's deletion is its last event; a replacement ends silently.
            let before = if item.int("deleted") == Some(1) { Slice { groups, ..Default::default() } } else { Slice::default() };
            Write { stmts: rm::finish_removal(&removal_id, &group_id), before, after: Slice::default(), tail: Vec::new() }
        } else {
            let views: BTreeMap<String, serde_json::Value> = users.iter().map(|u| (u.id.clone(), user_view(u, &authed.organization_id, None))).collect();
            let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
            let members: BTreeSet<(String, String)> = ids.iter().map(|u| (group_id.clone(), u.clone())).collect();
            let before = Slice { users: views.clone(), groups: groups.clone(), members };
            let after = Slice { users: views, groups, members: BTreeSet::new() };
            Write { stmts: rm::end_chunk(&removal_id, &group_id, &ids, &svc.now_text()), before, after, tail: Vec::new() }
        };
        match commit(svc, &authed, w).await {
            Ok(c) => {
                p.event_ids.extend(c.event_ids);
                p.chunks += 1;
            }
            // Someone else moved first (a concurrent runner, an add taking a
            // member back, a user delete): read again.
            Err(DbError::Precondition) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(p)
}
