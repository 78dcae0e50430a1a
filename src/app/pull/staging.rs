//! A run's listing as staged rows (`pull_pages`), for a run that does not
//! fit one step: what the diff needs of each IdP user and group, written
//! in rows under D1's value limit, and read back.

use super::diff::{IdpGroup, IdpUser};
use super::RunError;
use crate::storage::pull::StagedPage;
use serde_json::{json, Value};

/// A staged row holds at most this much of a page (D1 keeps values under 2 MB).
const STAGE_ROW_BYTES: usize = 512 * 1024;

pub(super) fn users_json(users: &[IdpUser]) -> Value {
    Value::Array(users.iter().map(|u| json!([u.id, u.user_name, u.active])).collect())
}

pub(super) fn groups_json(groups: &[IdpGroup]) -> Value {
    Value::Array(groups.iter().map(|g| json!([g.id, g.display_name, g.members])).collect())
}

/// A page's items as staged rows of at most [`STAGE_ROW_BYTES`] each,
/// keyed by the IdP index of their first item, and the bytes of the rows'
/// JSON (each item is serialized once, here).
pub(super) fn stage_rows(kind: &'static str, start: u64, items: Value) -> Result<(Vec<StagedPage>, u64), RunError> {
    let Value::Array(items) = items else { return Ok((Vec::new(), 0)) };
    let mut rows = Vec::new();
    let mut total = 0u64;
    let (mut first, mut chunk, mut bytes) = (start, Vec::new(), 0usize);
    // A row's JSON is its items, a comma between each, and the brackets.
    let mut close = |first: u64, chunk: Vec<Value>, bytes: usize| {
        total += (bytes + chunk.len().saturating_sub(1) + 2) as u64;
        rows.push(StagedPage { kind, start_index: i64::try_from(first).unwrap_or(i64::MAX), items: Value::Array(chunk) });
    };
    for (i, item) in (start..).zip(items) {
        let n = item.to_string().len();
        if n > STAGE_ROW_BYTES * 3 {
            return Err(RunError::new("too_large", format!("One of the IdP's {kind} is too large to hold ({} KB); nothing was changed", n / 1024)));
        }
        if bytes + n > STAGE_ROW_BYTES && !chunk.is_empty() {
            close(first, std::mem::take(&mut chunk), bytes);
            (first, bytes) = (i, 0);
        }
        bytes += n;
        chunk.push(item);
    }
    close(first, chunk, bytes);
    Ok((rows, total))
}

fn text_at(v: &Value, i: usize) -> String {
    v.get(i).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// A staged row's items (of `kind`) back into the listing.
pub(super) fn read_back(kind: &str, items: &Value, users: &mut Vec<IdpUser>, groups: &mut Vec<IdpGroup>) {
    for it in items.as_array().into_iter().flatten() {
        if kind == "users" {
            users.push(IdpUser { id: text_at(it, 0), user_name: text_at(it, 1), active: it.get(2).and_then(Value::as_bool) != Some(false) });
        } else {
            let members = it.get(2).and_then(Value::as_array).map(|m| m.iter().filter_map(Value::as_str).map(str::to_string).collect());
            groups.push(IdpGroup { id: text_at(it, 0), display_name: text_at(it, 1), members });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_page_is_staged_in_rows_keyed_by_their_first_item() {
        let big = "m".repeat(200 * 1024);
        let items = Value::Array((0..5).map(|i| json!([format!("g{i}"), "name", [big.clone()]])).collect());
        let (rows, bytes) = stage_rows("groups", 11, items).unwrap_or_default();
        assert_eq!(bytes, rows.iter().map(|r| r.items.to_string().len() as u64).sum::<u64>(), "the bytes counted are the rows' JSON");
        let keys: Vec<i64> = rows.iter().map(|r| r.start_index).collect();
        assert_eq!(keys, vec![11, 13, 15]);
        assert!(rows.iter().all(|r| r.items.to_string().len() <= STAGE_ROW_BYTES));
        assert_eq!(rows.iter().map(|r| r.items.as_array().map_or(0, Vec::len)).sum::<usize>(), 5);
    }

    #[test]
    fn an_item_too_large_to_hold_fails_the_run() {
        let huge = Value::Array(vec![json!(["g", "name", ["m".repeat(STAGE_ROW_BYTES * 3 + 1)]])]);
        assert_eq!(stage_rows("groups", 1, huge).err().map(|e| e.code), Some("too_large".to_string()));
    }
}
