//! `/Users` (RFC 7644 §3.3, §3.4.1, §3.5.1, §3.5.2, §3.6).

use super::render::{self, Ref};
use super::write::{Write, MAX_ATTEMPTS};
use super::Ctx;
use crate::app::HttpResponse;
use crate::directory::records::etag;
use crate::directory::views::{group_view, user_view, GroupRef};
use crate::directory::{GroupRecord, UserRecord};
use crate::events::Slice;
use crate::scim::patch::{apply_user_patch, parse_patch};
use crate::scim::projection::project;
use crate::scim::resource::normalize;
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;
use crate::storage::users_groups::{removals, users, Read};
use crate::storage::{Batch, Db, Results};
use crate::support::ids::has_prefix;
use serde_json::{Map, Value};

const TAKEN: &str = "A user with this userName already exists in the directory";

fn not_found() -> ScimError {
    ScimError::not_found("User not found")
}

/// Renders a user, applies the projection, adds `ETag` (and `Location`).
fn respond<D: Db>(ctx: &Ctx<'_, '_, D>, status: u16, u: &UserRecord, groups: &[GroupRecord]) -> Result<HttpResponse, ScimError> {
    let refs: Vec<Ref> = groups.iter().map(|g| Ref { id: g.id.clone(), display: g.display_name().to_string() }).collect();
    let full = render::user(u, &refs, &ctx.base);
    let (attrs, excluded) = ctx.projection()?;
    let body = if attrs.is_empty() && excluded.is_empty() { full } else { project(ResourceKind::User, &full, &attrs, &excluded) };
    let mut r = HttpResponse::scim(status, &body).header("etag", etag(u.version));
    if status == 201 {
        r = r.header("location", format!("{}/Users/{}", ctx.base, u.id));
    }
    Ok(r)
}

fn group_refs(groups: &[GroupRecord]) -> Vec<GroupRef> {
    groups.iter().map(|g| GroupRef { id: g.id.clone(), name: g.display_name().to_string() }).collect()
}

/// The reads of a user and its groups; none for an id that cannot be a
/// user's (it is not found without asking).
struct Reads {
    user: Read<Option<UserRecord>>,
    groups: Read<Vec<GroupRecord>>,
}

fn reads(b: &mut Batch, directory_id: &str, id: &str) -> Option<Reads> {
    has_prefix(id, "user").then(|| Reads { user: users::read(b, directory_id, id), groups: users::read_groups(b, id) })
}

/// The user and its groups, or 404.
fn loaded(reads: Option<&Reads>, r: &Results) -> Result<(UserRecord, Vec<GroupRecord>), ScimError> {
    let reads = reads.ok_or_else(not_found)?;
    let user = reads.user.get(r).ok_or_else(not_found)?;
    Ok((user, reads.groups.get(r)))
}

pub async fn create<D: Db>(ctx: &Ctx<'_, '_, D>) -> Result<HttpResponse, ScimError> {
    let mut normalized = normalize(ResourceKind::User, &ctx.body()?)?;
    // RFC 7643 §4.1.1 leaves the default open; IdPs expect a new user to be active.
    if !normalized.resource.contains_key("active") {
        normalized.resource.insert("active".into(), Value::Bool(true));
    }
    ctx.projection()?;
    let id = ctx.svc.ids().make("user");
    let now = ctx.svc.now_text();
    let record = |directory_id: &str| UserRecord {
        id: id.clone(),
        directory_id: directory_id.to_string(),
        resource: normalized.resource.clone(),
        version: 1,
        created_at: now.clone(),
        updated_at: now.clone(),
    };
    let build = |authed: &super::auth::Authed| {
        let user = record(&authed.directory_id);
        let after = Slice { users: [(user.id.clone(), user_view(&user, &authed.organization_id, Some(&[])))].into(), ..Default::default() };
        Write::new(users::create(&user), Slice::default(), after)
    };
    if ctx.fast_create(build, TAKEN).await?.is_some() {
        return respond(ctx, 201, &record(ctx.cred.directory_id), &[]);
    }
    for _ in 0..MAX_ATTEMPTS {
        let (authed, _) = ctx.read(Batch::new()).await?;
        if ctx.commit(&authed, build(&authed), TAKEN).await?.is_some() {
            return respond(ctx, 201, &record(&authed.directory_id), &[]);
        }
    }
    Err(ScimError::too_many_requests(1))
}

