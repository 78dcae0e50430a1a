//! Directories and their SCIM credentials.

use super::page::Page;
use super::{body, ok, required_str, ApiError, ApiResult};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::directory::views::{directory_view, DIRECTORY_COLUMNS};
use crate::events::{insert_events, kind, EventDraft};
use crate::stmt;
use crate::storage::db::{first, rows};
use crate::storage::{Db, DbError, Row, RowExt, SqlValue};
use crate::support::crypto::{b64url, sha256_hex};
use serde_json::{json, Value};

/// Identity providers a directory can be created for.
pub const PROVIDERS: &[&str] = &["okta", "entra_id", "cyberark", "pingfederate", "onelogin", "jumpcloud", "rippling", "generic"];

/// Live SCIM tokens per directory: one in use, one being rotated in.
pub const MAX_TOKENS: i64 = 2;

const COLUMNS_WITH_COUNTS: &str = "d.id, d.organization_id, d.name, d.provider, d.state, d.created_at, d.updated_at, d.user_count, d.group_count";

fn view(r: &Row) -> Value {
    let mut v = directory_view(r);
    if let Some(o) = v.as_object_mut() {
        o.insert("user_count".into(), json!(r.int("user_count").unwrap_or(0)));
        o.insert("group_count".into(), json!(r.int("group_count").unwrap_or(0)));
    }
    v
}

fn token_view(r: &Row) -> Value {
    json!({
        "object": "directory_token",
        "id": r.str("id"),
        "directory_id": r.str("directory_id"),
        "type": r.str("kind").unwrap_or("bearer"),
        "hint": r.str("hint"),
        "created_at": r.str("created_at"),
        "last_used_at": r.str("last_used_at"),
    })
}

/// A new bearer token (`rcs_` + 256 random bits) and its stored form.
struct NewToken {
    id: String,
    secret: String,
    hash: String,
    hint: String,
}

/// A new credential `{prefix}_` + 256 random bits; never from predictable bytes.
fn new_token<D: Db>(svc: &Services<'_, D>, prefix: &str) -> Result<NewToken, ApiError> {
    let secret = format!("{prefix}_{}", b64url(&svc.ids().random_bytes(32).map_err(|_| super::entropy_unavailable())?));
    let hint: String = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    Ok(NewToken { id: svc.ids().make("token"), hash: sha256_hex(secret.as_bytes()), hint, secret })
}

pub async fn create<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let b = body(req)?;
    let org = required_str(&b, "organization_id")?;
    let name = required_str(&b, "name")?;
    let provider = required_str(&b, "provider")?.to_ascii_lowercase();
    if !PROVIDERS.contains(&provider.as_str()) {
        return Err(ApiError::invalid(format!("provider must be one of {}", PROVIDERS.join(", "))));
    }
    let id = svc.ids().make("directory");
    let token = new_token(svc, "rcs")?;
    let now = svc.now_text();
    let r = svc
        .db
        .batch(vec![
            stmt!("INSERT INTO guard (reason) SELECT 'organization' WHERE NOT EXISTS (SELECT 1 FROM organizations WHERE id = ?1)", org.as_str()),
            stmt!(
                "INSERT INTO directories (id, organization_id, name, provider, state, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
                id.as_str(),
                org.as_str(),
                name,
                provider,
                now.as_str()
            ),
            stmt!(
                "INSERT INTO directory_tokens (id, directory_id, token_hash, hint, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                token.id.as_str(),
                id.as_str(),
                token.hash,
                token.hint,
                now
            ),
            stmt!(format!("SELECT {COLUMNS_WITH_COUNTS} FROM directories d WHERE d.id = ?1"), id.as_str()),
        ])
        .await
        .map_err(|e| match e {
            DbError::Precondition => ApiError::not_found("Organization not found"),
            e => ApiError::from(e),
        })?;
    let mut v = first(&r, 3).map(view).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("scim".into(), json!({ "base_url": format!("{}/scim/v2/{id}", req.origin()), "bearer_token": token.secret, "token_id": token.id }));
    }
    ok(201, &v)
}

pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let (cond, params) = match req.param("organization_id") {
        Some(o) => ("d.organization_id = ?", vec![SqlValue::Text(o.to_string())]),
        None => ("1 = 1", Vec::new()),
    };
    let r = svc.db.batch(vec![page.stmt(COLUMNS_WITH_COUNTS, "directories d", cond, params, "d.id")]).await.map_err(ApiError::from)?;
    ok(200, &page.answer(rows(&r, 0).iter().map(view).collect(), |v| v["id"].as_str().map(str::to_string)))
}

pub async fn get<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let r = svc.db.batch(vec![stmt!(format!("SELECT {COLUMNS_WITH_COUNTS} FROM directories d WHERE d.id = ?1"), id)]).await.map_err(ApiError::from)?;
    first(&r, 0).map(|d| ok(200, &view(d))).unwrap_or_else(|| Err(ApiError::not_found("Directory not found")))
}

