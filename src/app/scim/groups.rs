//! `/Groups` (RFC 7644 §3.3, §3.4.1, §3.5.1, §3.5.2, §3.6).

use super::render::{self, Ref};
use super::write::{Write, MAX_ATTEMPTS};
use super::{group_fanout, members};
use super::{wants, Ctx};
use crate::app::HttpResponse;
use crate::directory::records::etag;
use crate::directory::views::{group_view, user_view};
use crate::directory::{GroupRecord, UserRecord};
use crate::events::Slice;
use crate::scim::patch::{apply_group_patch, parse_patch, MemberOp};
use crate::scim::projection::project;
use crate::scim::resource::normalize;
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;
use crate::storage::users_groups::memberships::{self, Among};
use crate::storage::users_groups::removals::{self, CHUNK};
use crate::storage::users_groups::{groups, users};
use crate::storage::{Batch, Db, Stmt};
use crate::support::ids::has_prefix;
use std::collections::{BTreeMap, BTreeSet};

pub(super) const TAKEN: &str = "A group with this displayName already exists in the directory";

pub(super) fn not_found() -> ScimError {
    ScimError::not_found("Group not found")
}

pub(super) fn refs_from_users<'a>(ids: impl Iterator<Item = &'a String>, users: &BTreeMap<String, UserRecord>) -> Vec<Ref> {
    ids.filter_map(|id| users.get(id)).map(|u| Ref { id: u.id.clone(), display: u.member_display().to_string() }).collect()
}

fn user_map(users: Vec<UserRecord>) -> BTreeMap<String, UserRecord> {
    users.into_iter().map(|u| (u.id.clone(), u)).collect()
}

pub(super) fn respond<D: Db>(ctx: &Ctx<'_, '_, D>, status: u16, g: &GroupRecord, members: Option<&[Ref]>) -> Result<HttpResponse, ScimError> {
    let full = render::group(g, members, &ctx.base);
    let (attrs, excluded) = ctx.projection()?;
    let body = if attrs.is_empty() && excluded.is_empty() { full } else { project(ResourceKind::Group, &full, &attrs, &excluded) };
    let mut r = HttpResponse::scim(status, &body).header("etag", etag(g.version));
    if status == 201 {
        r = r.header("location", format!("{}/Groups/{}", ctx.base, g.id));
    }
    Ok(r)
}

fn wants_members<D: Db>(ctx: &Ctx<'_, '_, D>) -> Result<bool, ScimError> {
    let (attrs, excluded) = ctx.projection()?;
    Ok(wants(ResourceKind::Group, "members", &attrs, &excluded))
}

/// What a group write answers with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    /// 200 with the group (projected as the query asks): PUT, and a PATCH
    /// that names `attributes` or `excludedAttributes`.
    Resource,
    /// 204 with only the ETag: a PATCH naming neither (RFC 7644 §3.5.2 lets
    /// the server answer without a body), so adding one member to a large
    /// group never renders every member (docs/PRODUCT.md § SCIM; Okta's and Entra's
    /// membership PATCHes in tests/fixtures/idp name neither).
    Empty,
}

impl Reply {
    fn for_patch<D: Db>(ctx: &Ctx<'_, '_, D>) -> Self {
        if ctx.req.param("attributes").is_some() || ctx.req.param("excludedAttributes").is_some() {
            Reply::Resource
        } else {
            Reply::Empty
        }
    }
    /// Whether the answer lists members (so they must be read).
    pub(super) fn wants_members<D: Db>(self, ctx: &Ctx<'_, '_, D>) -> Result<bool, ScimError> {
        Ok(self == Reply::Resource && wants_members(ctx)?)
    }
    pub(super) fn respond<D: Db>(self, ctx: &Ctx<'_, '_, D>, g: &GroupRecord, members: Option<&[Ref]>) -> Result<HttpResponse, ScimError> {
        match self {
            Reply::Resource => respond(ctx, 200, g, members),
            Reply::Empty => Ok(HttpResponse::empty(204).header("etag", etag(g.version))),
        }
    }
}

/// Before/after slices for a membership change of one group.
pub(super) fn slices(
    org: &str,
    old: Option<&GroupRecord>,
    new: Option<&GroupRecord>,
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
    users: &BTreeMap<String, UserRecord>,
) -> (Slice, Slice) {
    let user_views: BTreeMap<_, _> = before.union(after).filter_map(|id| users.get(id)).map(|u| (u.id.clone(), user_view(u, org, None))).collect();
    let side = |g: Option<&GroupRecord>, set: &BTreeSet<String>| Slice {
        users: user_views.clone(),
        groups: g.map(|g| (g.id.clone(), group_view(g, org))).into_iter().collect(),
        members: g.map(|g| set.iter().map(|u| (g.id.clone(), u.clone())).collect()).unwrap_or_default(),
    };
    (side(old, before), side(new, after))
}

