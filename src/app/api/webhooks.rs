//! Webhook endpoints: where events are pushed, with their signing secrets
//! (sealed at rest, shown once) and the log of every delivery attempt.
//!
//! On the WorkOS routes (`/webhook_endpoints` at the root) an endpoint is
//! WorkOS's object: `{object, id, endpoint_url, secret, status, events,
//! created_at, updated_at}`, written with `endpoint_url`, `events` and
//! `status`. WorkOS's SDKs require `secret` in every answer; Rollcall shows
//! it in the create answer only and answers `""` elsewhere. An endpoint of
//! every event (`events` null on `/v1`) lists every event name there.

use super::page::Page;
use super::{body, ok, ApiError, ApiResult, Dialect};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::events::kind;
use crate::storage::webhooks::deliveries::{self, DeliveryRecord};
use crate::storage::webhooks::endpoints::{self, Endpoint, EndpointChange, NewEndpoint, StateChange};
use crate::storage::Db;
use crate::support::time::Millis;
use crate::webhook::circuit::{recent, HEALTH_BUCKET_SECONDS};
use crate::webhook::sign::new_secret;
use serde_json::{json, Map, Value};

/// How long the previous secret still signs after a rotation, by default.
const DEFAULT_OVERLAP_SECONDS: i64 = 86_400;

/// The endpoint's health, from counters on its row (O(1)): its circuit,
/// its run of failures, and its attempts and failures over the last hour or two.
fn health(e: &Endpoint, now: Millis) -> Value {
    let (attempts, failures) = recent(e.counters, now);
    let rate = if attempts > 0 { failures as f64 / attempts as f64 } else { 0.0 };
    json!({
        "circuit": if e.circuit_open_until.is_some() { "open" } else { "closed" },
        "next_probe_at": e.circuit_open_until,
        "consecutive_failures": e.consecutive_failures,
        "failing_since": e.failing_since,
        "recent": { "attempts": attempts, "failures": failures, "failure_rate": (rate * 1000.0).round() / 1000.0, "window_seconds": 2 * HEALTH_BUCKET_SECONDS },
    })
}

fn view(e: &Endpoint, now: Millis) -> Value {
    json!({
        "object": "webhook_endpoint",
        "id": e.id,
        "url": e.url,
        "events": e.events,
        "state": e.state,
        "disabled_reason": e.disabled_reason,
        "previous_secret_expires_at": e.previous_secret_expires_at,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "health": health(e, now),
    })
}

/// WorkOS's webhook endpoint object, its secret blank (see the module doc).
fn workos_view(e: &Endpoint) -> Value {
    let events: Vec<&str> = match &e.events {
        Some(names) => names.iter().map(String::as_str).collect(),
        None => kind::ALL.to_vec(),
    };
    json!({
        "object": "webhook_endpoint",
        "id": e.id,
        "endpoint_url": e.url,
        "secret": "",
        "status": if e.state == "enabled" { "enabled" } else { "disabled" },
        "events": events,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    })
}

fn view_in(e: &Endpoint, now: Millis, dialect: Dialect) -> Value {
    match dialect {
        Dialect::V1 => view(e, now),
        Dialect::WorkOs => workos_view(e),
    }
}

/// The field names of the dialect: the URL, and the state.
fn fields(dialect: Dialect) -> (&'static str, &'static str) {
    match dialect {
        Dialect::V1 => ("url", "state"),
        Dialect::WorkOs => ("endpoint_url", "status"),
    }
}

/// The view of an endpoint just given a secret, with the secret (shown once).
fn with_secret(e: &Endpoint, now: Millis, secret: &str, dialect: Dialect) -> Value {
    let mut v = view_in(e, now, dialect);
    if let Some(o) = v.as_object_mut() {
        o.insert("secret".into(), json!(secret));
    }
    v
}

fn not_found() -> ApiError {
    ApiError::not_found("Webhook endpoint not found")
}

/// A webhook URL: `https://` to any host; `http://` only to a loopback
/// address and only where the dev setting `ALLOW_HTTP_LOOPBACK_WEBHOOKS`
/// allows it (a production deploy never posts events in clear text).
/// `key` names the field in messages.
pub(crate) fn parse_url(key: &str, v: Option<&Value>, cfg: &crate::app::Config) -> Result<Option<String>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let s = v.as_str().ok_or_else(|| ApiError::invalid(format!("{key} must be a string")))?.trim();
    if s.len() > 2048 || s.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::invalid(format!("{key} must be an absolute https URL of at most 2048 bytes")));
    }
    let lower = s.to_ascii_lowercase();
    let (secure, rest) = match (lower.strip_prefix("https://"), lower.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return Err(ApiError::invalid(format!("{key} must be an absolute https URL"))),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host_of(authority);
    if host.is_empty() || authority.contains('@') {
        return Err(ApiError::invalid(format!("{key} must name a host (and no credentials)")));
    }
    let plain_allowed = cfg.allow_http_loopback_webhooks && is_loopback(host);
    if !(secure || plain_allowed) {
        return Err(ApiError::invalid(format!("{key} must use https (plain http is accepted only for loopback receivers in development)")));
    }
    Ok(Some(s.to_string()))
}

/// The host of `host[:port]` or `[v6]:port`.
fn host_of(authority: &str) -> &str {
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// `events`: null or absent = every event; else a non-empty list of names.
fn parse_events(m: &Map<String, Value>) -> Result<Option<Option<String>>, ApiError> {
    match m.get("events") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Array(a)) if !a.is_empty() => {
            let mut names = Vec::new();
            for e in a {
                let n = e.as_str().filter(|n| kind::ALL.contains(n)).ok_or_else(|| ApiError::invalid(format!("Unknown event type {e}")))?;
                names.push(n);
            }
            Ok(Some(Some(serde_json::to_string(&names).unwrap_or_default())))
        }
        Some(_) => Err(ApiError::invalid("events must be null or a non-empty array of event names")),
    }
}

