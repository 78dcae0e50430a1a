//! Directories and their SCIM credentials.

use super::page::Page;
use super::{body, ok, required_str, ApiError, ApiResult, Dialect};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::directory::views::directory_view;
use crate::events::{kind, EventDraft};
use crate::storage::directories::{self, Counts, DirectoriesOf, DirectoryRecord, NewDirectory, NewToken, TokenKind, TokenRecord};
use crate::storage::events::insert_events;
use crate::storage::{Db, DbError};
use crate::support::crypto::{b64url, sha256_hex};
use serde_json::{json, Value};

/// Identity providers a directory can be created for.
pub const PROVIDERS: &[&str] = &["okta", "entra_id", "cyberark", "pingfederate", "onelogin", "jumpcloud", "rippling", "generic"];

/// Live SCIM tokens per directory: one in use, one being rotated in.
pub const MAX_TOKENS: i64 = 2;

/// The directory with its user and group counts; `/v1` shows Rollcall's
/// own `state` (`pending`, `linked`, `deleting`).
fn view((d, counts): &(DirectoryRecord, Counts), dialect: Dialect) -> Value {
    let mut v = directory_view(d);
    if let Some(o) = v.as_object_mut() {
        o.insert("user_count".into(), json!(counts.users));
        o.insert("group_count".into(), json!(counts.groups));
        if dialect == Dialect::V1 {
            o.insert("state".into(), json!(d.state));
        }
    }
    v
}

fn token_view(t: &TokenRecord) -> Value {
    json!({
        "object": "directory_token",
        "id": t.id,
        "directory_id": t.directory_id,
        "type": t.kind,
        "hint": t.hint,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
    })
}

fn not_found() -> ApiError {
    ApiError::not_found("Directory not found")
}

/// A new credential (`rcs_` for a bearer token, `rcc_` for an OAuth client
/// secret, + 256 random bits; never from predictable bytes) and what is
/// stored of it.
struct Issued {
    secret: String,
    stored: NewToken,
}

fn issue<D: Db>(svc: &Services<'_, D>, kind: TokenKind) -> Result<Issued, ApiError> {
    let prefix = match kind {
        TokenKind::Bearer => "rcs",
        TokenKind::OauthClient => "rcc",
    };
    let secret = format!("{prefix}_{}", b64url(&svc.ids().random_bytes(32).map_err(|_| super::entropy_unavailable())?));
    let hint: String = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    Ok(Issued { stored: NewToken { id: svc.ids().make("token"), kind, hash: sha256_hex(secret.as_bytes()), hint }, secret })
}

/// The user and group counts are kept on the data-side directory rows: on
/// a control database of its own they are read from the data databases.
pub async fn with_data_counts<D: Db>(svc: &Services<'_, D>, dirs: &mut [(DirectoryRecord, Counts)]) -> Result<(), ApiError> {
    if svc.shared() {
        return Ok(());
    }
    let mut by_db: Vec<(&D, Vec<String>)> = Vec::new();
    for (d, _) in dirs.iter() {
        let db = svc.data(&d.id);
        match by_db.iter_mut().find(|(x, _)| crate::storage::db::same_database(*x, db)) {
            Some((_, ids)) => ids.push(d.id.clone()),
            None => by_db.push((db, vec![d.id.clone()])),
        }
    }
    for (db, ids) in by_db {
        for (id, counts) in directories::counts(db, &ids).await? {
            if let Some((_, c)) = dirs.iter_mut().find(|(d, _)| d.id == id) {
                *c = counts;
            }
        }
    }
    Ok(())
}

pub async fn create<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let b = body(req)?;
    let organization_id = required_str(&b, "organization_id")?;
    let name = required_str(&b, "name")?;
    let provider = required_str(&b, "provider")?;
    create_in(svc, req, organization_id, name, &provider).await
}

/// Creates a directory of `organization_id` (here and from the portal):
/// answers it with its SCIM base URL and first bearer token, shown once.
pub async fn create_in<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, organization_id: String, name: String, provider: &str) -> ApiResult {
    let provider = provider.to_ascii_lowercase();
    if !PROVIDERS.contains(&provider.as_str()) {
        return Err(ApiError::invalid(format!("provider must be one of {}", PROVIDERS.join(", "))));
    }
    let id = svc.ids().make("directory");
    let token = issue(svc, TokenKind::Bearer)?;
    let dir = NewDirectory { id: id.clone(), organization_id, name, provider };
    let created = directories::create(svc.control(), svc.data(&id), &dir, &token.stored, &svc.now_text()).await.map_err(|e| match e {
        DbError::Precondition => ApiError::not_found("Organization not found"),
        e => ApiError::from(e),
    })?;
    let mut v = created.as_ref().map(|d| view(d, Dialect::of(req))).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("scim".into(), json!({ "base_url": format!("{}/scim/v2/{id}", req.origin()), "bearer_token": token.secret, "token_id": token.stored.id }));
    }
    ok(201, &v)
}

