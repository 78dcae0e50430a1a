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
use crate::storage::db::rows;
use crate::storage::scim_sql as sql;
use crate::storage::{Db, RowExt, Stmt, StmtResult};
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

/// The user and its groups from a `[select_user, select_groups_of_user]` read.
fn loaded(results: &[StmtResult]) -> Result<(UserRecord, Vec<GroupRecord>), ScimError> {
    let user = rows(results, 0).first().and_then(UserRecord::from_row).ok_or_else(not_found)?;
    let groups = rows(results, 1).iter().filter_map(GroupRecord::from_row).collect();
    Ok((user, groups))
}

fn reads(directory_id: &str, id: &str) -> Vec<Stmt> {
    vec![sql::select_user(directory_id, id), sql::select_groups_of_user(id)]
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
        Write {
            stmts: vec![sql::insert_user(&user), sql::index_emails(&user.id), sql::adjust_count(&authed.directory_id, ResourceKind::User, 1)],
            before: Slice::default(),
            after,
            tail: Vec::new(),
        }
    };
    if ctx.fast_create(build, TAKEN).await?.is_some() {
        return respond(ctx, 201, &record(ctx.cred.directory_id), &[]);
    }
    for _ in 0..MAX_ATTEMPTS {
        let (authed, _) = ctx.read(Vec::new()).await?;
        if ctx.commit(&authed, build(&authed), TAKEN).await?.is_some() {
            return respond(ctx, 201, &record(&authed.directory_id), &[]);
        }
    }
    Err(ScimError::too_many_requests(1))
}

pub async fn get<D: Db>(ctx: &Ctx<'_, '_, D>, id: &str) -> Result<HttpResponse, ScimError> {
    ctx.projection()?;
    let dir = ctx.cred.directory_id;
    let (_, results) = ctx.read(if has_prefix(id, "user") { reads(dir, id) } else { Vec::new() }).await?;
    let (user, groups) = loaded(&results)?;
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
/// concurrent change so parallel PATCHes lose nothing (IDP-QUIRKS 7).
async fn update<D: Db>(
    ctx: &Ctx<'_, '_, D>,
    id: &str,
    change: impl Fn(&Map<String, Value>) -> Result<Map<String, Value>, ScimError>,
) -> Result<HttpResponse, ScimError> {
    ctx.projection()?;
    for _ in 0..MAX_ATTEMPTS {
        let dir = ctx.cred.directory_id;
        let (authed, results) = ctx.read(if has_prefix(id, "user") { reads(dir, id) } else { Vec::new() }).await?;
        let (old, groups) = loaded(&results)?;
        ctx.check_if_match(old.version)?;
        let resource = change(&old.resource)?;
        if resource == old.resource {
            return respond(ctx, 200, &old, &groups);
        }
        let new = UserRecord { resource, version: old.version + 1, updated_at: ctx.svc.now_text(), ..old.clone() };
        let refs = group_refs(&groups);
        let org = &authed.organization_id;
        let mut stmts = vec![sql::guard_version("users", &old.id, old.version), sql::update_user(&new)];
        if old.resource.get("emails") != new.resource.get("emails") {
            stmts.extend([sql::unindex_emails(&new.id), sql::index_emails(&new.id)]);
        }
        let w = Write {
            stmts,
            before: Slice { users: [(old.id.clone(), user_view(&old, org, Some(&refs)))].into(), ..Default::default() },
            after: Slice { users: [(new.id.clone(), user_view(&new, org, Some(&refs)))].into(), ..Default::default() },
            tail: Vec::new(),
        };
        if ctx.commit(&authed, w, TAKEN).await?.is_some() {
            return respond(ctx, 200, &new, &groups);
        }
    }
    Err(ScimError::too_many_requests(1))
}

/// DELETE: the user leaves each of its groups (`user_removed` each), then goes.
pub async fn delete<D: Db>(ctx: &Ctx<'_, '_, D>, id: &str) -> Result<HttpResponse, ScimError> {
    for _ in 0..MAX_ATTEMPTS {
        let dir = ctx.cred.directory_id;
        let mut stmts = if has_prefix(id, "user") { reads(dir, id) } else { Vec::new() };
        if !stmts.is_empty() {
            stmts.push(crate::storage::removal_sql::select_pending_of_user(id));
        }
        let (authed, results) = ctx.read(stmts).await?;
        let (old, groups) = loaded(&results)?;
        ctx.check_if_match(old.version)?;
        let org = &authed.organization_id;
        let mut group_views: std::collections::BTreeMap<String, Value> = groups.iter().map(|g| (g.id.clone(), group_view(g, org))).collect();
        // Memberships pending removal (a large group deleted or replaced):
        // the application still counts them, so they end here, told now.
        let pending = rows(&results, 2);
        group_views.extend(pending.iter().map(|r| (r.string("group_id"), r.json("group_view"))));
        let before = Slice {
            users: [(old.id.clone(), user_view(&old, org, Some(&group_refs(&groups))))].into(),
            groups: group_views.clone(),
            members: group_views.keys().map(|g| (g.clone(), old.id.clone())).collect(),
        };
        let after = Slice { groups: group_views, ..Default::default() };
        let mut stmts = vec![sql::guard_version("users", &old.id, old.version)];
        // Any membership change in these groups bumps their version; a new
        // group membership changes the count: either way, read again.
        stmts.extend(groups.iter().map(|g| sql::guard_version("groups", &g.id, g.version)));
        stmts.push(crate::stmt!(
            "INSERT INTO guard (reason) SELECT 'memberships' WHERE (SELECT count(*) FROM memberships WHERE user_id = ?1) <> ?2",
            old.id.as_str(),
            i64::try_from(groups.len() + pending.len()).unwrap_or(0)
        ));
        stmts.extend(sql::delete_user(&old.id, &ctx.svc.now_text()));
        stmts.push(sql::adjust_count(&authed.directory_id, ResourceKind::User, -1));
        if ctx.commit(&authed, Write { stmts, before, after, tail: Vec::new() }, TAKEN).await?.is_some() {
            return Ok(HttpResponse::empty(204));
        }
    }
    Err(ScimError::too_many_requests(1))
}