pub async fn get<D: Db>(ctx: &Ctx<'_, '_, D>, id: &str) -> Result<HttpResponse, ScimError> {
    ctx.projection()?;
    let mut b = Batch::new();
    let reads = reads(&mut b, ctx.cred.directory_id, id);
    let (_, r) = ctx.read(b).await?;
    let (user, groups) = loaded(reads.as_ref(), &r)?;
    respond(ctx, 200, &user, &groups)
}

pub async fn replace<D: Db>(ctx: &Ctx<'_, '_, D>, id: &str) -> Result<HttpResponse, ScimError> {
    let normalized = normalize(ResourceKind::User, &ctx.body()?)?;
    update(ctx, id, |_| Ok(normalized.resource.clone())).await
}

pub async fn patch<D: Db>(ctx: &Ctx<'_, '_, D>, id: &str) -> Result<HttpResponse, ScimError> {
    let ops = parse_patch(&ctx.patch_body()?)?;
    update(ctx, id, |old| {
        let mut resource = old.clone();
        apply_user_patch(&mut resource, &ops)?;
        Ok(resource)
    })
    .await
}

/// Read, compute the new resource, write if it changed; retried on a
/// concurrent change so parallel PATCHes lose nothing (docs/IDP-QUIRKS.md § Required server behaviour 7).
async fn update<D: Db>(
    ctx: &Ctx<'_, '_, D>,
    id: &str,
    change: impl Fn(&Map<String, Value>) -> Result<Map<String, Value>, ScimError>,
) -> Result<HttpResponse, ScimError> {
    ctx.projection()?;
    for _ in 0..MAX_ATTEMPTS {
        let mut b = Batch::new();
        let reads = reads(&mut b, ctx.cred.directory_id, id);
        let (authed, r) = ctx.read(b).await?;
        let (old, groups) = loaded(reads.as_ref(), &r)?;
        ctx.check_if_match(old.version)?;
        let resource = change(&old.resource)?;
        if resource == old.resource {
            return respond(ctx, 200, &old, &groups);
        }
        let new = UserRecord { resource, version: old.version + 1, updated_at: ctx.svc.now_text(), ..old.clone() };
        let refs = group_refs(&groups);
        let org = &authed.organization_id;
        let w = Write::new(
            users::update(&old, &new),
            Slice { users: [(old.id.clone(), user_view(&old, org, Some(&refs)))].into(), ..Default::default() },
            Slice { users: [(new.id.clone(), user_view(&new, org, Some(&refs)))].into(), ..Default::default() },
        );
        if ctx.commit(&authed, w, TAKEN).await?.is_some() {
            return respond(ctx, 200, &new, &groups);
        }
    }
    Err(ScimError::too_many_requests(1))
}

/// DELETE: the user leaves each of its groups (`user_removed` each), then goes.
pub async fn delete<D: Db>(ctx: &Ctx<'_, '_, D>, id: &str) -> Result<HttpResponse, ScimError> {
    for _ in 0..MAX_ATTEMPTS {
        let mut b = Batch::new();
        let reads = reads(&mut b, ctx.cred.directory_id, id);
        let pending = reads.is_some().then(|| removals::read_pending_of_user(&mut b, id));
        let (authed, r) = ctx.read(b).await?;
        let (old, groups) = loaded(reads.as_ref(), &r)?;
        ctx.check_if_match(old.version)?;
        let org = &authed.organization_id;
        let mut group_views: std::collections::BTreeMap<String, Value> = groups.iter().map(|g| (g.id.clone(), group_view(g, org))).collect();
        // Memberships pending removal (a large group deleted or replaced):
        // the application still counts them, so they end here, told now.
        let pending = pending.map(|p| p.get(&r)).unwrap_or_default();
        let memberships = groups.len() + pending.len();
        group_views.extend(pending.into_iter().map(|p| (p.group_id, p.group_view)));
        let before = Slice {
            users: [(old.id.clone(), user_view(&old, org, Some(&group_refs(&groups))))].into(),
            groups: group_views.clone(),
            members: group_views.keys().map(|g| (g.clone(), old.id.clone())).collect(),
        };
        let after = Slice { groups: group_views, ..Default::default() };
        // Any membership change in these groups bumps their version; a new
        // group membership changes the count: either way, read again.
        let stmts = users::delete(&old, &groups, memberships, &ctx.svc.now_text());
        if ctx.commit(&authed, Write::new(stmts, before, after), TAKEN).await?.is_some() {
            return Ok(HttpResponse::empty(204));
        }
    }
    Err(ScimError::too_many_requests(1))
}
