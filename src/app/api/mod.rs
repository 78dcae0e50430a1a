//! The management API for the application's backend (docs/PRODUCT.md §
//! Management API), on the default hostnames, in two dialects over one set
//! of use cases:
//!
//! - the root paths are WorkOS's Directory Sync API (`/directories`,
//!   `/directory_users`, `/directory_groups`, `/events`, `/organizations`,
//!   and `/webhook_endpoints` as WorkOS's Webhooks API has them),
//!   so an application on WorkOS's SDKs moves by changing the base URL;
//!   errors as WorkOS shapes them, `{ "message", "code", "errors"? }`;
//! - `/v1` is Rollcall's own: the same routes plus what WorkOS has no route
//!   for (directory creation, SCIM tokens, hostnames, webhook secret
//!   rotation and deliveries, redelivery); errors as `{ "error": { code, message } }`.

pub mod directories;
pub mod domains;
pub mod events;
pub mod organizations;
pub mod page;
pub mod users_groups;
pub mod webhooks;

use super::{HttpRequest, HttpResponse, Outcome, Services};
use crate::storage::Db;
use crate::support::crypto::constant_time_eq;
use serde_json::{json, Map, Value};

/// Which face of the management API a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/v1/…`: Rollcall's own.
    V1,
    /// The root paths: WorkOS's.
    WorkOs,
}

impl Dialect {
    pub fn of(req: &HttpRequest) -> Self {
        if req.path == "/v1" || req.path.starts_with("/v1/") {
            Dialect::V1
        } else {
            Dialect::WorkOs
        }
    }
}

/// The first path segments the WorkOS dialect answers at the root.
pub const WORKOS_ROOTS: &[&str] = &["directories", "directory_users", "directory_groups", "events", "organizations", "webhook_endpoints"];

/// Whether a path is one the WorkOS dialect answers.
pub fn is_workos_path(path: &str) -> bool {
    path.split('/').find(|s| !s.is_empty()).is_some_and(|first| WORKOS_ROOTS.contains(&first))
}

/// A management API error.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// What went wrong inside, for the request's log line; never answered.
    pub cause: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), cause: None }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(422, "invalid_request", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }
    /// Rollcall's own error body.
    pub fn response(&self) -> HttpResponse {
        HttpResponse::json(self.status, &json!({ "error": { "code": self.code, "message": self.message } }))
    }
    /// The error body of the dialect: WorkOS's SDKs pick their error class
    /// by status and read `message` and `code`, and the Node SDK a 400 as a
    /// bad request only with `code` and `errors` (with `error` it would
    /// take it for an OAuth error).
    pub fn response_in(&self, dialect: Dialect) -> HttpResponse {
        match dialect {
            Dialect::V1 => self.response(),
            Dialect::WorkOs => {
                let code = match self.code {
                    "not_found" => "entity_not_found",
                    "invalid_request" => "invalid_request_parameters",
                    c => c,
                };
                let mut body = json!({ "message": self.message, "code": code });
                if let (true, Some(o)) = (matches!(self.status, 400 | 422), body.as_object_mut()) {
                    o.insert("errors".into(), json!([{ "code": code, "message": self.message }]));
                }
                HttpResponse::json(self.status, &body)
            }
        }
    }
}

/// A setting that makes an endpoint unusable (a missing or short key): the
/// message names the setting, never its value.
pub fn misconfigured(why: String) -> ApiError {
    ApiError { cause: Some(why.clone()), ..ApiError::new(500, "misconfigured", why) }
}

/// The entropy source failed: no secret is made from predictable bytes.
pub fn entropy_unavailable() -> ApiError {
    ApiError {
        cause: Some("entropy source failed".into()),
        ..ApiError::new(503, "entropy_unavailable", "No secure randomness is available right now; retry later")
    }
}

pub type ApiResult = Result<Outcome, ApiError>;

pub fn ok(status: u16, body: &Value) -> ApiResult {
    Ok(Outcome::respond(HttpResponse::json(status, body)))
}

/// The JSON object body of a request.
pub fn body(req: &HttpRequest) -> Result<Map<String, Value>, ApiError> {
    if req.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::new(400, "invalid_json", "The body must be a JSON object")),
        Err(e) => Err(ApiError::new(400, "invalid_json", format!("The body is not valid JSON: {e}"))),
    }
}

/// A required non-empty string field.
pub fn required_str(m: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    match m.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(ApiError::invalid(format!("{key} is required"))),
        Some(_) => Err(ApiError::invalid(format!("{key} must be a string"))),
    }
}

/// An optional string field (null = absent).
pub fn optional_str(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(ApiError::invalid(format!("{key} must be a string"))),
    }
}

/// A management request: `rest` is the path after `/v1`, or the whole path
/// on the WorkOS routes.
pub async fn handle<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, rest: &[&str]) -> Outcome {
    let dialect = Dialect::of(req);
    if let Some(why) = svc.cfg.admin_key_problem() {
        let e = misconfigured(why);
        return Outcome::failed(e.response_in(dialect), e.cause);
    }
    let key = svc.cfg.admin_api_key.as_bytes();
    let authorised = req.bearer().is_some_and(|t| constant_time_eq(t.as_bytes(), key));
    let refused = if !authorised {
        Some(ApiError::new(401, "unauthorized", "Send Authorization: Bearer <ADMIN_API_KEY>"))
    } else if req.body_too_large || req.body.len() > svc.cfg.max_payload {
        Some(ApiError::new(413, "payload_too_large", format!("The body exceeds {} bytes", svc.cfg.max_payload)))
    } else {
        None
    };
    if let Some(e) = refused {
        return Outcome::respond(e.response_in(dialect));
    }
    let answer = match dialect {
        Dialect::V1 => route(svc, req, rest).await,
        Dialect::WorkOs => workos_route(svc, req, rest).await,
    };
    match answer {
        Ok(o) => o,
        Err(e) => Outcome::failed(e.response_in(dialect), e.cause),
    }
}

