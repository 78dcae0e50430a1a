//! Organisations: the customers whose directories Rollcall syncs.
//!
//! On `/v1` an organisation's `domains` are its whitelabel hostnames; on the
//! WorkOS routes `domains` are WorkOS's organisation domains (email
//! domains), which Rollcall does not keep: always `[]`, and `metadata`
//! always `{}`. Setting either to something is refused rather than
//! dropped.

use super::page::Page;
use super::{body, ok, optional_str, required_str, ApiError, ApiResult, Dialect};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::directory::views::organization_view;
use crate::storage::organizations::{self, OrganizationChange, OrganizationRecord};
use crate::storage::{Db, DbError};
use serde_json::{json, Map, Value};

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

fn view(o: &OrganizationRecord, dialect: Dialect) -> Value {
    let mut v = organization_view(o);
    if let (Dialect::WorkOs, Some(m)) = (dialect, v.as_object_mut()) {
        m.insert("domains".into(), json!([]));
        m.insert("metadata".into(), json!({}));
        m.insert("allow_profiles_outside_organization".into(), json!(false));
    }
    v
}

/// WorkOS's fields Rollcall does not keep may come empty (the SDKs send
/// them so) but not with something in them.
fn refuse_unkept(b: &Map<String, Value>) -> Result<(), ApiError> {
    for key in ["domains", "domain_data", "metadata", "stripe_customer_id"] {
        let empty = match b.get(key) {
            None | Some(Value::Null) => true,
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Object(o)) => o.is_empty(),
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if !empty {
            return Err(ApiError::invalid(format!("{key} is not supported: Rollcall keeps an organization's name and external_id")));
        }
    }
    if b.get("allow_profiles_outside_organization").is_some_and(|v| v == &Value::Bool(true)) {
        return Err(ApiError::invalid("allow_profiles_outside_organization is not supported (Rollcall has no SSO profiles)"));
    }
    Ok(())
}

pub async fn create<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let b = body(req)?;
    refuse_unkept(&b)?;
    let name = required_str(&b, "name")?;
    let external_id = optional_str(&b, "external_id")?;
    let id = svc.ids().make("org");
    let org = organizations::create(svc.control(), &id, &name, external_id.as_deref(), &svc.now_text()).await.map_err(conflict_or_internal)?;
    ok(201, &org.as_ref().map(|o| view(o, Dialect::of(req))).unwrap_or_default())
}

/// `?search=` (a part of the name, any case) and paging; WorkOS's
/// `domains` filter is refused (Rollcall keeps no organisation domains).
pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    if req.param("domains").is_some_and(|d| !d.trim().is_empty()) {
        return Err(ApiError::invalid("domains is not supported: Rollcall keeps no organization domains; use search"));
    }
    let orgs = organizations::list(svc.control(), &page, req.param("search").map(str::trim).filter(|s| !s.is_empty())).await?;
    let dialect = Dialect::of(req);
    ok(200, &page.answer(orgs.iter().map(|o| view(o, dialect)).collect(), |v| v["id"].as_str().map(str::to_string)))
}

pub async fn get<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let org = organizations::get(svc.control(), id).await?.ok_or_else(not_found)?;
    ok(200, &view(&org, Dialect::of(req)))
}

pub async fn get_by_external_id<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, external_id: &str) -> ApiResult {
    let org = organizations::get_by_external_id(svc.control(), external_id).await?.ok_or_else(not_found)?;
    ok(200, &view(&org, Dialect::of(req)))
}

pub async fn update<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let b = body(req)?;
    refuse_unkept(&b)?;
    let name = if b.contains_key("name") { Some(required_str(&b, "name")?) } else { None };
    let external_id = optional_str(&b, "external_id")?;
    let change = OrganizationChange { name, external_id: b.contains_key("external_id").then_some(external_id) };
    let org = organizations::update(svc.control(), id, &change, &svc.now_text()).await.map_err(conflict_or_internal)?.ok_or_else(not_found)?;
    ok(200, &view(&org, Dialect::of(req)))
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
