//! `/portal/api/…`: what the portal page reads and does, always as the
//! session's organisation. The session is checked before anything else is
//! read or parsed; a directory of another organisation is a 404, the same
//! as one that does not exist.

use super::debugger::{explain, explain_auth_failure};
use super::{set_cookie, CSRF_HEADER};
use crate::app::api::directories::{create_in, create_token, delete_token, list_tokens, with_data_counts};
use crate::app::api::{body, optional_str, ApiError, ApiResult};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::directory::views::{group_view, user_view};
use crate::storage::directories::{self, Counts, DirectoriesOf, DirectoryRecord};
use crate::storage::page::Keyset;
use crate::storage::portal::{self, Session};
use crate::storage::scim_requests::{self, RequestRecord};
use crate::storage::users_groups::management::{search_groups, search_users};
use crate::storage::{organizations, Db};
use crate::support::crypto::sha256_hex;
use serde_json::{json, Value};

/// Directories an organisation may have before the portal stops creating them.
pub const MAX_DIRECTORIES: i64 = 25;
/// Users or groups one search answers, at most.
pub const SEARCH_LIMIT: i64 = 50;
/// Longest search text.
const SEARCH_CHARS: usize = 100;

/// The providers the portal offers, with their names.
pub const PROVIDER_NAMES: &[(&str, &str)] = &[
    ("okta", "Okta"),
    ("entra_id", "Microsoft Entra ID"),
    ("cyberark", "CyberArk Identity"),
    ("pingfederate", "PingFederate"),
    ("onelogin", "OneLogin"),
    ("jumpcloud", "JumpCloud"),
    ("rippling", "Rippling"),
    ("generic", "Another SCIM 2.0 provider"),
];

pub async fn handle<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, rest: &[&str]) -> Outcome {
    match authorised(svc, req).await.and_then(|s| s.ok_or_else(|| ApiError::new(401, "unauthorized", "The set-up session has ended; open a new link"))) {
        Ok(session) => match route(svc, req, &session, rest).await {
            Ok(o) => o,
            Err(e) => Outcome::failed(e.response(), e.cause),
        },
        Err(e) => Outcome::failed(e.response(), e.cause),
    }
}

/// The session, after the cross-site checks of a state-changing call.
async fn authorised<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> Result<Option<Session>, ApiError> {
    if req.method != "GET" {
        let same_origin = req.header("origin").is_none_or(|o| o == req.origin());
        if req.header(CSRF_HEADER) != Some("1") || !same_origin {
            return Err(ApiError::new(403, "forbidden", format!("Calls that change something must come from the portal page (same origin, {CSRF_HEADER}: 1)")));
        }
    }
    Ok(super::session(svc, req).await?)
}

async fn route<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, s: &Session, rest: &[&str]) -> ApiResult {
    if req.body_too_large || req.body.len() > 4096 {
        return Err(ApiError::new(413, "payload_too_large", "The body exceeds 4096 bytes"));
    }
    match (req.method.as_str(), rest) {
        ("GET", ["session"]) => overview(svc, req, s).await,
        ("POST", ["sign_out"]) => sign_out(svc, req).await,
        ("POST", ["directories"]) => create_directory(svc, req, s).await,
        ("GET", ["directories", id]) => status(svc, req, &owned(svc, s, id).await?).await,
        ("POST", ["directories", id, "tokens"]) => create_token(svc, req, &owned(svc, s, id).await?.0.id).await,
        ("GET", ["directories", id, "tokens"]) => list_tokens(svc, &owned(svc, s, id).await?.0.id).await,
        ("DELETE", ["directories", id, "tokens", token]) => delete_token(svc, &owned(svc, s, id).await?.0.id, token).await,
        ("GET", ["directories", id, kind @ ("users" | "groups")]) => search(svc, req, &owned(svc, s, id).await?.0, *kind == "groups").await,
        _ => Err(ApiError::not_found("No such endpoint")),
    }
}

/// The directory `id` when it belongs to the session's organisation.
async fn owned<D: Db>(svc: &Services<'_, D>, s: &Session, id: &str) -> Result<(DirectoryRecord, Counts), ApiError> {
    let not_found = || ApiError::not_found("Directory not found");
    let dir = directories::get_with_counts(svc.control(), id).await?.filter(|(d, _)| d.organization_id == s.organization_id).ok_or_else(not_found)?;
    let mut dirs = [dir];
    with_data_counts(svc, &mut dirs).await?;
    let [dir] = dirs;
    Ok(dir)
}

fn provider_name(id: &str) -> &'static str {
    PROVIDER_NAMES.iter().find(|(p, _)| *p == id).map_or("SCIM 2.0", |(_, n)| *n)
}

fn directory_json(req: &HttpRequest, (d, c): &(DirectoryRecord, Counts)) -> Value {
    json!({
        "id": d.id, "name": d.name, "provider": d.provider, "provider_name": provider_name(&d.provider),
        "state": d.state, "user_count": c.users, "group_count": c.groups, "created_at": d.created_at,
        "scim_base_url": format!("{}/scim/v2/{}", req.origin(), d.id),
        "token_url": format!("{}/scim/v2/{}/oauth/token", req.origin(), d.id),
    })
}

