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
pub mod openapi;
pub mod organizations;
pub mod page;
pub mod pull;
pub mod users_groups;
pub mod webhooks;

use super::{HttpRequest, HttpResponse, Outcome, Services};
use crate::storage::Db;
use crate::support::crypto::constant_time_eq;
use crate::support::url::percent_decode;
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

/// One operation of the management API: what a [`Route`] dispatches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    OrganizationCreate,
    OrganizationList,
    OrganizationGetByExternalId,
    OrganizationGet,
    OrganizationUpdate,
    OrganizationDelete,
    DomainCreate,
    DomainList,
    DomainDelete,
    DirectoryCreate,
    DirectoryList,
    DirectoryGet,
    DirectoryDelete,
    TokenCreate,
    TokenList,
    TokenDelete,
    UserList,
    UserGet,
    GroupList,
    GroupGet,
    EventList,
    EventGet,
    EventRedeliver,
    EndpointCreate,
    EndpointList,
    EndpointGet,
    EndpointUpdate,
    EndpointDelete,
    EndpointRotateSecret,
    EndpointDeliveries,
    PortalGenerateLink,
    PortalRevokeLink,
    PullPut,
    PullGet,
    PullDelete,
    PullRun,
}

/// A method and a path pattern, written as `docs/openapi.json` writes its
/// paths: literal segments, and `{name}` for one segment of any text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub op: Op,
}

const fn r(method: &'static str, path: &'static str, op: Op) -> Route {
    Route { method, path, op }
}

/// Every route of the management API, in matching order (the first that
/// matches wins): the table the router dispatches by, and the one
/// `tests/openapi_document.rs` holds equal to `docs/openapi.json`. The
/// root paths are WorkOS's; `/v1` has the same use cases under its own
/// names, plus what WorkOS has no route for.
pub const ROUTES: &[Route] = &[
    r("GET", "/directories", Op::DirectoryList),
    r("GET", "/directories/{id}", Op::DirectoryGet),
    r("DELETE", "/directories/{id}", Op::DirectoryDelete),
    r("POST", "/directories/{id}/sync", Op::PullRun),
    r("GET", "/directory_users", Op::UserList),
    r("GET", "/directory_users/{id}", Op::UserGet),
    r("GET", "/directory_groups", Op::GroupList),
    r("GET", "/directory_groups/{id}", Op::GroupGet),
    r("GET", "/events", Op::EventList),
    r("POST", "/organizations", Op::OrganizationCreate),
    r("GET", "/organizations", Op::OrganizationList),
    r("GET", "/organizations/external_id/{external_id}", Op::OrganizationGetByExternalId),
    r("GET", "/organizations/{id}", Op::OrganizationGet),
    r("PUT", "/organizations/{id}", Op::OrganizationUpdate),
    r("DELETE", "/organizations/{id}", Op::OrganizationDelete),
    r("POST", "/webhook_endpoints", Op::EndpointCreate),
    r("GET", "/webhook_endpoints", Op::EndpointList),
    r("GET", "/webhook_endpoints/{id}", Op::EndpointGet),
    r("PATCH", "/webhook_endpoints/{id}", Op::EndpointUpdate),
    r("DELETE", "/webhook_endpoints/{id}", Op::EndpointDelete),
    r("POST", "/portal/generate_link", Op::PortalGenerateLink),
    r("POST", "/portal/revoke_link", Op::PortalRevokeLink),
    r("POST", "/v1/organizations", Op::OrganizationCreate),
    r("GET", "/v1/organizations", Op::OrganizationList),
    r("GET", "/v1/organizations/external_id/{external_id}", Op::OrganizationGetByExternalId),
    r("GET", "/v1/organizations/{id}", Op::OrganizationGet),
    r("PATCH", "/v1/organizations/{id}", Op::OrganizationUpdate),
    r("PUT", "/v1/organizations/{id}", Op::OrganizationUpdate),
    r("DELETE", "/v1/organizations/{id}", Op::OrganizationDelete),
    r("POST", "/v1/domains", Op::DomainCreate),
    r("GET", "/v1/domains", Op::DomainList),
    r("DELETE", "/v1/domains/{hostname}", Op::DomainDelete),
    r("POST", "/v1/directories", Op::DirectoryCreate),
    r("GET", "/v1/directories", Op::DirectoryList),
    r("GET", "/v1/directories/{id}", Op::DirectoryGet),
    r("DELETE", "/v1/directories/{id}", Op::DirectoryDelete),
    r("POST", "/v1/directories/{id}/tokens", Op::TokenCreate),
    r("GET", "/v1/directories/{id}/tokens", Op::TokenList),
    r("DELETE", "/v1/directories/{id}/tokens/{token_id}", Op::TokenDelete),
    r("PUT", "/v1/directories/{id}/pull", Op::PullPut),
    r("GET", "/v1/directories/{id}/pull", Op::PullGet),
    r("DELETE", "/v1/directories/{id}/pull", Op::PullDelete),
    r("POST", "/v1/directories/{id}/pull/run", Op::PullRun),
    r("GET", "/v1/directory_users", Op::UserList),
    r("GET", "/v1/directory_users/{id}", Op::UserGet),
    r("GET", "/v1/directory_groups", Op::GroupList),
    r("GET", "/v1/directory_groups/{id}", Op::GroupGet),
    r("GET", "/v1/events", Op::EventList),
    r("GET", "/v1/events/{id}", Op::EventGet),
    r("POST", "/v1/events/{id}/redeliver", Op::EventRedeliver),
    r("POST", "/v1/webhook_endpoints", Op::EndpointCreate),
    r("GET", "/v1/webhook_endpoints", Op::EndpointList),
    r("GET", "/v1/webhook_endpoints/{id}", Op::EndpointGet),
    r("PATCH", "/v1/webhook_endpoints/{id}", Op::EndpointUpdate),
    r("DELETE", "/v1/webhook_endpoints/{id}", Op::EndpointDelete),
    r("POST", "/v1/webhook_endpoints/{id}/rotate_secret", Op::EndpointRotateSecret),
    r("GET", "/v1/webhook_endpoints/{id}/deliveries", Op::EndpointDeliveries),
];