/// A new signing secret and its sealed form, bound to the endpoint `id`.
fn sealed_new_secret<D: Db>(svc: &Services<'_, D>, id: &str) -> Result<(String, String), ApiError> {
    let secret = new_secret(&svc.ids().random_bytes(32).map_err(|_| super::entropy_unavailable())?);
    let sealed = seal(svc, &secret, id)?;
    Ok((secret, sealed))
}

/// A secret sealed under `ENCRYPTION_KEY` and bound to `id` (a fresh nonce each time).
pub(crate) fn seal<D: Db>(svc: &Services<'_, D>, secret: &str, id: &str) -> Result<String, ApiError> {
    let Some(boxed) = svc.cfg.secret_box() else {
        return Err(super::misconfigured(svc.cfg.encryption_key_problem().unwrap_or_default()));
    };
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&svc.ids().random_bytes(12).map_err(|_| super::entropy_unavailable())?);
    boxed.seal(secret.as_bytes(), &nonce, id).ok_or_else(|| ApiError::new(500, "internal_error", "Could not seal the secret"))
}

pub async fn create<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let b = body(req)?;
    let dialect = Dialect::of(req);
    let (url_key, _) = fields(dialect);
    let url = parse_url(url_key, b.get(url_key), svc.cfg)?.ok_or_else(|| ApiError::invalid(format!("{url_key} is required")))?;
    let events = parse_events(&b)?.flatten();
    let id = svc.ids().make("endpoint");
    let (secret, sealed) = sealed_new_secret(svc, &id)?;
    let now = svc.now_text();
    let new = NewEndpoint { id: &id, url: &url, events: events.as_deref(), secret_sealed: &sealed, now: &now };
    let v = endpoints::create(svc.control(), &new).await?.map(|e| with_secret(&e, svc.now, &secret, dialect)).unwrap_or(Value::Null);
    ok(201, &v)
}

pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let found = endpoints::list(svc.control(), &page).await?;
    let dialect = Dialect::of(req);
    ok(200, &page.answer(found.iter().map(|e| view_in(e, svc.now, dialect)).collect(), |v| v["id"].as_str().map(str::to_string)))
}

pub async fn get<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let e = endpoints::get(svc.control(), id).await?.ok_or_else(not_found)?;
    ok(200, &view_in(&e, svc.now, Dialect::of(req)))
}

/// `{url?, events?, state?: "enabled"|"disabled"}` (on the WorkOS routes
/// `endpoint_url` and `status`); enabling clears the reason and catches the
/// endpoint up on what it missed.
pub async fn update<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let b = body(req)?;
    let dialect = Dialect::of(req);
    let (url_key, state_key) = fields(dialect);
    let url = parse_url(url_key, b.get(url_key), svc.cfg)?;
    let events = parse_events(&b)?;
    let state = match b.get(state_key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "enabled" => Some(StateChange::Enable { catchup_chain: format!("catchup_{}", svc.now.0) }),
        Some(Value::String(s)) if s == "disabled" => Some(StateChange::Disable { reason: "disabled through the API".into() }),
        Some(_) => return Err(ApiError::invalid(format!("{state_key} must be enabled or disabled"))),
    };
    let now = svc.now_text();
    let change = EndpointChange { url: url.as_deref(), events: events.as_ref().map(Option::as_deref), state, now: &now };
    let [data] = svc.data_all();
    let e = endpoints::update(svc.control(), data, id, &change).await?.ok_or_else(not_found)?;
    ok(200, &view_in(&e, svc.now, dialect))
}

pub async fn delete<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let [data] = svc.data_all();
    if !endpoints::delete(svc.control(), data, id).await? {
        return Err(not_found());
    }
    Ok(Outcome::respond(HttpResponse::empty(204)))
}

/// A new secret; the previous one keeps signing (a second signature in
/// `webhook-signature`) for `expire_previous_in_seconds` (default one day).
pub async fn rotate_secret<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let b = body(req)?;
    let overlap = match b.get("expire_previous_in_seconds") {
        None | Some(Value::Null) => DEFAULT_OVERLAP_SECONDS,
        Some(v) => v.as_i64().filter(|n| (0..=7 * 86_400).contains(n)).ok_or_else(|| ApiError::invalid("expire_previous_in_seconds must be 0 to 604800"))?,
    };
    let (secret, sealed) = sealed_new_secret(svc, id)?;
    let expires = svc.now.plus_seconds(overlap).to_rfc3339();
    let e = endpoints::rotate_secret(svc.control(), id, &sealed, &expires, &svc.now_text()).await?.ok_or_else(not_found)?;
    ok(200, &with_secret(&e, svc.now, &secret, Dialect::V1))
}

fn delivery_view(d: &DeliveryRecord) -> Value {
    json!({
        "object": "webhook_delivery",
        "id": d.id,
        "event_id": d.event_id,
        "endpoint_id": d.endpoint_id,
        "chain": d.chain,
        "attempt": d.attempt,
        "status": d.status,
        "response_code": d.response_code,
        "duration_ms": d.duration_ms,
        "error": d.error,
        "next_attempt_at": d.next_attempt_at,
        "created_at": d.created_at,
    })
}

/// Every delivery attempt to this endpoint (`?event_id=` narrows it).
pub async fn deliveries<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let page = Page::from_request(req)?;
    let [data] = svc.data_all();
    let found = deliveries::log(data, id, req.param("event_id"), &page).await?;
    ok(200, &page.answer(found.iter().map(delivery_view).collect(), |v| v["id"].as_str().map(str::to_string)))
}
