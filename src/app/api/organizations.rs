//! Organisations: the customers whose directories Rollcall syncs.

use super::page::Page;
use super::{body, ok, optional_str, required_str, ApiError, ApiResult};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::directory::views::organization_view;
use crate::storage::organizations::{self, OrganizationChange};
use crate::storage::{Db, DbError};

fn conflict_or_internal(e: DbError) -> ApiError {
    match e {
        DbError::Unique(_) => ApiError::conflict("An organization with this external_id already exists"),
        e => ApiError::from(e),
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("Organization not found")
}

fn has_directories() -> ApiError {
    ApiError::conflict("The organization still has directories; delete them first")
}

pub async fn create<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let b = body(req)?;
    let name = required_str(&b, "name")?;
    let external_id = optional_str(&b, "external_id")?;
    let id = svc.ids().make("org");
    let org = organizations::create(svc.control(), &id, &name, external_id.as_deref(), &svc.now_text()).await.map_err(conflict_or_internal)?;
    ok(201, &org.as_ref().map(organization_view).unwrap_or_default())
}

pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let orgs = organizations::list(svc.control(), &page).await?;
    ok(200, &page.answer(orgs.iter().map(organization_view).collect(), |v| v["id"].as_str().map(str::to_string)))
}

pub async fn get<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let org = organizations::get(svc.control(), id).await?.ok_or_else(not_found)?;
    ok(200, &organization_view(&org))
}

pub async fn update<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let b = body(req)?;
    let name = if b.contains_key("name") { Some(required_str(&b, "name")?) } else { None };
    let external_id = optional_str(&b, "external_id")?;
    let change = OrganizationChange { name, external_id: b.contains_key("external_id").then_some(external_id) };
    let org = organizations::update(svc.control(), id, &change, &svc.now_text()).await.map_err(conflict_or_internal)?.ok_or_else(not_found)?;
    ok(200, &organization_view(&org))
}

/// An organisation with directories is not deleted: delete them first, so
/// no directory is left without its organisation.
pub async fn delete<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let directories = organizations::directory_count(svc.control(), id).await?.ok_or_else(not_found)?;
    if directories > 0 {
        return Err(has_directories());
    }
    organizations::delete(svc.control(), id).await.map_err(|e| match e {
        DbError::Precondition => has_directories(),
        e => ApiError::from(e),
    })?;
    Ok(Outcome::respond(HttpResponse::empty(204)))
}