async fn overview<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, s: &Session) -> ApiResult {
    let org = organizations::get(svc.control(), &s.organization_id).await?.ok_or_else(|| ApiError::not_found("Organization not found"))?;
    let page = Keyset { limit: 100, after: None, before: None, descending: false };
    let mut dirs = directories::list_with_counts(svc.control(), &page, &DirectoriesOf { organization_id: Some(&org.id), search: None }).await?;
    dirs.truncate(100);
    with_data_counts(svc, &mut dirs).await?;
    let providers: Vec<Value> = PROVIDER_NAMES.iter().map(|(id, name)| json!({ "id": id, "name": name })).collect();
    crate::app::api::ok(
        200,
        &json!({
            "organization": { "id": org.id, "name": org.name },
            "directories": dirs.iter().filter(|(d, _)| !d.is_deleting()).map(|d| directory_json(req, d)).collect::<Vec<_>>(),
            "providers": providers,
            "session_expires_at": s.expires_at,
        }),
    )
}

async fn sign_out<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    if let Some(c) = super::cookie(req) {
        portal::end_session(svc.control(), &sha256_hex(c.as_bytes())).await?;
    }
    Ok(Outcome::respond(HttpResponse::empty(204).header("set-cookie", set_cookie(req, "", 0))))
}

/// `{provider, name?}`: a new directory of the session's organisation and
/// its first bearer token (shown once).
async fn create_directory<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, s: &Session) -> ApiResult {
    let b = body(req)?;
    let provider = optional_str(&b, "provider")?.unwrap_or_default();
    let name = optional_str(&b, "name")?.filter(|n| !n.is_empty()).unwrap_or_else(|| provider_name(&provider).to_string());
    if name.chars().count() > 100 {
        return Err(ApiError::invalid("name is at most 100 characters"));
    }
    let count = organizations::directory_count(svc.control(), &s.organization_id).await?.unwrap_or(0);
    if count >= MAX_DIRECTORIES {
        return Err(ApiError::conflict(format!("An organisation has at most {MAX_DIRECTORIES} directories; ask your application's team to remove one")));
    }
    create_in(svc, req, s.organization_id.clone(), name, &provider).await
}

/// Live status: the directory, its tokens, the IdP recognised, refused
/// credentials and the recent requests with what they caused. With
/// `?since=<n>` (the page's polls) and no request newer than `n`, the
/// requests are not read again: `requests` is null and the page keeps its own.
async fn status<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, dir: &(DirectoryRecord, Counts)) -> ApiResult {
    let id = &dir.0.id;
    let tokens = directories::list_tokens(svc.control(), id).await?.unwrap_or_default();
    let since = req.param("since").and_then(|n| n.parse::<i64>().ok());
    let (mut requests, mut failures) = scim_requests::recent(svc.data(id), id, if since.is_some() { 1 } else { scim_requests::KEPT }).await?;
    let unchanged = since == Some(requests.first().map_or(0, |r| r.n));
    if since.is_some() && !unchanged {
        (requests, failures) = scim_requests::recent(svc.data(id), id, scim_requests::KEPT).await?;
    }
    let ids: Vec<String> = if unchanged { Vec::new() } else { requests.iter().flat_map(|r| r.event_ids.iter().cloned()).collect() };
    let outcomes = scim_requests::event_outcomes(svc.data(id), id, &ids).await?;
    let request_json = |r: &RequestRecord| {
        let events: Vec<Value> = r
            .event_ids
            .iter()
            .filter_map(|e| outcomes.iter().find(|o| &o.id == e))
            .map(|o| json!({ "id": o.id, "event": o.event, "sequence": o.sequence, "deliveries": o.deliveries }))
            .collect();
        let explanation = explain(r.status, r.scim_type.as_deref(), &r.route).map(|e| json!({ "what": e.what, "fix": e.fix }));
        json!({
            "n": r.n, "at": r.at, "method": r.method, "route": r.route, "resource_id": r.resource_id, "query": r.query,
            "status": r.status, "scim_type": r.scim_type, "detail": r.detail, "idp": r.idp, "idp_name": r.idp.as_deref().map(provider_name),
            "user_agent": r.user_agent, "results": r.results, "ms": r.ms, "events": events, "explanation": explanation,
        })
    };
    let recognised = requests.iter().find_map(|r| r.idp.clone());
    let tokens: Vec<Value> =
        tokens.iter().map(|t| json!({ "id": t.id, "type": t.kind, "hint": t.hint, "created_at": t.created_at, "last_used_at": t.last_used_at })).collect();
    crate::app::api::ok(
        200,
        &json!({
            "directory": directory_json(req, dir),
            "tokens": tokens,
            "recognised_idp": recognised.as_deref().map(|i| json!({ "id": i, "name": provider_name(i) })),
            "last_request": requests.first().map(request_json),
            "auth_failures": failures.map(|f| json!({
                "count": f.count, "first_at": f.first_at, "last_at": f.last_at, "reason": f.reason,
                "explanation": explain_auth_failure(&f.reason), "idp_name": f.idp.as_deref().map(provider_name), "user_agent": f.user_agent,
            })),
            "requests": if unchanged { Value::Null } else { Value::Array(requests.iter().map(request_json).collect()) },
        }),
    )
}

async fn search<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, dir: &DirectoryRecord, groups: bool) -> ApiResult {
    let q: String = req.param("search").unwrap_or_default().trim().chars().take(SEARCH_CHARS).collect();
    let data = svc.data(&dir.id);
    let items: Vec<Value> = if groups {
        search_groups(data, &dir.id, &q, SEARCH_LIMIT).await?.iter().map(|g| group_view(g, &dir.organization_id)).collect()
    } else {
        search_users(data, &dir.id, &q, SEARCH_LIMIT).await?.iter().map(|u| user_view(u, &dir.organization_id, None)).collect()
    };
    crate::app::api::ok(200, &json!({ "data": items, "limit": SEARCH_LIMIT }))
}