/// The values of a pattern's `{…}` segments (at most two) if `segments`
/// (the request path's non-empty segments) match it.
fn captures<'a>(pattern: &str, segments: &[&'a str]) -> Option<[&'a str; 2]> {
    let mut args = [""; 2];
    let mut n = 0;
    let mut given = segments.iter();
    for want in pattern.split('/').filter(|s| !s.is_empty()) {
        let seg = given.next()?;
        if want.starts_with('{') {
            *args.get_mut(n)? = seg;
            n += 1;
        } else if want != *seg {
            return None;
        }
    }
    given.next().is_none().then_some(args)
}

/// The route a request takes, and its path arguments.
pub fn find<'a>(method: &str, segments: &[&'a str]) -> Option<(Op, [&'a str; 2])> {
    ROUTES.iter().filter(|r| r.method == method).find_map(|r| captures(r.path, segments).map(|a| (r.op, a)))
}

/// The methods some route answers on this path (for a 405's `Allow`).
pub fn allowed_methods(segments: &[&str]) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = ROUTES.iter().filter(|r| captures(r.path, segments).is_some()).map(|r| r.method).collect();
    methods.sort_unstable();
    methods.dedup();
    methods
}

/// A management request; `segments` are the whole path's non-empty segments.
pub async fn handle<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, segments: &[&str]) -> Outcome {
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
    let answer = match find(&req.method, segments) {
        Some((op, [a, b])) => {
            // Path arguments arrive percent-encoded: the SDKs encode an
            // external id with a space or a slash in it.
            let (a, b) = (percent_decode(a, false), percent_decode(b, false));
            dispatch(svc, req, op, &a, &b).await
        }
        None => {
            let allow = allowed_methods(segments);
            if !allow.is_empty() {
                let e = ApiError::new(405, "method_not_allowed", format!("{} is not allowed here; allowed: {}", req.method, allow.join(", ")));
                return Outcome::respond(e.response_in(dialect).header("allow", allow.join(", ")));
            }
            Err(ApiError::not_found("No such endpoint"))
        }
    };
    match answer {
        Ok(o) => o,
        Err(e) => Outcome::failed(e.response_in(dialect), e.cause),
    }
}

/// Runs an operation with its path arguments `a` and `b` (in the order of
/// the route's `{…}` segments; unused ones are empty).
async fn dispatch<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, op: Op, a: &str, b: &str) -> ApiResult {
    match op {
        Op::OrganizationCreate => organizations::create(svc, req).await,
        Op::OrganizationList => organizations::list(svc, req).await,
        Op::OrganizationGetByExternalId => organizations::get_by_external_id(svc, req, a).await,
        Op::OrganizationGet => organizations::get(svc, req, a).await,
        Op::OrganizationUpdate => organizations::update(svc, req, a).await,
        Op::OrganizationDelete => organizations::delete(svc, a).await,
        Op::DomainCreate => domains::create(svc, req).await,
        Op::DomainList => domains::list(svc, req).await,
        Op::DomainDelete => domains::delete(svc, a).await,
        Op::DirectoryCreate => directories::create(svc, req).await,
        Op::DirectoryList => directories::list(svc, req).await,
        Op::DirectoryGet => directories::get(svc, req, a).await,
        Op::DirectoryDelete => directories::delete(svc, a).await,
        Op::TokenCreate => directories::create_token(svc, req, a).await,
        Op::TokenList => directories::list_tokens(svc, a).await,
        Op::TokenDelete => directories::delete_token(svc, a, b).await,
        Op::UserList => users_groups::list_users(svc, req).await,
        Op::UserGet => users_groups::get_user(svc, a).await,
        Op::GroupList => users_groups::list_groups(svc, req).await,
        Op::GroupGet => users_groups::get_group(svc, a).await,
        Op::EventList => events::list(svc, req).await,
        Op::EventGet => events::get(svc, a).await,
        Op::EventRedeliver => events::redeliver(svc, a).await,
        Op::EndpointCreate => webhooks::create(svc, req).await,
        Op::EndpointList => webhooks::list(svc, req).await,
        Op::EndpointGet => webhooks::get(svc, req, a).await,
        Op::EndpointUpdate => webhooks::update(svc, req, a).await,
        Op::EndpointDelete => webhooks::delete(svc, a).await,
        Op::EndpointRotateSecret => webhooks::rotate_secret(svc, req, a).await,
        Op::EndpointDeliveries => webhooks::deliveries(svc, req, a).await,
        Op::PortalGenerateLink => crate::app::portal::link::generate(svc, req).await,
        Op::PortalRevokeLink => crate::app::portal::link::revoke(svc, req).await,
        Op::PullPut => pull::put(svc, req, a).await,
        Op::PullGet => pull::get(svc, a).await,
        Op::PullDelete => pull::delete(svc, a).await,
        Op::PullRun => pull::run(svc, a).await,
    }
}
