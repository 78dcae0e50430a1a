//! Resolves a PATCH `path` (RFC 7644 §3.5.2, §3.10) against the attribute
//! registry into the thing an operation acts on.

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
use crate::scim::resource::normalize_attr_value;
use crate::scim::schema::{self, AttrDef, AttrType, Mutability, ResourceKind, COMMON_ATTRS};

/// Filters nest at most `MAX_FILTER_DEPTH` (32) deep; walks here stop a bit
/// later anyway so a hand-built filter cannot exhaust the stack.
const MAX_WALK_DEPTH: usize = 64;

/// The object that holds an attribute.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Loc {
    /// The resource itself (core and common attributes).
    Core,
    /// A known extension object, by canonical URN (RFC 7643 §3.3).
    Ext(&'static str),
}

/// What a PATCH path designates.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// A registered attribute, optionally narrowed by a value filter and/or a
    /// sub-attribute (`emails[type eq "work"].value`, `name.givenName`).
    Attr { loc: Loc, def: &'static AttrDef, filter: Option<Filter>, sub: Option<&'static AttrDef> },
    /// A known extension object as a whole (`path` = its URN).
    Extension { urn: &'static str, attrs: &'static [AttrDef] },
    /// An extension Rollcall has no schema for, as a whole; stored verbatim.
    UnknownExt { key: String },
    /// An attribute (and sub-attribute) inside an unknown extension.
    UnknownAttr { key: String, name: String, sub: Option<String> },
    /// A writeOnly attribute (`password`): accepted, never stored.
    Ignored,
    /// A readOnly attribute (`id`, `meta`, `groups`, RFC 7643 §7).
    ReadOnly(String),
    /// No such attribute.
    Unknown(String),
}

/// Resolves `path` for `kind`. Errors are `invalidPath` for structurally
/// wrong paths (a sub-attribute of a simple attribute, a filter on a
/// single-valued one); readOnly and unknown attributes are returned as
/// targets so path-less ops can skip them while path ops reject them.
pub(super) fn resolve(kind: ResourceKind, resource: &Map<String, Value>, path: &PatchPath) -> Result<Target, ScimError> {
    let attr = &path.attr;
    let plain = path.filter.is_none() && path.sub_attr.is_none();
    if let Some(full) = attr.full_urn_candidate().filter(|_| plain) {
        if let Some((urn, attrs)) = schema::find_extension(kind, &full) {
            return Ok(Target::Extension { urn, attrs });
        }
    }
    let (loc, attrs): (Loc, &'static [AttrDef]) = match attr.uri.as_deref() {
        None => (Loc::Core, kind.core_attrs()),
        Some(u) if u.eq_ignore_ascii_case(kind.core_schema()) => (Loc::Core, kind.core_attrs()),
        Some(u) => match schema::find_extension(kind, u) {
            Some((urn, attrs)) => (Loc::Ext(urn), attrs),
            None => return unknown_extension(resource, path, u),
        },
    };
    let found = match (schema::find(attrs, &attr.name), &loc) {
        (Some(def), _) => Some((loc, def)),
        (None, Loc::Ext(_)) => None,
        (None, Loc::Core) => schema::find(COMMON_ATTRS, &attr.name).map(|d| (Loc::Core, d)).or_else(|| {
            // Entra sends `manager` without the enterprise URN (docs/IDP-QUIRKS.md § Microsoft Entra ID, Manager):
            // an unqualified name no core attribute has falls back to the extensions.
            kind.extensions().iter().find_map(|&(urn, ext)| schema::find(ext, &attr.name).map(|d| (Loc::Ext(urn), d)))
        }),
    };
    let Some((loc, def)) = found else { return Ok(Target::Unknown(attr.to_string())) };
    match def.mutability {
        Mutability::ReadOnly => return Ok(Target::ReadOnly(def.name.to_string())),
        Mutability::WriteOnly => return Ok(Target::Ignored),
        Mutability::ReadWrite | Mutability::Immutable => {}
    }
    if path.filter.is_some() && !def.multi {
        return Err(ScimError::invalid_path(format!("'{}' is not multi-valued; it cannot take a value filter", def.name)));
    }
    let sub_name = path.sub_attr.as_deref().or(attr.sub_attr.as_deref());
    // Okta may echo a member's `display`; RFC 7643 §8.7.1 members have none to set.
    if kind == ResourceKind::Group && def.name == "members" && sub_name.is_some_and(|s| s.eq_ignore_ascii_case("display")) {
        return Ok(Target::Ignored);
    }
    let sub = match sub_name {
        None => None,
        Some(_) if def.ty != AttrType::Complex => {
            return Err(ScimError::invalid_path(format!("'{}' has no sub-attributes", def.name)));
        }
        Some(s) => Some(schema::find(def.sub, s).ok_or_else(|| ScimError::invalid_path(format!("'{}' has no sub-attribute '{s}'", def.name)))?),
    };
    Ok(Target::Attr { loc, def, filter: path.filter.clone(), sub })
}