/// `?organization_id=&search=` (a part of the name, any case) and paging.
pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    if req.param("domain").is_some_and(|d| !d.trim().is_empty()) {
        return Err(ApiError::invalid("domain is not supported: Rollcall's directories have no domain; use organization_id or search"));
    }
    let of = DirectoriesOf { organization_id: req.param("organization_id"), search: req.param("search").map(str::trim).filter(|s| !s.is_empty()) };
    let mut dirs = directories::list_with_counts(svc.control(), &page, &of).await?;
    with_data_counts(svc, &mut dirs).await?;
    let dialect = Dialect::of(req);
    ok(200, &page.answer(dirs.iter().map(|d| view(d, dialect)).collect(), |v| v["id"].as_str().map(str::to_string)))
}

pub async fn get<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let dir = directories::get_with_counts(svc.control(), id).await?.ok_or_else(not_found)?;
    let mut dirs = [dir];
    with_data_counts(svc, &mut dirs).await?;
    let [dir] = dirs;
    ok(200, &view(&dir, Dialect::of(req)))
}

/// Emits `dsync.deleted`, revokes the tokens and marks the directory
/// `deleting`; its users, groups and memberships are removed in the
/// background (and by the cron sweeper, in bounded chunks).
pub async fn delete<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let dir = directories::get(svc.control(), id).await?.ok_or_else(not_found)?;
    if dir.is_deleting() {
        return Ok(Outcome { response: Some(HttpResponse::empty(202)), publish: Vec::new(), purge_directory: Some(id.to_string()), ..Default::default() });
    }
    let now = svc.now_text();
    let event = EventDraft { id: svc.ids().make("event"), event: kind::DELETED, data: directory_view(&dir.in_state("deleting", &now)) };
    // A concurrent delete that got there first wrote the state and the
    // event: this one answers the same.
    directories::begin_deletion(svc.control(), svc.data(id), id, insert_events(id, std::slice::from_ref(&event), &now), &now).await?;
    let mut out = Outcome::with_events(HttpResponse::empty(202), vec![event.id]);
    out.purge_directory = Some(id.to_string());
    Ok(out)
}

/// `{"type": "bearer"}` (default) or `{"type": "oauth_client"}`: the latter
/// answers a `client_id` and `client_secret` for the directory's OAuth 2.0
/// token endpoint (`{base_url}/oauth/token`, client credentials grant).
pub async fn create_token<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, directory_id: &str) -> ApiResult {
    let b = body(req)?;
    let kind = super::optional_str(&b, "type")?.unwrap_or_else(|| "bearer".into());
    let kind = TokenKind::parse(&kind).ok_or_else(|| ApiError::invalid("type must be bearer or oauth_client"))?;
    let token = issue(svc, kind)?;
    let created = directories::create_token(svc.control(), directory_id, &token.stored, MAX_TOKENS, &svc.now_text()).await.map_err(|e| match e {
        DbError::Precondition => not_found(),
        e => ApiError::from(e),
    })?;
    let mut v = created
        .as_ref()
        .map(token_view)
        .ok_or_else(|| ApiError::conflict(format!("A directory has at most {MAX_TOKENS} live tokens of a type; delete one first")))?;
    if let Some(o) = v.as_object_mut() {
        match kind {
            TokenKind::OauthClient => {
                o.insert("client_id".into(), json!(token.stored.id));
                o.insert("client_secret".into(), json!(token.secret));
                o.insert("token_url".into(), json!(format!("{}/scim/v2/{directory_id}/oauth/token", req.origin())));
            }
            TokenKind::Bearer => {
                o.insert("token".into(), json!(token.secret));
            }
        }
    }
    ok(201, &v)
}

pub async fn list_tokens<D: Db>(svc: &Services<'_, D>, directory_id: &str) -> ApiResult {
    let tokens = directories::list_tokens(svc.control(), directory_id).await?.ok_or_else(not_found)?;
    ok(200, &json!({ "object": "list", "data": tokens.iter().map(token_view).collect::<Vec<_>>(), "list_metadata": { "before": null, "after": null } }))
}

pub async fn delete_token<D: Db>(svc: &Services<'_, D>, directory_id: &str, token_id: &str) -> ApiResult {
    if !directories::delete_token(svc.control(), directory_id, token_id).await? {
        return Err(ApiError::not_found("Token not found"));
    }
    Ok(Outcome::respond(HttpResponse::empty(204)))
}
