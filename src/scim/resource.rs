//! Normalises POST/PUT bodies (RFC 7644 §3.3, §3.5.1) into the form Rollcall
//! stores: canonical attribute names, coerced types, no read-only or
//! write-only attributes, and a stable key order.
//!
//! Real IdPs send loosely typed JSON (docs/IDP-QUIRKS.md § Required server
//! behaviour 3 and 12): explicit `null`s, `"True"`/`"False"` strings,
//! numbers for string attributes, `"$ref": null`, unknown schema URNs and
//! four spellings of `manager`. All of that is accepted here, once, so the
//! rest of the server only ever sees one shape.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::error::ScimError;
use super::schema::{self, AttrDef, AttrType, Mutability, ResourceKind};
use super::values::normalize_simple;
pub use super::values::{is_unassigned, member_ids, normalize_attr_value, parse_bool};

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
/// sends all of them back (docs/IDP-QUIRKS.md § Required server behaviour 8).
pub fn normalize(kind: ResourceKind, body: &Value) -> Result<Normalized, ScimError> {
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("The request body must be a JSON object"))?;
    let mut b = Builder { kind, listed: None, core: Map::new(), ext: HashMap::new(), unknown: Map::new(), members: None };
    for (key, value) in obj {
        b.take(key, value)?;
    }
    b.finish()
}

/// Whether `urn` names a resource extension (`…:User`, `…:Group`, as
/// extension URNs conventionally end).
pub(crate) fn is_resource_extension(urn: &str) -> bool {
    let lower = urn.to_ascii_lowercase();
    is_urn(urn) && (lower.ends_with(":user") || lower.ends_with(":group"))
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
    /// Unknown extension objects, kept verbatim (docs/PRODUCT.md § SCIM:
    /// any further extension is stored as sent and returned).
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
                self.check_unknown()
            }
            _ => match key.rsplit_once(':') {
                // A flattened attribute of an unknown extension (`urn:…:2.0:User:shoeSize`).
                Some((owner, attr)) if !attr.is_empty() && is_resource_extension(owner) => {
                    let owner = self.unknown.keys().find(|k| k.eq_ignore_ascii_case(owner)).cloned().unwrap_or_else(|| owner.to_string());
                    let entry = self.unknown.entry(owner).or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(m) = entry {
                        m.insert(attr.to_string(), value.clone());
                    }
                    self.check_unknown()
                }
                _ => Err(ScimError::invalid_value(format!("Extension '{key}' must be an object"))),
            },
        }
    }

    /// Unknown extensions are kept, but only so many: each key looks its
    /// owner up among them, so their number bounds that work.
    fn check_unknown(&self) -> Result<(), ScimError> {
        if self.unknown.len() > super::limits::MAX_UNKNOWN_EXTENSIONS {
            return Err(super::limits::too_many("extension schemas", super::limits::MAX_UNKNOWN_EXTENSIONS));
        }
        Ok(())
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
/// `null` is treated as absent (explicit nulls, docs/IDP-QUIRKS.md § Required server behaviour 12).
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
    let canonical = |s: &str| -> String { schema::find_extension(kind, s).map_or_else(|| s.to_string(), |(urn, _)| urn.to_string()) };
    let more = listed.unwrap_or_default().iter().map(|s| canonical(s)).chain(ext.keys().cloned());
    // URNs compare case-insensitively; a set keeps a long `schemas` list linear.
    let mut seen: HashSet<String> = out.iter().map(|s| s.to_ascii_lowercase()).collect();
    for s in more {
        if !s.is_empty() && seen.insert(s.to_ascii_lowercase()) {
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

#[cfg(test)]
#[path = "resource_tests.rs"]
mod tests;
