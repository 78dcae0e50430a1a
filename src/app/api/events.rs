//! The ordered event log (`GET /v1/events`) and redelivery.

use super::{ok, ApiError, ApiResult};
use crate::app::delivery::QueueMessage;
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::events::kind;
use crate::events::outbox::{envelope, EVENT_COLUMNS};
use crate::stmt;
use crate::storage::db::{first, rows};
use crate::storage::{Db, SqlValue, Stmt};
use serde_json::json;

/// `?directory_id=&organization_id=&events=a,b&after=&limit=`, in commit
/// order (per directory that is `sequence` order).
pub async fn list<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let limit = match req.param("limit") {
        Some(v) => v.trim().parse::<i64>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| ApiError::invalid("limit must be an integer from 1 to 100"))?,
        None => 10,
    };
    let mut cond = vec!["1 = 1".to_string()];
    let mut params = Vec::new();
    if let Some(d) = req.param("directory_id") {
        cond.push("e.directory_id = ?".into());
        params.push(SqlValue::Text(d.to_string()));
    }
    if let Some(o) = req.param("organization_id") {
        cond.push("e.organization_id = ?".into());
        params.push(SqlValue::Text(o.to_string()));
    }
    if let Some(list) = req.param("events").filter(|s| !s.trim().is_empty()) {
        let names: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if let Some(bad) = names.iter().find(|n| !kind::ALL.contains(n)) {
            return Err(ApiError::invalid(format!("Unknown event type {bad}")));
        }
        cond.push("e.event IN (SELECT value FROM json_each(?))".into());
        params.push(SqlValue::Text(serde_json::to_string(&names).unwrap_or_default()));
    }
    if let Some(after) = req.param("after").filter(|s| !s.is_empty()) {
        cond.push("e.pos > coalesce((SELECT pos FROM events WHERE id = ?), -1)".into());
        params.push(SqlValue::Text(after.to_string()));
    }
    let order = if req.param("directory_id").is_some() { "e.sequence" } else { "e.pos" };
    params.push(SqlValue::Int(limit + 1));
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events e WHERE {} ORDER BY {order} LIMIT ?", cond.join(" AND "));
    let r = svc.db.batch(vec![Stmt::new(sql, params)]).await.map_err(ApiError::from)?;
    let mut data: Vec<_> = rows(&r, 0).iter().map(envelope).collect();
    let more = data.len() as i64 > limit;
    data.truncate(usize::try_from(limit).unwrap_or(0));
    let after = if more { data.last().and_then(|e| e["id"].as_str().map(str::to_string)) } else { None };
    ok(200, &json!({ "object": "list", "data": data, "list_metadata": { "before": null, "after": after } }))
}

pub async fn get<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let r = svc.db.batch(vec![stmt!(format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.id = ?1"), id)]).await.map_err(ApiError::from)?;
    first(&r, 0).map(|e| ok(200, &envelope(e))).unwrap_or_else(|| Err(ApiError::not_found("Event not found")))
}

/// Queues the event again for every enabled endpoint subscribed to it,
/// delivered or not, as a new chain of attempts (its own retries).
pub async fn redeliver<D: Db>(svc: &Services<'_, D>, id: &str) -> ApiResult {
    let r = svc.db.batch(vec![stmt!("SELECT count(*) AS n FROM events WHERE id = ?1", id)]).await.map_err(ApiError::from)?;
    if first(&r, 0).and_then(|r| crate::storage::RowExt::int(r, "n")) != Some(1) {
        return Err(ApiError::not_found("Event not found"));
    }
    // A chain of its own, so it is delivered again even where it succeeded.
    let chain = svc.ids().make("redelivery");
    let msg = QueueMessage::redeliver(id, &chain);
    Ok(Outcome::respond(HttpResponse::json(202, &json!({ "object": "redelivery", "id": chain, "event_id": id }))).with_message(msg))
}
