//! What one SCIM request may ask for. Each cap is at least what the IdPs
//! send (sources in the README's "Limits" table); past a cap the answer is
//! 400 `tooMany` (RFC 7644 §3.12) and nothing is read or written. Checked on
//! the parsed JSON before any per-item work, so a request's cost is bounded
//! by the caps, not by what a caller packs into a body.

use super::resource::get_ci;
use super::ScimError;
use serde_json::Value;

/// PATCH `Operations` per request. IBM Verify caps at the same number; no
/// IdP documents sending more than one operation per changed member, and
/// Okta's largest membership batch is 1,000 (below).
pub const MAX_PATCH_OPERATIONS: usize = 1_000;

/// Member values per request: the sum over a PATCH's operations, or a POST /
/// PUT group's `members`. Okta's group push sends at most 1,000 membership
/// changes per PATCH (the largest batch size an integration may choose, OIN
/// submission guide); Entra sends fewer.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1_000;

/// Attribute names in `attributes` / `excludedAttributes`.
pub const MAX_ATTRIBUTE_NAMES: usize = 100;

/// Bytes of filter text (a 90-term `or` of userName matches is ~2.5 KB).
pub const MAX_FILTER_BYTES: usize = 4_096;

/// Distinct unknown extension schemas kept on one resource (Entra's custom
/// extension attributes use one; no IdP sends more than a few).
pub const MAX_UNKNOWN_EXTENSIONS: usize = 50;

/// The `tooMany` answer for one cap.
pub fn too_many(what: &str, max: usize) -> ScimError {
    ScimError::bad_request(super::ScimType::TooMany, format!("Too many {what} in one request: at most {max}"))
}

/// Caps a PATCH body: its operations, and the member values they carry
/// (`path: members…` with a value, or a path-less value object's `members`).
pub fn check_patch(body: &Value) -> Result<(), ScimError> {
    let Some(ops) = body.as_object().and_then(|o| get_ci(o, "Operations")).and_then(Value::as_array) else {
        return Ok(()); // malformed: the PATCH parser says what is wrong
    };
    if ops.len() > MAX_PATCH_OPERATIONS {
        return Err(too_many("PATCH operations", MAX_PATCH_OPERATIONS));
    }
    let mut members = 0usize;
    for op in ops.iter().filter_map(Value::as_object) {
        let value = get_ci(op, "value");
        let on_members = get_ci(op, "path").and_then(Value::as_str).is_some_and(|p| p.trim_start().get(..7).is_some_and(|h| h.eq_ignore_ascii_case("members")));
        let carried = match value {
            Some(v) if on_members => v,
            Some(Value::Object(o)) if get_ci(op, "path").is_none() => match get_ci(o, "members") {
                Some(m) => m,
                None => continue,
            },
            _ => continue,
        };
        members = members.saturating_add(carried.as_array().map_or(1, Vec::len));
    }
    if members > MAX_MEMBERS_PER_REQUEST {
        return Err(too_many("member values", MAX_MEMBERS_PER_REQUEST));
    }
    Ok(())
}

/// Caps a group body's `members` (POST, PUT).
pub fn check_group(body: &Value) -> Result<(), ScimError> {
    let n = body.as_object().and_then(|o| get_ci(o, "members")).and_then(Value::as_array).map_or(0, Vec::len);
    if n > MAX_MEMBERS_PER_REQUEST {
        return Err(too_many("members", MAX_MEMBERS_PER_REQUEST));
    }
    Ok(())
}

/// Caps a comma-separated `attributes` / `excludedAttributes` value.
pub fn check_attribute_names(name: &str, list: &str) -> Result<(), ScimError> {
    if list.split(',').count() > MAX_ATTRIBUTE_NAMES {
        return Err(too_many(&format!("names in {name}"), MAX_ATTRIBUTE_NAMES));
    }
    Ok(())
}

/// Caps the filter text.
pub fn check_filter(filter: &str) -> Result<(), ScimError> {
    if filter.len() > MAX_FILTER_BYTES {
        return Err(too_many("filter bytes", MAX_FILTER_BYTES));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn add(n: usize) -> Value {
        json!({"op": "add", "path": "members", "value": (0..n).map(|i| json!({"value": format!("u{i}")})).collect::<Vec<_>>()})
    }

    #[test]
    fn a_patch_at_each_cap_passes_and_one_past_it_is_too_many() {
        let at = json!({"Operations": (0..MAX_PATCH_OPERATIONS).map(|_| add(1)).collect::<Vec<_>>()});
        assert!(check_patch(&at).is_ok());
        let past = json!({"Operations": (0..=MAX_PATCH_OPERATIONS).map(|_| json!({"op": "replace", "path": "title", "value": "x"})).collect::<Vec<_>>()});
        assert_eq!(check_patch(&past).unwrap_err().scim_type, Some(super::super::ScimType::TooMany));
    }

    #[test]
    fn member_values_are_counted_across_operations_and_forms() {
        let split =
            json!({"Operations": [add(600), {"op": "Replace", "value": {"members": (0..401).map(|i| json!({"value": i.to_string()})).collect::<Vec<_>>()}}]});
        assert!(check_patch(&split).is_err());
        let fits =
            json!({"Operations": [add(600), {"op": "remove", "path": "members[value eq \"u1\"]"}, {"op": "add", "path": "Members", "value": {"value": "u9"}}]});
        assert!(check_patch(&fits).is_ok());
        assert!(check_group(&json!({"members": (0..=MAX_MEMBERS_PER_REQUEST).map(|i| json!({"value": i.to_string()})).collect::<Vec<_>>()})).is_err());
    }

    #[test]
    fn a_resource_keeps_at_most_fifty_unknown_extensions() {
        use crate::scim::resource::normalize;
        use crate::scim::schema::ResourceKind;
        let body = |n: usize| {
            let mut o = serde_json::Map::new();
            o.insert("userName".into(), json!("a@x.io"));
            for i in 0..n {
                o.insert(format!("urn:example:ext{i}:2.0:User:shoeSize"), json!(i));
            }
            Value::Object(o)
        };
        assert!(normalize(ResourceKind::User, &body(MAX_UNKNOWN_EXTENSIONS)).is_ok());
        let e = normalize(ResourceKind::User, &body(MAX_UNKNOWN_EXTENSIONS + 1)).unwrap_err();
        assert_eq!(e.scim_type, Some(super::super::ScimType::TooMany));
        // 20,000 flattened keys of one extension stay linear.
        let mut o = serde_json::Map::new();
        o.insert("userName".into(), json!("a@x.io"));
        for i in 0..20_000 {
            o.insert(format!("urn:example:ext:2.0:User:a{i}"), json!(i));
        }
        let started = std::time::Instant::now();
        assert!(normalize(ResourceKind::User, &Value::Object(o)).is_ok());
        assert!(started.elapsed().as_secs() < 3);
    }

    #[test]
    fn attribute_lists_and_filters_are_capped() {
        assert!(check_attribute_names("attributes", &vec!["userName"; MAX_ATTRIBUTE_NAMES].join(",")).is_ok());
        assert!(check_attribute_names("attributes", &vec!["userName"; MAX_ATTRIBUTE_NAMES + 1].join(",")).is_err());
        assert!(check_filter(&"a".repeat(MAX_FILTER_BYTES)).is_ok());
        assert!(check_filter(&"a".repeat(MAX_FILTER_BYTES + 1)).is_err());
    }
}
