//! Normalises POST/PUT bodies (RFC 7644 §3.3, §3.5.1) into the form Rollcall
//! stores: canonical attribute names, coerced types, no read-only or
//! write-only attributes, and a stable key order.
//!
//! Real IdPs send loosely typed JSON (docs/IDP-QUIRKS.md, "Required server
//! behaviour" 3 and 12): explicit `null`s, `"True"`/`"False"` strings,
//! numbers for string attributes, `"$ref": null`, unknown schema URNs and
//! four spellings of `manager`. All of that is accepted here, once, so the
//! rest of the server only ever sees one shape.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::error::ScimError;
use super::schema::{self, AttrDef, AttrType, Mutability, ResourceKind};

/// A normalised POST/PUT body.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// The resource as stored: `schemas`, `externalId`, attributes in
    /// registry order, then extension objects. Never `id`, `meta`,
    /// `password`, `groups` or (for Groups) `members`.
    pub resource: Map<String, Value>,
    /// Groups: `Some(user ids, in order, de-duplicated)` when the body has a
    /// `members` key (even `[]` or `null`: PUT is a full replace, RFC 7644
    /// §3.5.1), `None` otherwise. Users: always `None`.
    pub members: Option<Vec<String>>,
}

/// Normalises a POST or PUT body for `kind` (RFC 7644 §3.3, §3.5.1).
///
/// `id` and `meta` are ignored (readOnly, RFC 7643 §3.1), as are a User's
/// `groups` (readOnly) and `password` (writeOnly, never stored); Okta's PUT
/// sends all of them back (IDP-QUIRKS "Required server behaviour" 8).
pub fn normalize(kind: ResourceKind, body: &Value) -> Result<Normalized, ScimError> {
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("The request body must be a JSON object"))?;
    let mut b = Builder { kind, listed: None, core: Map::new(), ext: HashMap::new(), unknown: Map::new(), members: None };
    for (key, value) in obj {
        b.take(key, value)?;
    }
    b.finish()
}

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
        if !ids.iter().any(|x| x == id) {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}

/// Reads `true`/`false` and the strings `"true"`/`"false"` in any case
/// (IDP-QUIRKS "Required server behaviour" 3: Entra `"False"`, OneLogin `"true"`).
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

/// Whether `key` is a schema URN (extension objects and URN-qualified names).
pub fn is_urn(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// Looks a key up exactly, then case-insensitively (RFC 7643 §2.1).
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// The sub-key under `prefix + ":"` of a flattened URN key, case-insensitively.
pub(crate) fn strip_urn_prefix<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let head = key.get(..prefix.len())?;
    let rest = key.get(prefix.len()..)?.strip_prefix(':')?;
    (head.eq_ignore_ascii_case(prefix) && !rest.is_empty()).then_some(rest)
}

/// Collects a body's keys before ordering them.
struct Builder {
    kind: ResourceKind,
    listed: Option<Vec<String>>,
    core: Map<String, Value>,
    /// Known extensions with their attributes, by canonical URN.
    ext: HashMap<&'static str, Map<String, Value>>,
    /// Unknown extension objects, kept verbatim (PRODUCT.md: "any other
    /// extension a client sends is kept and returned").
    unknown: Map<String, Value>,
    members: Option<Vec<String>>,
}

impl Builder {
    fn take(&mut self, key: &str, value: &Value) -> Result<(), ScimError> {
        if key.eq_ignore_ascii_case("schemas") {
            self.listed = parse_schemas(self.kind, value)?;
            return Ok(());
        }
        if !is_urn(key) {
            return self.take_plain(key, value);
        }
        let kind = self.kind;
        if key.eq_ignore_ascii_case(kind.core_schema()) {
            // Core attributes nested under their own schema URN: the same as top-level keys.
            if let Value::Object(o) = value {
                return o.iter().try_for_each(|(k, v)| self.take_plain(k, v));
            }
            return Ok(());
        }
        if let Some(rest) = strip_urn_prefix(key, kind.core_schema()) {
            // `urn:…:core:2.0:User:userName` is the same as `userName` (RFC 7644 §3.10).
            return self.take_plain(rest, value);
        }
        for &(urn, attrs) in kind.extensions() {
            if key.eq_ignore_ascii_case(urn) {
                let ext = self.ext_map(urn);
                return match value {
                    v if is_unassigned(v) => {
                        ext.clear();
                        Ok(())
                    }
                    Value::Object(o) => o.iter().try_for_each(|(k, v)| set_dotted(ext, attrs, k, v)),
                    _ => Err(ScimError::invalid_value(format!("Extension '{urn}' must be an object"))),
                };
            }
            if let Some(rest) = strip_urn_prefix(key, urn) {
                // Flattened `urn:…:enterprise:2.0:User:department` keys fold into the extension.
                return set_dotted(self.ext_map(urn), attrs, rest, value);
            }
        }
        match value {
            v if is_unassigned(v) => {
                self.unknown.shift_remove(key);
                Ok(())
            }
            Value::Object(_) => {
                self.unknown.insert(key.to_string(), value.clone());
                Ok(())
            }
            _ => Err(ScimError::invalid_value(format!("Extension '{key}' must be an object"))),
        }
    }

