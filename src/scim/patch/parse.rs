//! Parses a PATCH request body (RFC 7644 §3.5.2).

use serde_json::Value;

use super::{OpKind, PatchOp, PATCH_SCHEMA};
use crate::scim::error::ScimError;
use crate::scim::filter::parse_patch_path;
use crate::scim::resource::get_ci;

/// Parses `{"schemas": [PATCH_SCHEMA], "Operations": [...]}` (RFC 7644
/// §3.5.2). Keys and `op` values are matched case-insensitively (Entra sends
/// `"Replace"`, docs/IDP-QUIRKS.md § Required server behaviour 2); `schemas` may be
/// omitted; an empty `path` string is the same as none.
pub fn parse_patch(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("The PATCH body must be a JSON object"))?;
    match get_ci(obj, "schemas") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.iter().any(|s| s.as_str().is_some_and(|s| s.trim().eq_ignore_ascii_case(PATCH_SCHEMA))) => {}
        Some(_) => return Err(ScimError::invalid_syntax(format!("'schemas' must contain {PATCH_SCHEMA}"))),
    }
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err(ScimError::invalid_syntax("'Operations' must be a non-empty array")),
    };
    ops.iter().enumerate().map(|(i, op)| parse_op(i, op)).collect()
}

fn parse_op(index: usize, op: &Value) -> Result<PatchOp, ScimError> {
    let at = |msg: &str| ScimError::invalid_syntax(format!("Operations[{index}]: {msg}"));
    let obj = op.as_object().ok_or_else(|| at("an operation must be an object"))?;
    let name = get_ci(obj, "op").and_then(Value::as_str).map(str::trim).unwrap_or_default();
    let kind = [("add", OpKind::Add), ("replace", OpKind::Replace), ("remove", OpKind::Remove)]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, k)| k)
        .ok_or_else(|| at("'op' must be add, replace or remove"))?;
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => {
            Some(parse_patch_path(s).map_err(|e| ScimError::invalid_path(format!("Operations[{index}]: invalid path '{s}': {}", e.message)))?)
        }
        Some(_) => return Err(ScimError::invalid_path(format!("Operations[{index}]: 'path' must be a string"))),
    };
    let value = get_ci(obj, "value").cloned();
    match (kind, &path, &value) {
        (OpKind::Remove, None, _) => Err(ScimError::no_target(format!("Operations[{index}]: remove needs a path"))),
        (OpKind::Add | OpKind::Replace, _, None) => Err(at("add and replace need a value")),
        _ => Ok(PatchOp { op: kind, path, value }),
    }
}
