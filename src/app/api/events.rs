//! The ordered event log (`GET /v1/events`) and redelivery.

use super::{ok, page, ApiError, ApiResult};
use crate::app::delivery::QueueMessage;
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::events::{envelope, kind};
use crate::storage::events::{self, EventRecord, LogQuery};
use crate::storage::{Db, DbError};
use crate::support::time::parse_rfc3339;
use serde_json::json;

/// `?events=a,b&organization_id=&directory_id=&after=&range_start=&range_end=&limit=`,
/// in commit order (per directory that is `sequence` order), oldest first
/// whatever `order` says: the log is read forwards from a cursor (WorkOS's
/// Python SDK sends `order=desc` unasked, and an application following
/// `after` must still get what came after). `events` is a comma list or
/// repeated, as the SDKs send it.
pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let limit = page::limit(req)?;
    if req.param("before").is_some_and(|b| !b.is_empty()) {
        return Err(ApiError::invalid("before is not supported on events: the log is read forwards with after"));
    }
    if let Some(o) = req.param("order").filter(|o| !["asc", "desc", "normal", ""].contains(&o.trim().to_ascii_lowercase().as_str())) {
        return Err(ApiError::invalid(format!("order must be asc, desc or normal, not {o}")));
    }
    let mut q = LogQuery { directory_id: req.param("directory_id"), organization_id: req.param("organization_id"), limit: limit + 1, ..LogQuery::default() };
    let names: Vec<&str> = req.params("events").flat_map(|v| v.split(',')).map(str::trim).filter(|s| !s.is_empty()).take(kind::ALL.len() + 1).collect();
    if let Some(bad) = names.iter().find(|n| !kind::ALL.contains(n)) {
        return Err(ApiError::invalid(format!("Unknown event type {bad}")));
    }
    if !names.is_empty() {
        q.events = Some(names);
    }
    q.after = req.param("after").filter(|s| !s.is_empty());
    q.range_start = instant(req, "range_start")?;
    q.range_end = instant(req, "range_end")?;
    // The log without a directory is in commit order, which is one data
    // database's order: a deployment with several would page each.
    let db = match q.directory_id {
        Some(d) => svc.data(d),
        None => {
            let [data] = svc.data_all();
            data
        }
    };
    let mut data: Vec<_> = events::log(db, &q).await?.iter().map(envelope).collect();
    let more = data.len() as i64 > limit;
    data.truncate(usize::try_from(limit).unwrap_or(0));
    let after = if more { data.last().and_then(|e| e["id"].as_str().map(str::to_string)) } else { None };
    ok(200, &json!({ "object": "list", "data": data, "list_metadata": { "before": null, "after": after } }))
}

/// An ISO 8601 instant parameter, as the stored `created_at` text.
fn instant(req: &HttpRequest, name: &str) -> Result<Option<String>, ApiError> {
    match req.param(name).map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => parse_rfc3339(v)
            .map(|t| Some(t.to_rfc3339()))
            .ok_or_else(|| ApiError::invalid(format!("{name} must be an ISO 8601 date-time, like 2026-01-31T00:00:00Z"))),
    }
}

/// The event `id`, from whichever data database holds it.
async fn find<D: Db>(svc: &Services<'_, D>, id: &str) -> Result<Option<EventRecord>, DbError> {
    for db in svc.data_all() {
        if let Some(e) = events::get(db, id).await? {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

pub async fn get<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let e = find(svc, id).await?.ok_or_else(|| ApiError::not_found("Event not found"))?;
    ok(200, &envelope(&e))
}

/// Queues the event again for every enabled endpoint subscribed to it,
/// delivered or not, as a new chain of attempts (its own retries).
pub async fn redeliver<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let mut found = false;
    for db in svc.data_all() {
        found = found || events::exists(db, id).await?;
    }
    if !found {
        return Err(ApiError::not_found("Event not found"));
    }
    // A chain of its own, so it is delivered again even where it succeeded.
    let chain = svc.ids().make("redelivery");
    let msg = QueueMessage::redeliver(id, &chain);
    Ok(Outcome::respond(HttpResponse::json(202, &json!({ "object": "redelivery", "id": chain, "event_id": id }))).with_message(msg))
}
