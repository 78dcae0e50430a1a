//! One attribute value, normalised against its definition (RFC 7643 §2):
//! booleans from strings, numbers as strings, complex and multi-valued
//! shapes, at most one primary, and `manager` in every form IdPs send
//! (docs/IDP-QUIRKS.md § Required server behaviour 3 and 12).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};

use super::error::ScimError;
use super::resource::get_ci;
use super::schema::{self, AttrDef, AttrType};

/// Normalises one attribute value against its definition (also used by
/// PATCH, RFC 7644 §3.5.2). `Ok(None)` means "unassigned" (RFC 7643 §2.5):
/// `null`, `[]`, `{}`, or a `manager` without a `value`.
pub fn normalize_attr_value(def: &AttrDef, value: &Value) -> Result<Option<Value>, ScimError> {
    normalize_labeled(def, value, def.name)
}

/// The user ids of a Group's `members` value (RFC 7643 §4.2): an array of
/// `{value, display, $ref, type}` objects, a single object, or plain id
/// strings; `null` is no members. Order is kept, duplicates dropped.
/// `display` and `$ref` are ignored (Entra sends `"$ref": null`).
pub fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut ids: Vec<String> = Vec::new();
    // A set, not a scan of `ids`: a member list is client input of any length.
    let mut seen: HashSet<&str> = HashSet::new();
    for item in items {
        let id = match item {
            Value::Null => continue,
            Value::String(s) => s.trim(),
            Value::Object(o) => {
                if get_ci(o, "type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("Group")) {
                    return Err(ScimError::invalid_value("nested groups are not supported"));
                }
                get_ci(o, "value").and_then(Value::as_str).map(str::trim).unwrap_or_default()
            }
            _ => "",
        };
        if id.is_empty() {
            return Err(ScimError::invalid_value("Each member needs a non-empty string 'value'"));
        }
        if seen.insert(id) {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}

/// A JSON value as a hash-set key: two keys are equal exactly when the
/// values are `==` (objects regardless of key order), so de-duplicating a
/// client's list takes one pass instead of a `contains` scan per element.
#[derive(Clone, Copy)]
pub(crate) struct ValueKey<'a>(pub(crate) &'a Value);

impl PartialEq for ValueKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for ValueKey<'_> {}

impl Hash for ValueKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(fingerprint(self.0));
    }
}

/// A hash consistent with `Value`'s `==`: object entries are combined
/// order-independently, and `-0.0` hashes like `0.0`.
fn fingerprint(value: &Value) -> u64 {
    let mut h = DefaultHasher::new();
    match value {
        Value::Null => 0u8.hash(&mut h),
        Value::Bool(b) => (1u8, b).hash(&mut h),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => (2u8, u).hash(&mut h),
            (None, Some(i), _) => (3u8, i).hash(&mut h),
            (None, None, f) => (4u8, f.filter(|f| *f != 0.0).map_or(0, f64::to_bits)).hash(&mut h),
        },
        Value::String(s) => (5u8, s).hash(&mut h),
        Value::Array(items) => {
            6u8.hash(&mut h);
            items.iter().for_each(|v| h.write_u64(fingerprint(v)));
        }
        Value::Object(o) => {
            let entries = o.iter().fold(0u64, |acc, (k, v)| {
                let mut e = DefaultHasher::new();
                (k, fingerprint(v)).hash(&mut e);
                acc.wrapping_add(e.finish())
            });
            (7u8, o.len(), entries).hash(&mut h);
        }
    }
    h.finish()
}

/// Drops from `new` every value already in `old` or earlier in `new`
/// (RFC 7644 §3.5.2.1: adding a value that is present changes nothing).
pub(crate) fn retain_unseen(old: &[Value], new: &mut Vec<Value>) {
    let keep: Vec<bool> = {
        let mut seen: HashSet<ValueKey<'_>> = old.iter().map(ValueKey).collect();
        new.iter().map(|v| seen.insert(ValueKey(v))).collect()
    };
    let mut keep = keep.into_iter();
    new.retain(|_| keep.next().unwrap_or(false));
}

/// Reads `true`/`false` and the strings `"true"`/`"false"` in any case
/// (docs/IDP-QUIRKS.md § Required server behaviour 3: Entra `"False"`, OneLogin `"true"`).
pub fn parse_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// `null`, `[]` and `{}` all mean "unassigned" (RFC 7643 §2.5).
pub fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn normalize_labeled(def: &AttrDef, value: &Value, label: &str) -> Result<Option<Value>, ScimError> {
    if is_unassigned(value) {
        return Ok(None);
    }
    if def.multi {
        return normalize_multi(def, value, label);
    }
    if def.ty != AttrType::Complex {
        return normalize_simple(def.ty, value, label);
    }
    if is_manager(def) {
        return normalize_manager(def, value);
    }
    match value {
        Value::Object(o) => {
            let m = normalize_complex(def, o, label)?;
            Ok((!m.is_empty()).then_some(Value::Object(m)))
        }
        _ => Err(ScimError::invalid_value(format!("Attribute '{label}' must be an object"))),
    }
}

