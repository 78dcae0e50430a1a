//! The outbox: events are rows written in the same D1 batch as the change
//! they tell (see [`crate::storage::events`], which owns the SQL), and the
//! envelope the application receives them in.

use crate::storage::events::EventRecord;
use serde_json::{json, Value};

/// An event decided by a use case, before it has a sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    pub id: String,
    pub event: &'static str,
    pub data: Value,
}

/// The event as the application receives it, on the log and in webhooks.
pub fn envelope(e: &EventRecord) -> Value {
    json!({
        "object": "event",
        "id": e.id,
        "event": e.event,
        "directory_id": e.directory_id,
        "organization_id": e.organization_id,
        "sequence": e.sequence,
        "created_at": e.created_at,
        "data": e.data,
    })
}