/// The membership statements turning `before` into `after`.
pub(super) fn membership_stmts(dir: &str, gid: &str, m: &Members, now: &str) -> Vec<Stmt> {
    let removed: Vec<String> = m.before.difference(&m.after).cloned().collect();
    let added: Vec<String> = m.after.difference(&m.before).cloned().collect();
    let restored: Vec<String> = m.pending.intersection(&m.after).cloned().collect();
    memberships::change(dir, gid, &removed, &restored, &added, now)
}

/// A group's members before and after a change, as the application sees
/// them; `pending` are those of `before` whose membership is pending
/// removal (kept ones are taken back, without event).
pub(super) struct Members {
    pub before: BTreeSet<String>,
    pub after: BTreeSet<String>,
    pub pending: BTreeSet<String>,
}

fn check_known(ids: &[String], users: &BTreeMap<String, UserRecord>) -> Result<(), ScimError> {
    match ids.iter().find(|id| !users.contains_key(*id)) {
        Some(id) => Err(ScimError::invalid_value(format!("members: there is no user {id} in this directory"))),
        None => Ok(()),
    }
}

pub async fn create<D: Db>(ctx: &Ctx<'_, '_, D>) -> Result<HttpResponse, ScimError> {
    let normalized = normalize(ResourceKind::Group, &ctx.group_body()?)?;
    let ids = normalized.members.clone().unwrap_or_default();
    ctx.projection()?;
    let gid = ctx.svc.ids().make("group");
    let now = ctx.svc.now_text();
    let record = |directory_id: &str| GroupRecord {
        id: gid.clone(),
        directory_id: directory_id.to_string(),
        resource: normalized.resource.clone(),
        version: 1,
        created_at: now.clone(),
        updated_at: now.clone(),
    };
    let build = |authed: &super::auth::Authed, users: &BTreeMap<String, UserRecord>| {
        let group = record(&authed.directory_id);
        let after_set: BTreeSet<String> = ids.iter().cloned().collect();
        let (before, after) = slices(&authed.organization_id, None, Some(&group), &BTreeSet::new(), &after_set, users);
        Write::new(groups::create(&group, &ids, &now), before, after)
    };
    // Without members nothing needs reading first: one round trip.
    if ids.is_empty() && ctx.fast_create(|a| build(a, &BTreeMap::new()), TAKEN).await?.is_some() {
        return respond(ctx, 201, &record(ctx.cred.directory_id), Some(&[]));
    }
    for _ in 0..MAX_ATTEMPTS {
        let mut b = Batch::new();
        let named = (!ids.is_empty()).then(|| users::read_among(&mut b, ctx.cred.directory_id, &ids));
        let (authed, r) = ctx.read(b).await?;
        let users = user_map(named.map(|n| n.get(&r)).unwrap_or_default());
        check_known(&ids, &users)?;
        if ctx.commit(&authed, build(&authed, &users), TAKEN).await?.is_some() {
            let refs = refs_from_users(ids.iter(), &users);
            return respond(ctx, 201, &record(&authed.directory_id), Some(&refs));
        }
    }
    Err(ScimError::too_many_requests(1))
}

pub async fn get<D: Db>(ctx: &Ctx<'_, '_, D>, id: &str) -> Result<HttpResponse, ScimError> {
    let with_members = wants_members(ctx)?;
    let mut b = Batch::new();
    let reads = has_prefix(id, "group").then(|| (groups::read(&mut b, ctx.cred.directory_id, id), with_members.then(|| memberships::read_refs(&mut b, id))));
    let (_, r) = ctx.read(b).await?;
    let (group, refs) = reads.ok_or_else(not_found)?;
    let group = group.get(&r).ok_or_else(not_found)?;
    let refs = refs.map(|m| m.get(&r));
    respond(ctx, 200, &group, refs.as_deref())
}

/// PUT: a full replace, members included (RFC 7644 §3.5.1; docs/IDP-QUIRKS.md § Required server behaviour 8).
pub async fn replace<D: Db>(ctx: &Ctx<'_, '_, D>, id: &str) -> Result<HttpResponse, ScimError> {
    let normalized = normalize(ResourceKind::Group, &ctx.group_body()?)?;
    let new_ids = normalized.members.clone().unwrap_or_default();
    ctx.projection()?;
    let mops = [MemberOp::ReplaceAll(new_ids.clone())];
    save_whole(ctx, id, &new_ids, |_| Ok((normalized.resource.clone(), mops.to_vec())), Reply::Resource).await
}

