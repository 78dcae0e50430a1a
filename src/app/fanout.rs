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
use crate::events::Slice;
use crate::storage::users_groups::removals;
pub use crate::storage::users_groups::removals::CHUNK;
use crate::storage::{Db, DbError};
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

/// Tells up to `chunks` chunks, oldest removal first, in each data
/// database in turn (one today).
pub async fn run<D: Db>(svc: &Services<'_, D>, chunks: usize) -> Result<Progress, DbError> {
    let mut p = Progress { done: true, ..Default::default() };
    let mut left = chunks;
    for db in svc.data_all() {
        loop {
            if left == 0 {
                p.done = false;
                return Ok(p);
            }
            left -= 1;
            let Some(chunk) = removals::next_chunk(db).await? else {
                break;
            };
            match commit(
                svc,
                &Authed { directory_id: chunk.directory_id.clone(), organization_id: chunk.organization_id.clone(), activated: None },
                tell(svc, &chunk),
            )
            .await
            {
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
    }
    Ok(p)
}

/// The write that tells a chunk (or finishes its removal).
fn tell<D: Db>(svc: &Services<'_, D>, chunk: &removals::Chunk) -> Write {
    let groups: BTreeMap<String, serde_json::Value> = [(chunk.group_id.clone(), chunk.group_view.clone())].into();
    if chunk.users.is_empty() {
        // The group's deletion is its last event; a replacement ends silently.
        let before = if chunk.deleted { Slice { groups, ..Default::default() } } else { Slice::default() };
        return Write::new(removals::finish(chunk), before, Slice::default());
    }
    let views: BTreeMap<String, serde_json::Value> = chunk.users.iter().map(|u| (u.id.clone(), user_view(u, &chunk.organization_id, None))).collect();
    let ids: Vec<String> = chunk.users.iter().map(|u| u.id.clone()).collect();
    let members: BTreeSet<(String, String)> = ids.iter().map(|u| (chunk.group_id.clone(), u.clone())).collect();
    let before = Slice { users: views.clone(), groups: groups.clone(), members };
    let after = Slice { users: views, groups, members: BTreeSet::new() };
    Write::new(removals::end_chunk(chunk, &ids, &svc.now_text()), before, after)
}
