//! Group changes too large for one batch (issue 9): deleting a group of
//! more than [`CHUNK`](removals::CHUNK) members, or replacing the members of one. The
//! request ends the memberships at once (the group row goes, or the ended
//! memberships move under a pending removal, in one statement) and answers;
//! their `user_removed` events (then `group.deleted`) are written in chunks
//! by [`crate::app::fanout`], each chunk one batch with its events, so the
//! event log stays exact and gapless however the work is interrupted.

use super::auth::Authed;
use super::groups::{membership_stmts, refs_from_users, slices, Members, Reply, TAKEN};
use super::write::Write;
use super::Ctx;
use crate::app::HttpResponse;
use crate::directory::views::group_view;
use crate::directory::{GroupRecord, UserRecord};
use crate::events::Slice;
use crate::scim::ScimError;
use crate::storage::users_groups::{groups, memberships, removals};
use crate::storage::Db;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The delete of a large group: the row goes now (reads answer 404, the
/// displayName is free for a new group), its memberships stay under the
/// group's id as a pending removal that ends with `group.deleted`.
pub(super) fn delete_later<D: Db>(ctx: &Ctx<'_, '_, D>, authed: &Authed, old: &GroupRecord) -> Write {
    let view = group_view(old, &authed.organization_id);
    let removal = removals::insert(&old.id, old, &view, true, &ctx.svc.now_text());
    Write::new(groups::delete_keeping_members(old, removal), Slice::default(), Slice::default())
}

/// Replaces the members of a large group with `m.after`. `m.before` holds
/// the members among them (as the application sees them); every other
/// membership moves under a new pending removal. The events of this batch
/// are the group's update and the `user_added` of new members; the
/// `user_removed` of the others follow in chunks.
pub(super) async fn save_replacing<D: Db>(
    ctx: &Ctx<'_, '_, D>,
    authed: &Authed,
    old: GroupRecord,
    resource: Map<String, Value>,
    m: &Members,
    users: &BTreeMap<String, UserRecord>,
    reply: Reply,
) -> Result<Option<HttpResponse>, ScimError> {
    let now = ctx.svc.now_text();
    let dir = &authed.directory_id;
    let (before, after) = (&m.before, &m.after);
    let new = GroupRecord { resource, version: old.version + 1, updated_at: now.clone(), ..old.clone() };
    let (sb, sa) = slices(&authed.organization_id, Some(&old), Some(&new), before, after, users);
    let removal = ctx.svc.ids().make("group");
    let keep: Vec<String> = after.iter().cloned().collect();
    let mut stmts = groups::update(old.version, &new);
    stmts.push(removals::insert(&removal, &old, &group_view(&new, &authed.organization_id), false, &now));
    // Taken back (and added) before the others move out, so they stay.
    stmts.extend(membership_stmts(dir, &old.id, m, &now));
    stmts.push(memberships::move_out(&old.id, &removal, &keep));
    if ctx.commit(authed, Write::new(stmts, sb, sa), TAKEN).await?.is_none() {
        return Ok(None);
    }
    ctx.run_removals();
    let refs = reply.wants_members(ctx)?.then(|| refs_from_users(after.iter(), users));
    reply.respond(ctx, &new, refs.as_deref()).map(Some)
}
