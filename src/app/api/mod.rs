//! `/v1`: the management API for the application's backend (docs/PRODUCT.md §
//! Management API). JSON in, JSON out, errors as `{ "error": { code, message } }`.

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
    pub fn response(&self) -> HttpResponse {
        HttpResponse::json(self.status, &json!({ "error": { "code": self.code, "message": self.message } }))
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

pub async fn handle<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, rest: &[&str]) -> Outcome {
    if let Some(why) = svc.cfg.admin_key_problem() {
        let e = misconfigured(why);
        return Outcome::failed(e.response(), e.cause);
    }
    let key = svc.cfg.admin_api_key.as_bytes();
    let authorised = req.bearer().is_some_and(|t| constant_time_eq(t.as_bytes(), key));
    if !authorised {
        return Outcome::respond(ApiError::new(401, "unauthorized", "Send Authorization: Bearer <ADMIN_API_KEY>").response());
    }
    if req.body_too_large || req.body.len() > svc.cfg.max_payload {
        return Outcome::respond(ApiError::new(413, "payload_too_large", format!("The body exceeds {} bytes", svc.cfg.max_payload)).response());
    }
    match route(svc, req, rest).await {
        Ok(o) => o,
        Err(e) => Outcome::failed(e.response(), e.cause),
    }
}

async fn route<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, rest: &[&str]) -> ApiResult {
    let m = req.method.as_str();
    match (m, rest) {
        ("POST", ["organizations"]) => organizations::create(svc, req).await,
        ("GET", ["organizations"]) => organizations::list(svc, req).await,
        ("GET", ["organizations", id]) => organizations::get(svc, id).await,
        ("PATCH" | "PUT", ["organizations", id]) => organizations::update(svc, req, id).await,
        ("DELETE", ["organizations", id]) => organizations::delete(svc, id).await,
        ("POST", ["domains"]) => domains::create(svc, req).await,
        ("GET", ["domains"]) => domains::list(svc, req).await,
        ("DELETE", ["domains", host]) => domains::delete(svc, host).await,
        ("POST", ["directories"]) => directories::create(svc, req).await,
        ("GET", ["directories"]) => directories::list(svc, req).await,
        ("GET", ["directories", id]) => directories::get(svc, id).await,
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
        ("GET", ["webhook_endpoints", id]) => webhooks::get(svc, id).await,
        ("PATCH", ["webhook_endpoints", id]) => webhooks::update(svc, req, id).await,
        ("DELETE", ["webhook_endpoints", id]) => webhooks::delete(svc, id).await,
        ("POST", ["webhook_endpoints", id, "rotate_secret"]) => webhooks::rotate_secret(svc, req, id).await,
        ("GET", ["webhook_endpoints", id, "deliveries"]) => webhooks::deliveries(svc, req, id).await,
        _ => Err(ApiError::not_found("No such endpoint")),
    }
}