/// Simple (non-complex) values. String-like attributes take numbers and
/// booleans as strings (OneLogin sends numbers for `employeeNumber`).
pub(crate) fn normalize_simple(ty: AttrType, value: &Value, label: &str) -> Result<Option<Value>, ScimError> {
    if is_unassigned(value) {
        return Ok(None);
    }
    let bad = |what: &str| ScimError::invalid_value(format!("Attribute '{label}' must be {what}"));
    match ty {
        AttrType::Boolean => parse_bool(value).map(|b| Some(Value::Bool(b))).ok_or_else(|| bad("a boolean")),
        AttrType::Integer | AttrType::Decimal => {
            let n = match value {
                Value::Number(n) => Some(n.clone()),
                Value::String(s) => s.trim().parse::<serde_json::Number>().ok(),
                _ => None,
            };
            match n {
                Some(n) if ty == AttrType::Decimal || n.is_i64() || n.is_u64() => Ok(Some(Value::Number(n))),
                _ => Err(bad(if ty == AttrType::Integer { "an integer" } else { "a number" })),
            }
        }
        // Complex sub-attributes do not exist in SCIM (RFC 7643 §2.4); keep verbatim.
        AttrType::Complex => Ok(Some(value.clone())),
        _ => match value {
            Value::String(_) => Ok(Some(value.clone())),
            Value::Number(n) => Ok(Some(Value::String(n.to_string()))),
            Value::Bool(b) => Ok(Some(Value::String(b.to_string()))),
            _ => Err(bad("a string")),
        },
    }
}

/// A complex value's sub-attributes: canonical names in registry order,
/// normalised; unknown sub-keys kept verbatim after them; `null`s dropped
/// (Entra's `"$ref": null`).
fn normalize_complex(def: &AttrDef, obj: &Map<String, Value>, label: &str) -> Result<Map<String, Value>, ScimError> {
    let mut known = Map::new();
    let mut unknown = Map::new();
    for (k, v) in obj {
        match schema::find(def.sub, k) {
            Some(sd) => match normalize_simple(sd.ty, v, &format!("{label}.{}", sd.name))? {
                Some(n) => known.insert(sd.name.to_string(), n),
                None => known.shift_remove(sd.name),
            },
            None if is_unassigned(v) => unknown.shift_remove(k),
            None => unknown.insert(k.clone(), v.clone()),
        };
    }
    let mut out = Map::new();
    for sd in def.sub {
        if let Some(v) = known.shift_remove(sd.name) {
            out.insert(sd.name.to_string(), v);
        }
    }
    out.extend(unknown);
    Ok(out)
}

/// Multi-valued attributes (RFC 7643 §2.4): a single object is wrapped in an
/// array, plain strings become `{"value": s}`, and at most one element keeps
/// `primary: true`.
fn normalize_multi(def: &AttrDef, value: &Value, label: &str) -> Result<Option<Value>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::Object(o) => {
                let m = normalize_complex(def, o, label)?;
                if !m.is_empty() {
                    out.push(Value::Object(m));
                }
            }
            Value::Array(_) => {
                return Err(ScimError::invalid_value(format!("Elements of '{label}' must be objects")));
            }
            v if v.is_null() => {}
            scalar => {
                let Some(vd) = schema::find(def.sub, "value") else {
                    return Err(ScimError::invalid_value(format!("Elements of '{label}' must be objects")));
                };
                if let Some(n) = normalize_simple(vd.ty, scalar, &format!("{label}.value"))? {
                    let mut m = Map::new();
                    m.insert("value".to_string(), n);
                    out.push(Value::Object(m));
                }
            }
        }
    }
    fix_primary(&mut out, None);
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// Keeps at most one `primary: true` (RFC 7643 §2.4): the element at
/// `preferred` when it is primary, else the first primary one.
pub(crate) fn fix_primary(items: &mut [Value], preferred: Option<usize>) {
    let is_primary = |v: &Value| v.get("primary").and_then(Value::as_bool) == Some(true);
    let winner = preferred.filter(|&i| items.get(i).is_some_and(is_primary)).or_else(|| items.iter().position(is_primary));
    for (i, item) in items.iter_mut().enumerate() {
        if Some(i) != winner && is_primary(item) {
            if let Some(o) = item.as_object_mut() {
                o.insert("primary".to_string(), Value::Bool(false));
            }
        }
    }
}

/// The enterprise extension's `manager` (RFC 7643 §4.3).
pub(crate) fn is_manager(def: &AttrDef) -> bool {
    def.name == "manager" && def.ty == AttrType::Complex && !def.multi
}

/// `manager` in every form IdPs send (docs/IDP-QUIRKS.md § Required server behaviour 12): a plain id string,
/// `{value, $ref, displayName}`, Entra's `[{value, $ref}]` (first element),
/// OneLogin's `{managerId, displayName}`. No usable `value` → unassigned.
fn normalize_manager(def: &AttrDef, value: &Value) -> Result<Option<Value>, ScimError> {
    let value = match value {
        Value::Array(a) => match a.iter().find(|v| !v.is_null()) {
            Some(v) => v,
            None => return Ok(None),
        },
        other => other,
    };
    let mut obj = match value {
        Value::String(_) | Value::Number(_) => {
            let mut m = Map::new();
            m.insert("value".to_string(), value.clone());
            m
        }
        Value::Object(o) => o.clone(),
        _ => return Err(ScimError::invalid_value("Attribute 'manager' must be an id or an object with a 'value'")),
    };
    if let Some(key) = obj.keys().find(|k| k.eq_ignore_ascii_case("managerId")).cloned() {
        let id = obj.shift_remove(&key).unwrap_or(Value::Null);
        let has_value = get_ci(&obj, "value").is_some_and(|v| !is_unassigned(v));
        if !has_value {
            obj.retain(|k, _| !k.eq_ignore_ascii_case("value"));
            obj.insert("value".to_string(), id);
        }
    }
    let mut m = normalize_complex(def, &obj, "manager")?;
    let id = m.get("value").and_then(Value::as_str).map(str::trim).unwrap_or_default().to_string();
    if id.is_empty() {
        return Ok(None);
    }
    m.insert("value".to_string(), Value::String(id));
    Ok(Some(Value::Object(m)))
}