/// PATCH (RFC 7644 §3.5.2): attribute ops on the group, member ops on the
/// membership rows they name.
pub async fn patch<D: Db>(ctx: &Ctx<'_, '_, D>, id: &str) -> Result<HttpResponse, ScimError> {
    let ops = parse_patch(&ctx.patch_body()?)?;
    let needs = members::needs(&ops);
    ctx.projection()?;
    let decide = |old: &GroupRecord| {
        let mut resource = old.resource.clone();
        let mops = apply_group_patch(&mut resource, &ops)?;
        Ok((resource, mops))
    };
    if needs.all {
        return save_whole(ctx, id, &needs.ids, decide, Reply::for_patch(ctx)).await;
    }
    for _ in 0..MAX_ATTEMPTS {
        let dir = ctx.cred.directory_id;
        let mut b = Batch::new();
        let reads = has_prefix(id, "group")
            .then(|| (groups::read(&mut b, dir, id), memberships::read_among(&mut b, id, &needs.ids), users::read_among(&mut b, dir, &needs.ids)));
        let (authed, r) = ctx.read(b).await?;
        let (group, among, named) = reads.ok_or_else(not_found)?;
        let old = group.get(&r).ok_or_else(not_found)?;
        ctx.check_if_match(old.version)?;
        let Among { members: before, pending } = among.get(&r);
        let users = user_map(named.get(&r));
        let (resource, mops) = decide(&old)?;
        let mut after = before.clone();
        members::apply(&mut after, &mops, &users)?;
        let m = Members { before, after, pending };
        if let Some(r) = save(ctx, &authed, old, resource, &m, &users, true, Reply::for_patch(ctx)).await? {
            return Ok(r);
        }
    }
    Err(ScimError::too_many_requests(1))
}

/// A change that sets the whole member list (PUT; PATCH replacing, clearing
/// or filtering `members`). `named` are the users the request names. A group
/// of up to [`CHUNK`] members is read whole and changed in one batch; a
/// larger one is not read: the named memberships are, the rest are ended in
/// one statement and told in chunks afterwards (see `group_fanout`).
async fn save_whole<D: Db>(
    ctx: &Ctx<'_, '_, D>,
    id: &str,
    named: &[String],
    decide: impl Fn(&GroupRecord) -> Result<(serde_json::Map<String, serde_json::Value>, Vec<MemberOp>), ScimError>,
    reply: Reply,
) -> Result<HttpResponse, ScimError> {
    for _ in 0..MAX_ATTEMPTS {
        let dir = ctx.cred.directory_id;
        let mut b = Batch::new();
        let reads = has_prefix(id, "group").then(|| {
            (
                groups::read(&mut b, dir, id),
                memberships::read_users(&mut b, id, CHUNK + 1),
                users::read_among(&mut b, dir, named),
                memberships::read_among(&mut b, id, named),
            )
        });
        let (authed, r) = ctx.read(b).await?;
        let (group, members, named_users, named_members) = reads.ok_or_else(not_found)?;
        let old = group.get(&r).ok_or_else(not_found)?;
        ctx.check_if_match(old.version)?;
        let (resource, mops) = decide(&old)?;
        let mut users = user_map(members.get(&r));
        let large = users.len() > CHUNK;
        let mut before: BTreeSet<String> = users.keys().cloned().collect();
        users.extend(user_map(named_users.get(&r)));
        // Named users whose membership is pending removal are still members
        // as the application sees them.
        let Among { members: among, pending } = named_members.get(&r);
        let saved = if large {
            let after = members::apply_without_before(&mops, &users)?;
            let before = among.intersection(&after).cloned().collect();
            group_fanout::save_replacing(ctx, &authed, old, resource, &Members { before, after, pending }, &users, reply).await?
        } else {
            before.extend(among);
            let mut after = before.clone();
            members::apply(&mut after, &mops, &users)?;
            save(ctx, &authed, old, resource, &Members { before, after, pending }, &users, false, reply).await?
        };
        if let Some(r) = saved {
            return Ok(r);
        }
    }
    Err(ScimError::too_many_requests(1))
}

