//! Extension objects in PATCH (RFC 7643 §3.3): the enterprise extension as a
//! whole, and extensions Rollcall has no schema for, kept verbatim
//! (docs/PRODUCT.md § SCIM: any further extension is stored as sent and returned).

use serde_json::{Map, Value};

use super::apply::apply_attr;
use super::paths::key_ci;
use super::OpKind;
use crate::scim::error::ScimError;
use crate::scim::resource::is_unassigned;
use crate::scim::schema::{self, AttrDef, Mutability};
use crate::scim::values::retain_unseen;

/// Runs `f` on the object at `key` (created when absent) and drops it if it
/// ends up empty, so removing the last sub-attribute unassigns the parent.
pub(super) fn with_obj<R>(map: &mut Map<String, Value>, key: &str, f: impl FnOnce(&mut Map<String, Value>) -> Result<R, ScimError>) -> Result<R, ScimError> {
    let slot = map.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(obj) = slot else {
        return Err(ScimError::invalid_path(format!("'{key}' is not a complex attribute")));
    };
    let result = f(obj);
    if obj.is_empty() {
        map.shift_remove(key);
    }
    result
}

/// The enterprise extension object as a whole (`path` = its URN): add and
/// replace merge the given attributes (RFC 7644 §3.5.2.3 for complex
/// values); remove drops it.
pub(super) fn apply_extension(res: &mut Map<String, Value>, op: OpKind, urn: &'static str, attrs: &'static [AttrDef], value: &Value) -> Result<(), ScimError> {
    let key = key_ci(res, urn);
    match value {
        _ if op == OpKind::Remove => {
            res.shift_remove(&key);
            Ok(())
        }
        v if is_unassigned(v) => {
            if op == OpKind::Replace {
                res.shift_remove(&key);
            }
            Ok(())
        }
        Value::Object(obj) => with_obj(res, &key, |ext| {
            for (k, v) in obj {
                let (name, sub) = k.split_once('.').map_or((k.as_str(), None), |(a, b)| (a, Some(b)));
                let Some(def) = schema::find(attrs, name) else { continue };
                if matches!(def.mutability, Mutability::ReadOnly | Mutability::WriteOnly) {
                    continue;
                }
                let sd = match sub {
                    Some(s) => match schema::find(def.sub, s) {
                        Some(sd) => Some(sd),
                        None => continue,
                    },
                    None => None,
                };
                apply_attr(ext, op, def, None, sd, v)?;
            }
            Ok(())
        }),
        _ => Err(ScimError::invalid_value(format!("Extension '{urn}' must be an object"))),
    }
}

/// An extension without a schema, as a whole: kept verbatim, merged key by key.
pub(super) fn apply_unknown_ext(res: &mut Map<String, Value>, op: OpKind, key: &str, value: &Value) -> Result<(), ScimError> {
    match value {
        _ if op == OpKind::Remove => {
            res.shift_remove(key);
            Ok(())
        }
        v if is_unassigned(v) => {
            if op == OpKind::Replace {
                res.shift_remove(key);
            }
            Ok(())
        }
        Value::Object(obj) => with_obj(res, key, |ext| {
            for (k, v) in obj {
                let k = key_ci(ext, k);
                set_verbatim(ext, op, &k, v);
            }
            Ok(())
        }),
        _ => Err(ScimError::invalid_value(format!("Extension '{key}' must be an object"))),
    }
}

/// Schema-less attribute: add appends to arrays and merges objects, replace
/// sets, remove (or a null value) unassigns.
pub(super) fn set_verbatim(obj: &mut Map<String, Value>, op: OpKind, key: &str, value: &Value) {
    if op == OpKind::Remove || (op == OpKind::Replace && is_unassigned(value)) {
        obj.shift_remove(key);
        return;
    }
    if is_unassigned(value) {
        return;
    }
    match (obj.get_mut(key), value) {
        (Some(Value::Array(old)), Value::Array(new)) if op == OpKind::Add => {
            let mut new = new.clone();
            retain_unseen(old, &mut new);
            old.extend(new);
        }
        (Some(Value::Object(old)), Value::Object(new)) if op == OpKind::Add => {
            old.extend(new.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        _ => {
            obj.insert(key.to_string(), value.clone());
        }
    }
}