/// WorkOS's Directory Sync routes: the same use cases as `/v1`'s.
async fn workos_route<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, rest: &[&str]) -> ApiResult {
    match (req.method.as_str(), rest) {
        ("GET", ["directories"]) => directories::list(svc, req).await,
        ("GET", ["directories", id]) => directories::get(svc, req, id).await,
        ("DELETE", ["directories", id]) => directories::delete(svc, id).await,
        ("GET", ["directory_users"]) => users_groups::list_users(svc, req).await,
        ("GET", ["directory_users", id]) => users_groups::get_user(svc, id).await,
        ("GET", ["directory_groups"]) => users_groups::list_groups(svc, req).await,
        ("GET", ["directory_groups", id]) => users_groups::get_group(svc, id).await,
        ("GET", ["events"]) => events::list(svc, req).await,
        ("POST", ["organizations"]) => organizations::create(svc, req).await,
        ("GET", ["organizations"]) => organizations::list(svc, req).await,
        ("GET", ["organizations", "external_id", external_id]) => organizations::get_by_external_id(svc, req, external_id).await,
        ("GET", ["organizations", id]) => organizations::get(svc, req, id).await,
        ("PUT", ["organizations", id]) => organizations::update(svc, req, id).await,
        ("DELETE", ["organizations", id]) => organizations::delete(svc, id).await,
        ("POST", ["webhook_endpoints"]) => webhooks::create(svc, req).await,
        ("GET", ["webhook_endpoints"]) => webhooks::list(svc, req).await,
        ("GET", ["webhook_endpoints", id]) => webhooks::get(svc, req, id).await,
        ("PATCH", ["webhook_endpoints", id]) => webhooks::update(svc, req, id).await,
        ("DELETE", ["webhook_endpoints", id]) => webhooks::delete(svc, id).await,
        ("POST", ["portal", "generate_link"]) => crate::app::portal::link::generate(svc, req).await,
        ("POST", ["portal", "revoke_link"]) => crate::app::portal::link::revoke(svc, req).await,
        _ => Err(ApiError::not_found("No such endpoint")),
    }
}

async fn route<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, rest: &[&str]) -> ApiResult {
    let m = req.method.as_str();
    match (m, rest) {
        ("POST", ["organizations"]) => organizations::create(svc, req).await,
        ("GET", ["organizations"]) => organizations::list(svc, req).await,
        ("GET", ["organizations", "external_id", external_id]) => organizations::get_by_external_id(svc, req, external_id).await,
        ("GET", ["organizations", id]) => organizations::get(svc, req, id).await,
        ("PATCH" | "PUT", ["organizations", id]) => organizations::update(svc, req, id).await,
        ("DELETE", ["organizations", id]) => organizations::delete(svc, id).await,
        ("POST", ["domains"]) => domains::create(svc, req).await,
        ("GET", ["domains"]) => domains::list(svc, req).await,
        ("DELETE", ["domains", host]) => domains::delete(svc, host).await,
        ("POST", ["directories"]) => directories::create(svc, req).await,
        ("GET", ["directories"]) => directories::list(svc, req).await,
        ("GET", ["directories", id]) => directories::get(svc, req, id).await,
        ("DELETE", ["directories", id]) => directories::delete(svc, id).await,
        ("POST", ["directories", id, "tokens"]) => directories::create_token(svc, req, id).await,
        ("GET", ["directories", id, "tokens"]) => directories::list_tokens(svc, id).await,
        ("DELETE", ["directories", id, "tokens", token]) => directories::delete_token(svc, id, token).await,
        ("GET", ["directory_users"]) => users_groups::list_users(svc, req).await,
        ("GET", ["directory_users", id]) => users_groups::get_user(svc, id).await,
        ("GET", ["directory_groups"]) => users_groups::list_groups(svc, req).await,
        ("GET", ["directory_groups", id]) => users_groups::get_group(svc, id).await,
        ("GET", ["events"]) => events::list(svc, req).await,
        ("GET", ["events", id]) => events::get(svc, id).await,
        ("POST", ["events", id, "redeliver"]) => events::redeliver(svc, id).await,
        ("POST", ["webhook_endpoints"]) => webhooks::create(svc, req).await,
        ("GET", ["webhook_endpoints"]) => webhooks::list(svc, req).await,
        ("GET", ["webhook_endpoints", id]) => webhooks::get(svc, req, id).await,
        ("PATCH", ["webhook_endpoints", id]) => webhooks::update(svc, req, id).await,
        ("DELETE", ["webhook_endpoints", id]) => webhooks::delete(svc, id).await,
        ("POST", ["webhook_endpoints", id, "rotate_secret"]) => webhooks::rotate_secret(svc, req, id).await,
        ("GET", ["webhook_endpoints", id, "deliveries"]) => webhooks::deliveries(svc, req, id).await,
        _ => Err(ApiError::not_found("No such endpoint")),
    }
}
