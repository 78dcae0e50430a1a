//! Webhook endpoints: where events are pushed, with their signing secrets
//! (sealed at rest, shown once) and the log of every delivery attempt.

use super::page::Page;
use super::{body, ok, ApiError, ApiResult};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::events::kind;
use crate::stmt;
use crate::storage::db::{first, rows};
use crate::storage::{Db, Row, RowExt, SqlValue};
use crate::support::time::Millis;
use crate::webhook::circuit::{recent, Counters, HEALTH_BUCKET_SECONDS};
use crate::webhook::sign::new_secret;
use serde_json::{json, Map, Value};

const COLUMNS: &str = "id, url, events, state, disabled_reason, previous_secret_expires_at, created_at, updated_at, \
     consecutive_failures, failing_since, circuit_open_until, health_bucket, bucket_attempts, bucket_failures, prev_attempts, prev_failures";

/// Disables an endpoint and ends its pending retries and deferrals (a 410
/// from the receiver, a failure lasting WEBHOOK_DISABLE_AFTER_SECONDS, or
/// the API): nothing more is sent to it, and the sweeper no longer sees
/// them as overdue. It remembers where a re-enable catches up from: the
/// first event of its run of failures, or else the end of the log.
pub fn disable(id: &str, reason: &str, now: &str) -> Vec<crate::storage::Stmt> {
    vec![
        stmt!(
            "UPDATE webhook_endpoints SET state = 'disabled', disabled_reason = ?2, updated_at = ?3, \
             disabled_pos = coalesce(disabled_pos, failing_pos - 1, (SELECT coalesce(max(pos), 0) FROM events)) WHERE id = ?1",
            id,
            reason,
            now
        ),
        stmt!("UPDATE deliveries SET status = 'cancelled' WHERE endpoint_id = ?1 AND status IN ('retrying', 'deferred')", id),
    ]
}

/// Re-enabling a disabled endpoint: a fresh bill of health, and a catch-up
/// cursor over the events it missed (from where it was disabled to the end
/// of the log now), which the sweeper schedules in chunks as chain `chain`.
/// Must run before the statement that sets the state.
fn reenable(id: &str, chain: &str) -> crate::storage::Stmt {
    stmt!(
        "UPDATE webhook_endpoints SET catchup_pos = disabled_pos, catchup_end = (SELECT coalesce(max(pos), 0) FROM events), catchup_chain = ?2, \
         disabled_pos = NULL, consecutive_failures = 0, failing_since = NULL, failing_pos = NULL, circuit_open_until = NULL, circuit_opens = 0, probe_claim = NULL \
         WHERE id = ?1 AND state = 'disabled'",
        id,
        chain
    )
}

/// How long the previous secret still signs after a rotation, by default.
const DEFAULT_OVERLAP_SECONDS: i64 = 86_400;

/// The endpoint's health, from counters on its row (O(1)): its circuit,
/// its run of failures, and its attempts and failures over the last hour or two.
fn health(r: &Row, now: Millis) -> Value {
    let int = |c: &str| r.int(c).unwrap_or(0);
    let counters = Counters {
        bucket: int("health_bucket"),
        attempts: int("bucket_attempts"),
        failures: int("bucket_failures"),
        prev_attempts: int("prev_attempts"),
        prev_failures: int("prev_failures"),
    };
    let (attempts, failures) = recent(counters, now);
    let rate = if attempts > 0 { failures as f64 / attempts as f64 } else { 0.0 };
    json!({
        "circuit": if r.str("circuit_open_until").is_some() { "open" } else { "closed" },
        "next_probe_at": r.str("circuit_open_until"),
        "consecutive_failures": int("consecutive_failures"),
        "failing_since": r.str("failing_since"),
        "recent": { "attempts": attempts, "failures": failures, "failure_rate": (rate * 1000.0).round() / 1000.0, "window_seconds": 2 * HEALTH_BUCKET_SECONDS },
    })
}