/// An extension URN Rollcall has no schema for. The parser splits at the last
/// `:`, so `urn:acme:ext:User` could be the extension itself or attribute
/// `User` of `urn:acme:ext`: what the resource already holds or lists in
/// `schemas` decides; then an owner URN ending in a resource type (`…:User`,
/// `…:Group`, as extension URNs conventionally end) makes it an attribute of
/// that extension (Entra's `urn:…:CustomExtensionName:2.0:User:CustomAttribute`);
/// otherwise a last segment starting with an upper-case letter means the
/// extension itself.
fn unknown_extension(resource: &Map<String, Value>, path: &PatchPath, uri: &str) -> Result<Target, ScimError> {
    if path.filter.is_some() {
        return Err(ScimError::invalid_path(format!("No schema is known for '{uri}'; value filters need one")));
    }
    let existing = |k: &str| resource.keys().find(|key| key.eq_ignore_ascii_case(k)).cloned();
    let listed =
        |k: &str| resource.get("schemas").and_then(Value::as_array).is_some_and(|a| a.iter().filter_map(Value::as_str).any(|s| s.eq_ignore_ascii_case(k)));
    let attr = &path.attr;
    if let Some(full) = attr.full_urn_candidate() {
        if let Some(key) = existing(&full) {
            return Ok(Target::UnknownExt { key });
        }
        let owner_known = existing(uri).is_some() || listed(uri);
        let owner_is_extension = crate::scim::resource::is_resource_extension(uri);
        if !owner_known && (listed(&full) || (!owner_is_extension && attr.name.starts_with(|c: char| c.is_ascii_uppercase()))) {
            return Ok(Target::UnknownExt { key: full });
        }
    }
    let key = existing(uri).unwrap_or_else(|| uri.to_string());
    Ok(Target::UnknownAttr { key, name: attr.name.clone(), sub: attr.sub_attr.clone() })
}

/// Case-exactness of a value-filter path inside elements of `def`
/// (RFC 7643 §2.2 `caseExact`): `type` in `emails[type eq "work"]`.
pub(super) fn sub_case_exact(def: &AttrDef, path: &AttrPath) -> bool {
    let name = match &path.sub_attr {
        Some(sub) if path.name.eq_ignore_ascii_case(def.name) => sub.as_str(),
        _ => path.name.as_str(),
    };
    schema::find(def.sub, name).is_some_and(|d| d.case_exact)
}

/// When `filter` is `a eq x and b eq y …` on plain sub-attributes, the
/// element those comparisons describe: add/replace through a filter that
/// matches nothing creates it (docs/IDP-QUIRKS.md § Required server behaviour 5,
/// Entra's `Add` to `emails[type eq "work"].value`).
pub(super) fn eq_element(def: &AttrDef, filter: &Filter) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    collect_eq(def, filter, &mut out, 0)?;
    Some(out)
}

fn collect_eq(def: &AttrDef, filter: &Filter, out: &mut Map<String, Value>, depth: usize) -> Option<()> {
    if depth > MAX_WALK_DEPTH {
        return None;
    }
    match filter {
        Filter::And(a, b) => {
            collect_eq(def, a, out, depth + 1)?;
            collect_eq(def, b, out, depth + 1)
        }
        Filter::Compare { path, op: CompareOp::Eq, value } if path.uri.is_none() && path.sub_attr.is_none() => {
            let raw = match value {
                CompValue::Null => return None,
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::String(s) => Value::String(s.clone()),
            };
            let (name, v) = match schema::find(def.sub, &path.name) {
                Some(d) => (d.name.to_string(), normalize_attr_value(d, &raw).ok().flatten()?),
                None => (path.name.clone(), raw),
            };
            if out.get(&name).is_some_and(|old| *old != v) {
                return None;
            }
            out.insert(name, v);
            Some(())
        }
        _ => None,
    }
}

/// The ids of `value eq "a" or value eq "b" …` (Okta's and Entra's
/// `members[value eq "<id>"]`), or `None` for any other filter.
pub(super) fn value_eq_ids(filter: &Filter) -> Option<Vec<String>> {
    let mut out = Vec::new();
    collect_value_ids(filter, &mut out, 0)?;
    Some(out)
}

fn collect_value_ids(filter: &Filter, out: &mut Vec<String>, depth: usize) -> Option<()> {
    if depth > MAX_WALK_DEPTH {
        return None;
    }
    match filter {
        Filter::Or(a, b) => {
            collect_value_ids(a, out, depth + 1)?;
            collect_value_ids(b, out, depth + 1)
        }
        Filter::Compare { path, op: CompareOp::Eq, value } if path.uri.is_none() && path.sub_attr.is_none() && path.name.eq_ignore_ascii_case("value") => {
            let id = match value {
                CompValue::String(s) => s.trim().to_string(),
                CompValue::Number(n) => n.to_string(),
                CompValue::Null | CompValue::Bool(_) => return None,
            };
            if !out.contains(&id) {
                out.push(id);
            }
            Some(())
        }
        _ => None,
    }
}

/// The key actually used for `urn` in `obj` (stored keys are canonical, but
/// a caller may hand in a differently cased one).
pub(super) fn key_ci(obj: &Map<String, Value>, key: &str) -> String {
    obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned().unwrap_or_else(|| key.to_string())
}
