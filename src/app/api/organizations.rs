//! Organisations: the customers whose directories Rollcall syncs.

use super::page::Page;
use super::{body, ok, optional_str, required_str, ApiError, ApiResult};
use crate::app::{HttpRequest, Services};
use crate::directory::views::organization_view;
use crate::stmt;
use crate::storage::db::{first, rows};
use crate::storage::{Db, DbError, Row, RowExt, SqlValue};
use serde_json::Value;

const COLUMNS: &str =
    "o.id, o.name, o.external_id, o.created_at, o.updated_at, (SELECT json_group_array(hostname) FROM domains WHERE organization_id = o.id) AS domains";

fn view(r: &Row) -> Value {
    let domains: Vec<String> = r.json("domains").as_array().map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_string)).collect()).unwrap_or_default();
    organization_view(r, &domains)
}

fn conflict_or_internal(e: DbError) -> ApiError {
    match e {
        DbError::Unique(_) => ApiError::conflict("An organization with this external_id already exists"),
        e => ApiError::from(e),
    }
}

pub async fn create<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let b = body(req)?;
    let name = required_str(&b, "name")?;
    let external_id = optional_str(&b, "external_id")?;
    let id = svc.ids().make("org");
    let now = svc.now_text();
    let r = svc
        .db
        .batch(vec![
            stmt!("INSERT INTO organizations (id, name, external_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)", id.as_str(), name, external_id, now),
            stmt!(format!("SELECT {COLUMNS} FROM organizations o WHERE o.id = ?1"), id.as_str()),
        ])
        .await
        .map_err(conflict_or_internal)?;
    ok(201, &first(&r, 1).map(view).unwrap_or(Value::Null))
}

pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let r = svc.db.batch(vec![page.stmt(COLUMNS, "organizations o", "1 = 1", Vec::<SqlValue>::new(), "o.id")]).await.map_err(ApiError::from)?;
    ok(200, &page.answer(rows(&r, 0).iter().map(view).collect(), |v| v["id"].as_str().map(str::to_string)))
}

pub async fn get<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let r = svc.db.batch(vec![stmt!(format!("SELECT {COLUMNS} FROM organizations o WHERE o.id = ?1"), id)]).await.map_err(ApiError::from)?;
    first(&r, 0).map(|o| ok(200, &view(o))).unwrap_or_else(|| Err(ApiError::not_found("Organization not found")))
}

pub async fn update<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let b = body(req)?;
    let name = if b.contains_key("name") { Some(required_str(&b, "name")?) } else { None };
    let external_id = optional_str(&b, "external_id")?;
    let set_external = b.contains_key("external_id");
    let r = svc
        .db
        .batch(vec![
            stmt!(
                "UPDATE organizations SET name = coalesce(?2, name), external_id = CASE WHEN ?3 = 1 THEN ?4 ELSE external_id END, updated_at = ?5 WHERE id = ?1",
                id,
                name,
                set_external,
                external_id,
                svc.now_text()
            ),
            stmt!(format!("SELECT {COLUMNS} FROM organizations o WHERE o.id = ?1"), id),
        ])
        .await
        .map_err(conflict_or_internal)?;
    first(&r, 1).map(|o| ok(200, &view(o))).unwrap_or_else(|| Err(ApiError::not_found("Organization not found")))
}

/// An organisation with directories is not deleted: delete them first, so
/// no directory is left without its organisation.
pub async fn delete<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let r = svc
        .db
        .batch(vec![stmt!(
            "SELECT (SELECT count(*) FROM organizations WHERE id = ?1) AS found, (SELECT count(*) FROM directories WHERE organization_id = ?1) AS dirs",
            id
        )])
        .await
        .map_err(ApiError::from)?;
    let row = first(&r, 0).cloned().unwrap_or_default();
    if row.int("found") != Some(1) {
        return Err(ApiError::not_found("Organization not found"));
    }
    if row.int("dirs").unwrap_or(0) > 0 {
        return Err(ApiError::conflict("The organization still has directories; delete them first"));
    }
    svc.db
        .batch(vec![
            stmt!("INSERT INTO guard (reason) SELECT 'directories' WHERE EXISTS (SELECT 1 FROM directories WHERE organization_id = ?1)", id),
            stmt!("DELETE FROM domains WHERE organization_id = ?1", id),
            stmt!("DELETE FROM organizations WHERE id = ?1", id),
        ])
        .await
        .map_err(|e| match e {
            DbError::Precondition => ApiError::conflict("The organization still has directories; delete them first"),
            e => ApiError::from(e),
        })?;
    Ok(crate::app::Outcome::respond(crate::app::HttpResponse::empty(204)))
}