/// Writes a group change (attributes and/or memberships) and answers as
/// `reply` says; `partial` means `before`/`after` hold only some members, so
/// the answer's member list is read fresh in the same batch.
#[allow(clippy::too_many_arguments)]
async fn save<D: Db>(
    ctx: &Ctx<'_, '_, D>,
    authed: &super::auth::Authed,
    old: GroupRecord,
    resource: serde_json::Map<String, serde_json::Value>,
    m: &Members,
    users: &BTreeMap<String, UserRecord>,
    partial: bool,
    reply: Reply,
) -> Result<Option<HttpResponse>, ScimError> {
    let with_members = reply.wants_members(ctx)?;
    let now = ctx.svc.now_text();
    let (before, after) = (&m.before, &m.after);
    if resource == old.resource && before == after && m.pending.is_disjoint(after) {
        let refs = match (with_members, partial) {
            (false, _) => None,
            (true, false) => Some(refs_from_users(after.iter(), users)),
            (true, true) => {
                let mut b = Batch::new();
                let refs = memberships::read_refs(&mut b, &old.id);
                let (_, r) = ctx.read(b).await?;
                Some(refs.get(&r))
            }
        };
        return reply.respond(ctx, &old, refs.as_deref()).map(Some);
    }
    let new = GroupRecord { resource, version: old.version + 1, updated_at: now.clone(), ..old.clone() };
    let (sb, sa) = slices(&authed.organization_id, Some(&old), Some(&new), before, after, users);
    if partial && new.resource == old.resource && ctx.req.header("if-match").is_none() {
        return save_members_only(ctx, authed, &old, m, users, Write::new(Vec::new(), sb, sa), reply).await;
    }
    let mut stmts = groups::update(old.version, &new);
    stmts.extend(membership_stmts(&authed.directory_id, &old.id, m, &now));
    let mut w = Write::new(stmts, sb, sa);
    let fresh = (with_members && partial).then(|| memberships::read_refs(&mut w.tail, &old.id));
    let Some(tail) = ctx.commit(authed, w, TAKEN).await? else {
        return Ok(None);
    };
    let refs = match (with_members, fresh) {
        (false, _) => None,
        (true, None) => Some(refs_from_users(after.iter(), users)),
        (true, Some(fresh)) => Some(fresh.get(&tail)),
    };
    reply.respond(ctx, &new, refs.as_deref()).map(Some)
}

/// A PATCH that only adds or removes the members it names: guarded by those
/// membership rows (still as read) instead of the group's version, so
/// concurrent PATCHes adding different members (Okta splits large changes
/// into parallel requests) never conflict. The version still moves on; the
/// answer reads the group back.
async fn save_members_only<D: Db>(
    ctx: &Ctx<'_, '_, D>,
    authed: &super::auth::Authed,
    old: &GroupRecord,
    m: &Members,
    users: &BTreeMap<String, UserRecord>,
    mut w: Write,
    reply: Reply,
) -> Result<Option<HttpResponse>, ScimError> {
    let now = ctx.svc.now_text();
    let (before, after) = (&m.before, &m.after);
    let named: BTreeSet<String> = before.union(after).chain(users.keys()).cloned().collect();
    let absent: Vec<String> = named.difference(before).cloned().collect();
    let present: Vec<String> = before.iter().cloned().collect();
    w.stmts.push(memberships::guard_as_read(&old.id, &present, &absent));
    w.stmts.push(groups::bump_version(&old.id, &now));
    w.stmts.extend(membership_stmts(&authed.directory_id, &old.id, m, &now));
    let with_members = reply.wants_members(ctx)?;
    let group = groups::read(&mut w.tail, &authed.directory_id, &old.id);
    let refs = with_members.then(|| memberships::read_refs(&mut w.tail, &old.id));
    let Some(tail) = ctx.commit(authed, w, TAKEN).await? else {
        return Ok(None);
    };
    let group = group.get(&tail).ok_or_else(not_found)?;
    let refs = refs.map(|m| m.get(&tail));
    reply.respond(ctx, &group, refs.as_deref()).map(Some)
}

/// DELETE: each member gets `user_removed`, then the group goes. A group
/// of more than [`CHUNK`] members (or with removals still being told)
/// goes at once and its members are told in chunks afterwards.
pub async fn delete<D: Db>(ctx: &Ctx<'_, '_, D>, id: &str) -> Result<HttpResponse, ScimError> {
    for _ in 0..MAX_ATTEMPTS {
        let mut b = Batch::new();
        let reads = has_prefix(id, "group")
            .then(|| (groups::read(&mut b, ctx.cred.directory_id, id), memberships::read_users(&mut b, id, CHUNK + 1), removals::read_pending(&mut b, id)));
        let (authed, r) = ctx.read(b).await?;
        let (group, members, pending) = reads.ok_or_else(not_found)?;
        let old = group.get(&r).ok_or_else(not_found)?;
        ctx.check_if_match(old.version)?;
        let users = user_map(members.get(&r));
        let later = users.len() > CHUNK || pending.get(&r);
        let w = if later {
            group_fanout::delete_later(ctx, &authed, &old)
        } else {
            let before_set: BTreeSet<String> = users.keys().cloned().collect();
            let (before, after) = slices(&authed.organization_id, Some(&old), None, &before_set, &BTreeSet::new(), &users);
            Write::new(groups::delete(&old), before, after)
        };
        if ctx.commit(&authed, w, TAKEN).await?.is_some() {
            if later {
                ctx.run_removals();
            }
            return Ok(HttpResponse::empty(204));
        }
    }
    Err(ScimError::too_many_requests(1))
}