    fn take_plain(&mut self, key: &str, value: &Value) -> Result<(), ScimError> {
        if self.kind == ResourceKind::Group && key.eq_ignore_ascii_case("members") {
            self.members = Some(member_ids(value)?);
            return Ok(());
        }
        let kind = self.kind;
        let attrs = kind.core_attrs();
        // `find_top` covers core and common attributes; both live in `core`.
        let (name, _) = key.split_once('.').unwrap_or((key, ""));
        if schema::find(attrs, name).is_some() {
            return set_dotted(&mut self.core, attrs, key, value);
        }
        if schema::find(schema::COMMON_ATTRS, name).is_some() {
            return set_dotted(&mut self.core, schema::COMMON_ATTRS, key, value);
        }
        // An unqualified extension attribute (Entra's top-level `"manager": null`)
        // belongs to the extension that defines it; no core name clashes.
        match kind.extensions().iter().find(|(_, ext)| schema::find(ext, name).is_some()) {
            Some(&(urn, ext)) => set_dotted(self.ext_map(urn), ext, key, value),
            None => Ok(()),
        }
    }

    fn ext_map(&mut self, urn: &'static str) -> &mut Map<String, Value> {
        self.ext.entry(urn).or_default()
    }

    fn finish(mut self) -> Result<Normalized, ScimError> {
        let kind = self.kind;
        let (required, message) = match kind {
            ResourceKind::User => ("userName", "userName is required"),
            ResourceKind::Group => ("displayName", "displayName is required"),
        };
        // Trimmed so `userName eq "x"` finds a user an IdP template sent as "x ".
        let trimmed = self.core.get(required).and_then(Value::as_str).map(str::trim).unwrap_or_default().to_string();
        if trimmed.is_empty() {
            return Err(ScimError::invalid_value(message));
        }
        self.core.insert(required.to_string(), Value::String(trimmed));

        let mut out = Map::new();
        let mut ext_out = Map::new();
        for &(urn, attrs) in kind.extensions() {
            if let Some(m) = self.ext.get(urn) {
                let ordered = order_attrs(attrs, m)?;
                if !ordered.is_empty() {
                    ext_out.insert(urn.to_string(), Value::Object(ordered));
                }
            }
        }
        for (k, v) in &self.unknown {
            ext_out.insert(k.clone(), v.clone());
        }
        out.insert("schemas".to_string(), Value::Array(schemas_out(kind, self.listed.as_deref(), &ext_out)));
        if let Some(v) = self.core.get("externalId") {
            out.insert("externalId".to_string(), v.clone());
        }
        out.extend(order_attrs(kind.core_attrs(), &self.core)?);
        out.extend(ext_out);
        Ok(Normalized { resource: out, members: self.members })
    }
}

/// `schemas` must list the core schema of `kind` when present (RFC 7643 §3);
/// `null` is treated as absent (explicit nulls, IDP-QUIRKS 12).
fn parse_schemas(kind: ResourceKind, value: &Value) -> Result<Option<Vec<String>>, ScimError> {
    let core = kind.core_schema();
    let items = match value {
        Value::Null => return Ok(None),
        Value::Array(a) => a,
        _ => return Err(ScimError::invalid_syntax("'schemas' must be an array of schema URNs")),
    };
    let mut out = Vec::new();
    for item in items {
        let s = item.as_str().ok_or_else(|| ScimError::invalid_syntax("'schemas' must be an array of schema URNs"))?;
        out.push(s.trim().to_string());
    }
    if !out.iter().any(|s| s.eq_ignore_ascii_case(core)) {
        return Err(ScimError::invalid_syntax(format!("'schemas' must include {core} on the {} endpoint", kind.endpoint())));
    }
    Ok(Some(out))
}

