//! A directory's pull settings and runs (issue 13, src/app/pull):
//! `PUT/GET/DELETE /v1/directories/{id}/pull`, `POST …/pull/run`, and
//! WorkOS's `POST /directories/{id}/sync`. The client secret is sealed at
//! rest and never answered.

use super::{body, ok, optional_str, required_str, ApiError, ApiResult};
use crate::app::pull::{self, view};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::storage::pull::{self as store, NewSettings};
use crate::storage::{Db, DbError};
use crate::support::ids::has_prefix;
use serde_json::Value;

/// Minutes between scheduled runs when a PUT does not say.
pub const DEFAULT_INTERVAL_MINUTES: i64 = 60;
/// The shortest and longest interval accepted (five minutes, a week).
pub const INTERVAL_MINUTES: std::ops::RangeInclusive<i64> = 5..=10_080;

fn not_found() -> ApiError {
    ApiError::not_found("Directory not found, or it has no pull settings")
}

/// A string field of at most `max` bytes (`required`: present and non-empty).
fn bounded(m: &serde_json::Map<String, Value>, key: &str, max: usize, required: bool) -> Result<Option<String>, ApiError> {
    let v = if required { Some(required_str(m, key)?) } else { optional_str(m, key)?.filter(|s| !s.is_empty()) };
    match v {
        Some(s) if s.len() > max || s.chars().any(char::is_control) => Err(ApiError::invalid(format!("{key} must be at most {max} bytes of text"))),
        other => Ok(other),
    }
}

pub async fn put<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, id: &str) -> ApiResult {
    let b = body(req)?;
    let url = |key: &str| super::webhooks::parse_url(key, b.get(key), svc.cfg)?.ok_or_else(|| ApiError::invalid(format!("{key} is required")));
    let scim_url = url("scim_url")?;
    let token_url = url("token_url")?;
    let client_id = bounded(&b, "client_id", 256, true)?.unwrap_or_default();
    let secret = bounded(&b, "client_secret", 1024, false)?;
    let scope = bounded(&b, "scope", 1024, false)?;
    let token_auth = match optional_str(&b, "token_auth")?.as_deref() {
        None | Some("basic") => "basic",
        Some("body") => "body",
        Some(_) => return Err(ApiError::invalid("token_auth must be \"basic\" (HTTP Basic) or \"body\" (client_id and client_secret in the form body)")),
    };
    let interval = match b.get("interval_minutes") {
        None | Some(Value::Null) => DEFAULT_INTERVAL_MINUTES,
        Some(v) => v.as_i64().filter(|n| INTERVAL_MINUTES.contains(n)).ok_or_else(|| {
            ApiError::invalid(format!("interval_minutes must be a whole number from {} to {}", INTERVAL_MINUTES.start(), INTERVAL_MINUTES.end()))
        })?,
    };
    if !has_prefix(id, "directory") {
        return Err(not_found());
    }
    let sealed = secret.as_deref().map(|s| super::webhooks::seal(svc, s, id)).transpose()?;
    let next = svc.now.plus_seconds(interval * 60).to_rfc3339();
    let settings = NewSettings {
        directory_id: id,
        scim_url: &scim_url,
        token_url: &token_url,
        client_id: &client_id,
        secret_sealed: sealed.as_deref(),
        scope: scope.as_deref(),
        token_auth,
        interval_minutes: interval,
        next_run_at: &next,
    };
    match store::upsert(svc.control(), &settings, &svc.now_text()).await {
        Ok(p) => ok(200, &view(&p)),
        Err(DbError::Precondition) if secret.is_none() => match store::get(svc.control(), id).await? {
            None if crate::storage::directories::get(svc.control(), id).await?.is_some() => Err(ApiError::invalid("client_secret is required")),
            _ => Err(not_found()),
        },
        Err(DbError::Precondition) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

pub async fn get<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    match store::get(svc.control(), id).await? {
        Some(p) => ok(200, &view(&p)),
        None => Err(not_found()),
    }
}

pub async fn delete<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    if store::delete(svc.control(), id).await? {
        Ok(Outcome::respond(HttpResponse::empty(204)))
    } else {
        Err(not_found())
    }
}

/// Starts a run now (`/v1/…/pull/run`, WorkOS's `/directories/{id}/sync`),
/// or answers the one in progress: runs of a directory never overlap.
pub async fn run<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let p = pull::start(svc, id, "api").await?.ok_or_else(not_found)?;
    let mut out = Outcome::respond(HttpResponse::json(202, &view(&p)));
    out.pull = Some(id.to_string());
    Ok(out)
}