/// Emits `dsync.deleted`, revokes the tokens and marks the directory
/// `deleting`; its users, groups and memberships are removed in the
/// background (and by the cron sweeper, in bounded chunks).
pub async fn delete<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let r = svc.db.batch(vec![stmt!(format!("SELECT {DIRECTORY_COLUMNS} FROM directories d WHERE d.id = ?1"), id)]).await.map_err(ApiError::from)?;
    let dir = first(&r, 0).ok_or_else(|| ApiError::not_found("Directory not found"))?;
    if dir.str("state") == Some("deleting") {
        return Ok(Outcome { response: Some(HttpResponse::empty(202)), publish: Vec::new(), purge_directory: Some(id.to_string()), ..Default::default() });
    }
    let now = svc.now_text();
    let mut data = directory_view(dir);
    if let Some(o) = data.as_object_mut() {
        o.insert("state".into(), json!("deleting"));
        o.insert("updated_at".into(), json!(now));
    }
    let event = EventDraft { id: svc.ids().make("event"), event: kind::DELETED, data };
    let mut batch = vec![
        stmt!("INSERT INTO guard (reason) SELECT 'state' WHERE NOT EXISTS (SELECT 1 FROM directories WHERE id = ?1 AND state <> 'deleting')", id),
        stmt!("DELETE FROM directory_tokens WHERE directory_id = ?1", id),
    ];
    batch.extend(insert_events(id, std::slice::from_ref(&event), &now));
    batch.push(stmt!("UPDATE directories SET state = 'deleting', updated_at = ?2 WHERE id = ?1", id, now));
    match svc.db.batch(batch).await {
        Ok(_) | Err(DbError::Precondition) => {}
        Err(e) => return Err(ApiError::from(e)),
    }
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
    if kind != "bearer" && kind != "oauth_client" {
        return Err(ApiError::invalid("type must be bearer or oauth_client"));
    }
    let token = new_token(svc, if kind == "oauth_client" { "rcc" } else { "rcs" })?;
    let now = svc.now_text();
    let r = svc
        .db
        .batch(vec![
            stmt!(
                "INSERT INTO guard (reason) SELECT 'directory' WHERE NOT EXISTS (SELECT 1 FROM directories WHERE id = ?1 AND state <> 'deleting')",
                directory_id
            ),
            stmt!(
                "INSERT INTO directory_tokens (id, directory_id, kind, token_hash, hint, created_at) SELECT ?1, ?2, ?7, ?3, ?4, ?5 \
                 WHERE (SELECT count(*) FROM directory_tokens WHERE directory_id = ?2 AND kind = ?7) < ?6",
                token.id.as_str(),
                directory_id,
                token.hash,
                token.hint,
                now,
                MAX_TOKENS,
                kind.as_str()
            ),
            stmt!("SELECT id, directory_id, kind, hint, created_at, last_used_at FROM directory_tokens WHERE id = ?1", token.id.as_str()),
        ])
        .await
        .map_err(|e| match e {
            DbError::Precondition => ApiError::not_found("Directory not found"),
            e => ApiError::from(e),
        })?;
    let mut v = first(&r, 2)
        .map(token_view)
        .ok_or_else(|| ApiError::conflict(format!("A directory has at most {MAX_TOKENS} live tokens of a type; delete one first")))?;
    if let Some(o) = v.as_object_mut() {
        if kind == "oauth_client" {
            o.insert("client_id".into(), json!(token.id));
            o.insert("client_secret".into(), json!(token.secret));
            o.insert("token_url".into(), json!(format!("{}/scim/v2/{directory_id}/oauth/token", req.origin())));
        } else {
            o.insert("token".into(), json!(token.secret));
        }
    }
    ok(201, &v)
}

pub async fn list_tokens<D: Db>(svc: &Services<'_, D>, directory_id: &str) -> ApiResult {
    let r = svc
        .db
        .batch(vec![
            stmt!("SELECT count(*) AS n FROM directories WHERE id = ?1", directory_id),
            stmt!("SELECT id, directory_id, kind, hint, created_at, last_used_at FROM directory_tokens WHERE directory_id = ?1 ORDER BY id", directory_id),
        ])
        .await
        .map_err(ApiError::from)?;
    if first(&r, 0).and_then(|r| r.int("n")) != Some(1) {
        return Err(ApiError::not_found("Directory not found"));
    }
    ok(200, &json!({ "object": "list", "data": rows(&r, 1).iter().map(token_view).collect::<Vec<_>>(), "list_metadata": { "before": null, "after": null } }))
}

pub async fn delete_token<D: Db>(svc: &Services<'_, D>, directory_id: &str, token_id: &str) -> ApiResult {
    let r = svc
        .db
        .batch(vec![
            stmt!("SELECT count(*) AS n FROM directory_tokens WHERE id = ?1 AND directory_id = ?2", token_id, directory_id),
            stmt!("DELETE FROM directory_tokens WHERE id = ?1 AND directory_id = ?2", token_id, directory_id),
        ])
        .await
        .map_err(ApiError::from)?;
    if first(&r, 0).and_then(|r| r.int("n")) != Some(1) {
        return Err(ApiError::not_found("Token not found"));
    }
    Ok(Outcome::respond(HttpResponse::empty(204)))
}