/// Core URN first, then what the client listed (unknown URNs kept, e.g.
/// Entra's extra Microsoft group URN), then extensions that carry data.
fn schemas_out(kind: ResourceKind, listed: Option<&[String]>, ext: &Map<String, Value>) -> Vec<Value> {
    let mut out: Vec<String> = vec![kind.core_schema().to_string()];
    let canonical = |s: &str| -> String {
        schema::find_extension(kind, s).map_or_else(|| s.to_string(), |(urn, _)| urn.to_string())
    };
    let more = listed.unwrap_or_default().iter().map(|s| canonical(s)).chain(ext.keys().cloned());
    for s in more {
        if !s.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&s)) {
            out.push(s);
        }
    }
    out.into_iter().map(Value::String).collect()
}

/// Re-normalises each known attribute in registry order; unknown keys of an
/// extension are dropped (the registry is the extension's schema).
fn order_attrs(attrs: &[AttrDef], map: &Map<String, Value>) -> Result<Map<String, Value>, ScimError> {
    let mut out = Map::new();
    for def in attrs {
        if let Some(v) = map.get(def.name) {
            if let Some(n) = normalize_attr_value(def, v)? {
                out.insert(def.name.to_string(), n);
            }
        }
    }
    Ok(out)
}

/// Sets `name` or `name.sub` in `map`. Unknown names, read-only and
/// write-only attributes are dropped; a dotted key only reaches into a
/// single-valued complex attribute.
fn set_dotted(map: &mut Map<String, Value>, attrs: &[AttrDef], key: &str, value: &Value) -> Result<(), ScimError> {
    let (name, sub) = match key.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (key, None),
    };
    let Some(def) = schema::find(attrs, name) else { return Ok(()) };
    if matches!(def.mutability, Mutability::ReadOnly | Mutability::WriteOnly) {
        return Ok(());
    }
    let Some(sub) = sub else {
        match normalize_attr_value(def, value)? {
            Some(v) => map.insert(def.name.to_string(), v),
            None => map.shift_remove(def.name),
        };
        return Ok(());
    };
    let Some(sd) = (def.ty == AttrType::Complex && !def.multi).then(|| schema::find(def.sub, sub)).flatten() else {
        return Ok(());
    };
    let label = format!("{}.{}", def.name, sd.name);
    let normalized = normalize_simple(sd.ty, value, &label)?;
    let mut obj = match map.shift_remove(def.name) {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    match normalized {
        Some(v) => obj.insert(sd.name.to_string(), v),
        None => obj.shift_remove(sd.name),
    };
    if !obj.is_empty() {
        map.insert(def.name.to_string(), Value::Object(obj));
    }
    Ok(())
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
fn normalize_simple(ty: AttrType, value: &Value, label: &str) -> Result<Option<Value>, ScimError> {
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
    let winner = preferred
        .filter(|&i| items.get(i).is_some_and(is_primary))
        .or_else(|| items.iter().position(is_primary));
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

/// `manager` in every form IdPs send (IDP-QUIRKS 12): a plain id string,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_SCHEMA as ENT, GROUP_SCHEMA, USER_SCHEMA};
    use crate::scim::ScimType;
    use serde_json::json;

    fn user(body: Value) -> Map<String, Value> {
        normalize(ResourceKind::User, &body).unwrap().resource
    }

    fn user_err(body: Value) -> ScimError {
        normalize(ResourceKind::User, &body).unwrap_err()
    }

    fn manager(m: Value) -> Option<Value> {
        user(json!({"userName": "a", ENT: {"manager": m}})).get(ENT).and_then(|e| e.get("manager")).cloned()
    }

    #[test]
    fn an_okta_create_body_is_stored_without_password_or_groups() {
        let r = user(json!({
            "schemas": [USER_SCHEMA], "userName": "ann@x.io",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"primary": true, "value": "ann@x.io", "type": "work"}],
            "displayName": "Ann Lee", "locale": "en-US", "externalId": "00u1",
            "groups": [], "password": "hunter2", "active": true
        }));
        assert_eq!(Value::Object(r), json!({
            "schemas": [USER_SCHEMA], "externalId": "00u1", "userName": "ann@x.io",
            "name": {"familyName": "Lee", "givenName": "Ann"}, "displayName": "Ann Lee", "locale": "en-US",
            "active": true, "emails": [{"value": "ann@x.io", "type": "work", "primary": true}]
        }));
    }

    #[test]
    fn the_stored_key_order_is_schemas_external_id_registry_order_then_extensions() {
        let r = user(json!({"urn:x:custom": {"a": 1}, ENT: {"department": "R&D"}, "active": false, "externalId": "e", "userName": "u"}));
        let keys: Vec<&str> = r.keys().map(String::as_str).collect();
        assert_eq!(keys, ["schemas", "externalId", "userName", "active", ENT, "urn:x:custom"]);
        assert_eq!(r["schemas"], json!([USER_SCHEMA, ENT, "urn:x:custom"]));
    }

    #[test]
    fn an_entra_create_with_explicit_nulls_and_string_booleans_is_accepted() {
        let r = user(json!({
            "schemas": [USER_SCHEMA, ENT], "externalId": "x", "userName": "b@x.io", "active": "False",
            "meta": {"resourceType": "User"}, "name": {"formatted": "B", "familyName": null, "givenName": "B"},
            "roles": [], "title": null, ENT: {"manager": null, "department": null}
        }));
        assert_eq!(r["active"], json!(false));
        assert_eq!(r["name"], json!({"formatted": "B", "givenName": "B"}));
        assert!(r.get("title").is_none() && r.get("roles").is_none() && r.get("meta").is_none() && r.get(ENT).is_none());
        assert_eq!(r["schemas"], json!([USER_SCHEMA, ENT]));
    }

    #[test]
    fn a_onelogin_body_with_null_id_string_active_and_number_employee_number_is_accepted() {
        let r = user(json!({"id": null, "userName": "c", "active": "TRUE", ENT: {"employeeNumber": 42}}));
        assert_eq!(r["active"], json!(true));
        assert_eq!(r[ENT], json!({"employeeNumber": "42"}));
        assert!(r.get("id").is_none());
    }

    #[test]
    fn manager_is_accepted_in_every_form_idps_send() {
        assert_eq!(manager(json!("m1")), Some(json!({"value": "m1"})));
        assert_eq!(
            manager(json!({"value": "m1", "$ref": "../Users/m1", "displayName": "M"})),
            Some(json!({"value": "m1", "$ref": "../Users/m1", "displayName": "M"}))
        );
        assert_eq!(manager(json!([{"$ref": "r", "value": "m1"}])), Some(json!({"value": "m1", "$ref": "r"})));
        assert_eq!(manager(json!({"managerId": 7, "displayName": "M"})), Some(json!({"value": "7", "displayName": "M"})));
        assert_eq!(manager(json!({"value": "", "displayName": "M"})), None);
        assert_eq!(manager(json!({"value": "m1", "$ref": null})), Some(json!({"value": "m1"})));
        assert_eq!(manager(json!([])), None);
    }

    #[test]
    fn a_wrong_or_malformed_schemas_list_is_invalid_syntax() {
        for body in [
            json!({"schemas": [GROUP_SCHEMA], "userName": "u"}),
            json!({"schemas": USER_SCHEMA, "userName": "u"}),
            json!({"schemas": [1], "userName": "u"}),
            json!([]),
        ] {
            assert_eq!(user_err(body).scim_type, Some(ScimType::InvalidSyntax));
        }
        assert!(normalize(ResourceKind::User, &json!({"userName": "u", "schemas": null})).is_ok());
    }

    #[test]
    fn a_missing_or_blank_user_name_is_invalid_value() {
        for body in [json!({}), json!({"userName": "  "}), json!({"userName": null})] {
            let e = user_err(body);
            assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
            assert!(e.detail.contains("userName"));
        }
        assert_eq!(user(json!({"userName": " u "}))["userName"], json!("u"));
    }

    #[test]
    fn values_of_the_wrong_type_are_invalid_value_naming_the_attribute() {
        for (body, name) in [
            (json!({"userName": "u", "active": "yes"}), "active"),
            (json!({"userName": "u", "title": {"a": 1}}), "title"),
            (json!({"userName": ["u"]}), "userName"),
            (json!({"userName": "u", "name": "Ann"}), "name"),
            (json!({"userName": "u", "emails": [{"primary": "maybe"}]}), "emails.primary"),
            (json!({"userName": "u", "emails": [["x"]]}), "emails"),
            (json!({"userName": "u", "addresses": ["x"]}), "addresses"),
            (json!({"userName": "u", ENT: "x"}), ENT),
            (json!({"userName": "u", "urn:x:custom": 1}), "urn:x:custom"),
        ] {
            let e = user_err(body);
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{name}");
            assert!(e.detail.contains(name), "{} lacks {name}", e.detail);
        }
    }

    #[test]
    fn keys_are_canonicalised_case_insensitively() {
        let r = user(json!({"USERNAME": "u", "Name": {"GivenName": "A"}, "EMAILS": {"VALUE": "a@x", "Primary": "true"},
                           "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User": {"DEPARTMENT": "D"}}));
        assert_eq!(r["userName"], json!("u"));
        assert_eq!(r["name"], json!({"givenName": "A"}));
        assert_eq!(r["emails"], json!([{"value": "a@x", "primary": true}]));
        assert_eq!(r[ENT], json!({"department": "D"}));
    }

    #[test]
    fn flattened_dotted_and_core_qualified_keys_are_folded_in() {
        let r = user(json!({
            "userName": "u", "name.givenName": "A", format!("{ENT}:department"): "D",
            format!("{ENT}:manager.value"): "m", format!("{USER_SCHEMA}:title"): "T", USER_SCHEMA: {"nickName": "N"}
        }));
        assert_eq!(r["nickName"], json!("N"));
        assert_eq!(r["name"], json!({"givenName": "A"}));
        assert_eq!(r["title"], json!("T"));
        assert_eq!(r[ENT], json!({"department": "D", "manager": {"value": "m"}}));
    }

    #[test]
    fn unknown_extensions_are_kept_verbatim_and_unknown_plain_keys_dropped() {
        let r = user(json!({"userName": "u", "foo": 1, "urn:acme:ext:1.0:User": {"badge": 7, "x": null}}));
        assert!(r.get("foo").is_none());
        assert_eq!(r["urn:acme:ext:1.0:User"], json!({"badge": 7, "x": null}));
    }

    #[test]
    fn multi_valued_elements_are_normalised_and_only_the_first_primary_kept() {
        let r = user(json!({"userName": "u", "emails": ["a@x", {"value": "b@x", "primary": "True", "$ref": null, "extra": 1},
                                                        {"value": "c@x", "primary": true}]}));
        assert_eq!(r["emails"], json!([{"value": "a@x"}, {"value": "b@x", "primary": true, "extra": 1}, {"value": "c@x", "primary": false}]));
        // `active` is not invented here: an absent value means active (the creation use case sets it).
        assert!(r.get("active").is_none());
    }

    #[test]
    fn a_group_keeps_listed_unknown_schemas_and_returns_members_apart() {
        let n = normalize(ResourceKind::Group, &json!({
            "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "Eng", "externalId": "g1",
            "members": [{"$ref": null, "value": "u1"}, {"value": "u1", "display": "A"}, "u2"]
        })).unwrap();
        assert_eq!(n.members, Some(vec!["u1".to_string(), "u2".to_string()]));
        assert!(n.resource.get("members").is_none());
        assert_eq!(n.resource["schemas"][1], json!("http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"));
        assert_eq!(normalize(ResourceKind::Group, &json!({"displayName": "E", "members": []})).unwrap().members, Some(vec![]));
        assert_eq!(normalize(ResourceKind::Group, &json!({"displayName": "E"})).unwrap().members, None);
        assert_eq!(normalize(ResourceKind::User, &json!({"userName": "u", "members": ["x"]})).unwrap().members, None);
    }

    #[test]
    fn group_errors_are_invalid_value() {
        let g = |b: Value| normalize(ResourceKind::Group, &b).unwrap_err();
        assert!(g(json!({"displayName": ""})).detail.contains("displayName"));
        assert!(g(json!({"displayName": "E", "members": [{"value": "g2", "type": "Group"}]})).detail.contains("nested groups"));
        assert_eq!(g(json!({"displayName": "E", "members": [{"display": "x"}]})).scim_type, Some(ScimType::InvalidValue));
        assert_eq!(g(json!({"schemas": [USER_SCHEMA], "displayName": "E"})).scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn normalising_the_stored_form_again_changes_nothing() {
        let body = json!({"userName": "u", "emails": [{"value": "a", "primary": true}], ENT: {"manager": "m"}, "urn:x:y": {"a": 1}});
        let once = user(body);
        assert_eq!(user(Value::Object(once.clone())), once);
    }

    #[test]
    fn normalize_attr_value_reports_unassigned_as_none() {
        let active = schema::find(schema::USER_ATTRS, "active").unwrap();
        assert_eq!(normalize_attr_value(active, &json!(null)).unwrap(), None);
        assert_eq!(normalize_attr_value(active, &json!("false")).unwrap(), Some(json!(false)));
        let emails = schema::find(schema::USER_ATTRS, "emails").unwrap();
        assert_eq!(normalize_attr_value(emails, &json!([])).unwrap(), None);
        assert_eq!(normalize_attr_value(emails, &json!({"value": "a"})).unwrap(), Some(json!([{"value": "a"}])));
    }
}
