//! Cursor pagination by id (ids are time-ordered UUID v7s): `limit` 1–100
//! (default 10), `after` / `before` an id; answers `{data, list_metadata}`.

use super::ApiError;
use crate::app::HttpRequest;
use crate::storage::page::Keyset;
use serde_json::{json, Value};

/// The storage side (the keyset query) is [`Keyset`]; this adds reading it
/// from a request and shaping the answer.
pub type Page = Keyset;

impl Keyset {
    pub fn from_request(req: &HttpRequest) -> Result<Self, ApiError> {
        let limit = match req.param("limit") {
            Some(v) => {
                v.trim().parse::<i64>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| ApiError::invalid("limit must be an integer from 1 to 100"))?
            }
            None => 10,
        };
        let after = req.param("after").filter(|s| !s.is_empty()).map(str::to_string);
        let before = req.param("before").filter(|s| !s.is_empty()).map(str::to_string);
        if after.is_some() && before.is_some() {
            return Err(ApiError::invalid("Use after or before, not both"));
        }
        Ok(Keyset { limit, after, before })
    }

    /// Wraps rows (fetched with the keyset) as the list answer.
    pub fn answer(&self, mut items: Vec<Value>, id_of: impl Fn(&Value) -> Option<String>) -> Value {
        let more = items.len() as i64 > self.limit;
        items.truncate(usize::try_from(self.limit).unwrap_or(0));
        if self.before.is_some() {
            items.reverse();
        }
        let first = items.first().and_then(&id_of);
        let last = items.last().and_then(&id_of);
        let (before, after) = match (&self.after, &self.before) {
            (_, Some(_)) => (if more { first } else { None }, last),
            (Some(_), None) => (first, if more { last } else { None }),
            (None, None) => (None, if more { last } else { None }),
        };
        json!({ "object": "list", "data": items, "list_metadata": { "before": before, "after": after } })
    }
}
