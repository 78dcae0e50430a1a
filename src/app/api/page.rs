//! Cursor pagination by id (ids are time-ordered UUID v7s, so id order is
//! creation order): `limit` 1–100 (default 10), `after` / `before` an id,
//! `order` `asc` | `desc` | `normal`; answers `{object: "list", data,
//! list_metadata: {before, after}}`.
//!
//! As WorkOS defines them: `desc` (the default on the WorkOS routes) lists
//! newest first and `after` is the next, older page; `asc` (the default on
//! `/v1`) lists oldest first and `after` is the next, newer page; `normal`
//! lists newest first but with the cursors turned round: `before` is the
//! older page, `after` the newer one.

use super::{ApiError, Dialect};
use crate::app::HttpRequest;
use crate::storage::page::Keyset;
use serde_json::{json, Value};

/// The limit when none is asked for, and the most a page holds.
pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 100;

/// A list request's window: the storage side is the [`Keyset`] (which it
/// dereferences to); this adds reading it from a request and shaping the
/// answer.
#[derive(Debug, Clone)]
pub struct Page {
    keyset: Keyset,
    /// `order=normal`: the keyset is `desc` with the cursors swapped, and
    /// so is `list_metadata`.
    normal: bool,
}

impl std::ops::Deref for Page {
    type Target = Keyset;
    fn deref(&self) -> &Keyset {
        &self.keyset
    }
}

/// `limit`, 1–100, default 10.
pub fn limit(req: &HttpRequest) -> Result<i64, ApiError> {
    match req.param("limit") {
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("limit must be an integer from 1 to {MAX_LIMIT}"))),
        None => Ok(DEFAULT_LIMIT),
    }
}

/// `order`: `asc`, `desc` or `normal`; without one, `desc` on the WorkOS
/// routes and `asc` on `/v1`.
fn order(req: &HttpRequest) -> Result<(bool, bool), ApiError> {
    match req.param("order").map(str::trim).filter(|s| !s.is_empty()) {
        Some(o) if o.eq_ignore_ascii_case("asc") => Ok((false, false)),
        Some(o) if o.eq_ignore_ascii_case("desc") => Ok((true, false)),
        Some(o) if o.eq_ignore_ascii_case("normal") => Ok((true, true)),
        Some(_) => Err(ApiError::invalid("order must be asc, desc or normal")),
        None => Ok((Dialect::of(req) == Dialect::WorkOs, false)),
    }
}

impl Page {
    pub fn from_request(req: &HttpRequest) -> Result<Self, ApiError> {
        let limit = limit(req)?;
        let mut after = req.param("after").filter(|s| !s.is_empty()).map(str::to_string);
        let mut before = req.param("before").filter(|s| !s.is_empty()).map(str::to_string);
        if after.is_some() && before.is_some() {
            return Err(ApiError::invalid("Use after or before, not both"));
        }
        let (descending, normal) = order(req)?;
        if normal {
            std::mem::swap(&mut after, &mut before);
        }
        Ok(Page { keyset: Keyset { limit, after, before, descending }, normal })
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
        let (mut before, mut after) = match (&self.after, &self.before) {
            (_, Some(_)) => (if more { first } else { None }, last),
            (Some(_), None) => (first, if more { last } else { None }),
            (None, None) => (None, if more { last } else { None }),
        };
        if self.normal {
            std::mem::swap(&mut before, &mut after);
        }
        json!({ "object": "list", "data": items, "list_metadata": { "before": before, "after": after } })
    }
}