fn view(r: &Row, now: Millis) -> Value {
    json!({
        "object": "webhook_endpoint",
        "id": r.str("id"),
        "url": r.str("url"),
        "events": r.json("events"),
        "state": r.str("state"),
        "disabled_reason": r.str("disabled_reason"),
        "previous_secret_expires_at": r.str("previous_secret_expires_at"),
        "created_at": r.str("created_at"),
        "updated_at": r.str("updated_at"),
        "health": health(r, now),
    })
}

/// A webhook URL: `https://` to any host; `http://` only to a loopback
/// address and only where the dev setting `ALLOW_HTTP_LOOPBACK_WEBHOOKS`
/// allows it (a production deploy never posts events in clear text).
fn parse_url(v: Option<&Value>, cfg: &crate::app::Config) -> Result<Option<String>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let s = v.as_str().ok_or_else(|| ApiError::invalid("url must be a string"))?.trim();
    if s.len() > 2048 || s.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::invalid("url must be an absolute https URL of at most 2048 bytes"));
    }
    let lower = s.to_ascii_lowercase();
    let (secure, rest) = match (lower.strip_prefix("https://"), lower.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return Err(ApiError::invalid("url must be an absolute https URL")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host_of(authority);
    if host.is_empty() || authority.contains('@') {
        return Err(ApiError::invalid("url must name a host (and no credentials)"));
    }
    let plain_allowed = cfg.allow_http_loopback_webhooks && is_loopback(host);
    if !(secure || plain_allowed) {
        return Err(ApiError::invalid("url must use https (plain http is accepted only for loopback receivers in development)"));
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
    let Some(boxed) = svc.cfg.secret_box() else {
        return Err(super::misconfigured(svc.cfg.encryption_key_problem().unwrap_or_default()));
    };
    let secret = new_secret(&svc.ids().random_bytes(32).map_err(|_| super::entropy_unavailable())?);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&svc.ids().random_bytes(12).map_err(|_| super::entropy_unavailable())?);
    let sealed = boxed.seal(secret.as_bytes(), &nonce, id).ok_or_else(|| ApiError::new(500, "internal_error", "Could not seal the secret"))?;
    Ok((secret, sealed))
}

pub async fn create<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let b = body(req)?;
    let url = parse_url(b.get("url"), svc.cfg)?.ok_or_else(|| ApiError::invalid("url is required"))?;
    let events = parse_events(&b)?.flatten();
    let id = svc.ids().make("endpoint");
    let (secret, sealed) = sealed_new_secret(svc, &id)?;
    let now = svc.now_text();
    let r = svc
        .db
        .batch(vec![
            stmt!(
                "INSERT INTO webhook_endpoints (id, url, events, secret_sealed, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                id.as_str(),
                url,
                events,
                sealed,
                now
            ),
            stmt!(format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = ?1"), id.as_str()),
        ])
        .await
        .map_err(ApiError::from)?;
    let mut v = first(&r, 1).map(|e| view(e, svc.now)).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("secret".into(), json!(secret));
    }
    ok(201, &v)
}

pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let page = Page::from_request(req)?;
    let r = svc.db.batch(vec![page.stmt(COLUMNS, "webhook_endpoints", "1 = 1", Vec::new(), "id")]).await.map_err(ApiError::from)?;
    ok(200, &page.answer(rows(&r, 0).iter().map(|e| view(e, svc.now)).collect(), |v| v["id"].as_str().map(str::to_string)))
}

