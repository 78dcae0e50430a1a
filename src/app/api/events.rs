//! The ordered event log (`GET /v1/events`) and redelivery.

use super::{ok, ApiError, ApiResult};
use crate::app::delivery::QueueMessage;
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::events::{envelope, kind};
use crate::storage::events::{self, EventRecord, LogQuery};
use crate::storage::{Db, DbError};
use serde_json::json;

/// `?directory_id=&organization_id=&events=a,b&after=&limit=`, in commit
/// order (per directory that is `sequence` order).
pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let limit = match req.param("limit") {
        Some(v) => v.trim().parse::<i64>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| ApiError::invalid("limit must be an integer from 1 to 100"))?,
        None => 10,
    };
    let mut q = LogQuery { directory_id: req.param("directory_id"), organization_id: req.param("organization_id"), limit: limit + 1, ..LogQuery::default() };
    if let Some(list) = req.param("events").filter(|s| !s.trim().is_empty()) {
        let names: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if let Some(bad) = names.iter().find(|n| !kind::ALL.contains(n)) {
            return Err(ApiError::invalid(format!("Unknown event type {bad}")));
        }
        q.events = Some(names);
    }
    q.after = req.param("after").filter(|s| !s.is_empty());
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