pub async fn get<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let r = svc.db.batch(vec![stmt!(format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = ?1"), id)]).await.map_err(ApiError::from)?;
    first(&r, 0).map(|e| ok(200, &view(e, svc.now))).unwrap_or_else(|| Err(ApiError::not_found("Webhook endpoint not found")))
}

/// `{url?, events?, state?: "enabled"|"disabled"}`; enabling clears the reason.
pub async fn update<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let b = body(req)?;
    let url = parse_url(b.get("url"), svc.cfg)?;
    let events = parse_events(&b)?;
    let state = match b.get("state") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "enabled" || s == "disabled" => Some(s.clone()),
        Some(_) => return Err(ApiError::invalid("state must be enabled or disabled")),
    };
    let now = svc.now_text();
    let mut batch = Vec::new();
    if state.as_deref() == Some("enabled") {
        batch.push(reenable(id, &format!("catchup_{}", svc.now.0)));
    }
    batch.push(stmt!(
        "UPDATE webhook_endpoints SET url = coalesce(?2, url), events = CASE WHEN ?3 = 1 THEN ?4 ELSE events END, \
         state = coalesce(?5, state), disabled_reason = CASE WHEN ?5 = 'enabled' THEN NULL ELSE disabled_reason END, updated_at = ?6 WHERE id = ?1",
        id,
        url,
        events.is_some(),
        events.flatten(),
        state.clone(),
        now.as_str()
    ));
    if state.as_deref() == Some("disabled") {
        batch.extend(disable(id, "disabled through the API", &now));
    }
    let select = batch.len();
    batch.push(stmt!(format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = ?1"), id));
    let r = svc.db.batch(batch).await.map_err(ApiError::from)?;
    first(&r, select).map(|e| ok(200, &view(e, svc.now))).unwrap_or_else(|| Err(ApiError::not_found("Webhook endpoint not found")))
}

pub async fn delete<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let r = svc
        .db
        .batch(vec![
            stmt!("SELECT count(*) AS n FROM webhook_endpoints WHERE id = ?1", id),
            stmt!("DELETE FROM webhook_endpoints WHERE id = ?1", id),
            stmt!("UPDATE deliveries SET status = 'cancelled' WHERE endpoint_id = ?1 AND status = 'retrying'", id),
        ])
        .await
        .map_err(ApiError::from)?;
    if first(&r, 0).and_then(|r| r.int("n")) != Some(1) {
        return Err(ApiError::not_found("Webhook endpoint not found"));
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
    let r = svc
        .db
        .batch(vec![
            stmt!(
                "UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed, previous_secret_expires_at = ?2, secret_sealed = ?3, updated_at = ?4 WHERE id = ?1",
                id,
                expires,
                sealed,
                svc.now_text()
            ),
            stmt!(format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = ?1"), id),
        ])
        .await
        .map_err(ApiError::from)?;
    let mut v = first(&r, 1).map(|e| view(e, svc.now)).ok_or_else(|| ApiError::not_found("Webhook endpoint not found"))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("secret".into(), json!(secret));
    }
    ok(200, &v)
}

fn delivery_view(r: &Row) -> Value {
    json!({
        "object": "webhook_delivery",
        "id": r.str("id"),
        "event_id": r.str("event_id"),
        "endpoint_id": r.str("endpoint_id"),
        "chain": r.str("chain"),
        "attempt": r.int("attempt"),
        "status": r.str("status"),
        "response_code": r.int("response_code"),
        "duration_ms": r.int("duration_ms"),
        "error": r.str("error"),
        "next_attempt_at": r.str("next_attempt_at"),
        "created_at": r.str("created_at"),
    })
}

/// Every delivery attempt to this endpoint (`?event_id=` narrows it).
pub async fn deliveries<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let page = Page::from_request(req)?;
    let mut cond = "endpoint_id = ?".to_string();
    let mut params = vec![SqlValue::Text(id.to_string())];
    if let Some(e) = req.param("event_id") {
        cond.push_str(" AND event_id = ?");
        params.push(SqlValue::Text(e.to_string()));
    }
    let cols = "id, event_id, endpoint_id, chain, attempt, status, response_code, duration_ms, error, next_attempt_at, created_at";
    let r = svc.db.batch(vec![page.stmt(cols, "deliveries", &cond, params, "id")]).await.map_err(ApiError::from)?;
    ok(200, &page.answer(rows(&r, 0).iter().map(delivery_view).collect(), |v| v["id"].as_str().map(str::to_string)))
}
