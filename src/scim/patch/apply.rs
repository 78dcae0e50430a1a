//! Executes PATCH operations on a resource map (RFC 7644 §3.5.2.1–3).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::ext::{apply_extension, apply_unknown_ext, set_verbatim, with_obj};
use super::members;
use super::paths::{eq_element, key_ci, resolve, sub_case_exact, Loc, Target};
use super::{MemberOp, OpKind, PatchOp};
use crate::scim::error::ScimError;
use crate::scim::filter::{matches, parse_patch_path, Filter};
use crate::scim::resource::{self, is_unassigned, is_urn, normalize_attr_value};
use crate::scim::schema::{self, AttrDef, AttrType, Mutability, ResourceKind};
use crate::scim::values::{fix_primary, is_manager, retain_unseen, ValueKey};

/// Applies `ops` in order to a copy of `resource` and writes it back only if
/// all of them succeed and the result is still valid (RFC 7644 §3.5.2: "each
/// operation … is applied in sequence" and the request is atomic).
/// Member ops of a Group are collected, not applied.
pub(super) fn apply_all(kind: ResourceKind, resource: &mut Map<String, Value>, ops: &[PatchOp]) -> Result<Vec<MemberOp>, ScimError> {
    let mut work = resource.clone();
    let mut member_ops = Vec::new();
    for op in ops {
        match &op.path {
            Some(path) => {
                let target = resolve(kind, &work, path)?;
                apply_target(kind, &mut work, op.op, target, op.value.as_ref(), true, &mut member_ops)?;
            }
            None => apply_pathless(kind, &mut work, op.op, op.value.as_ref(), &mut member_ops)?,
        }
    }
    *resource = finish(kind, work, resource)?;
    Ok(member_ops)
}

/// Re-normalises the result (required attributes, key
/// order, `schemas`) and keeps the server-owned readOnly keys the caller
/// passed in (`id`, `meta`, a User's `groups`).
fn finish(kind: ResourceKind, work: Map<String, Value>, original: &Map<String, Value>) -> Result<Map<String, Value>, ScimError> {
    let normalized = resource::normalize(kind, &Value::Object(work))?.resource;
    let server_owned = |k: &str| schema::find_top(kind, None, k).is_some_and(|d| d.mutability == Mutability::ReadOnly);
    let mut out = Map::new();
    for (k, v) in normalized {
        let is_schemas = k == "schemas";
        out.insert(k, v);
        if is_schemas {
            if let Some(id) = original.get("id") {
                out.insert("id".to_string(), id.clone());
            }
        }
    }
    for (k, v) in original {
        if k != "id" && server_owned(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(out)
}

/// RFC 7644 §3.5.2.1/§3.5.2.3 without `path`: `value` is an object whose keys
/// are plain, dotted or URN-qualified paths (docs/IDP-QUIRKS.md § Required server
/// behaviour 4, Entra's aadOptscim062020 merged replace). `id`, `schemas`,
/// `meta`, readOnly, writeOnly and unknown attributes are skipped.
fn apply_pathless(
    kind: ResourceKind,
    res: &mut Map<String, Value>,
    op: OpKind,
    value: Option<&Value>,
    member_ops: &mut Vec<MemberOp>,
) -> Result<(), ScimError> {
    let Some(Value::Object(obj)) = value else {
        return Err(ScimError::invalid_value("A PATCH operation without a path needs an object value"));
    };
    for (key, v) in obj {
        if ["id", "schemas", "meta"].iter().any(|k| key.eq_ignore_ascii_case(k)) {
            continue;
        }
        let target = match parse_patch_path(key) {
            Ok(path) => resolve(kind, res, &path)?,
            // `urn:acme:x` with no attribute part: an unknown extension object, as in a POST body.
            Err(_) if is_urn(key) && v.is_object() => Target::UnknownExt { key: key_ci(res, key) },
            Err(e) => return Err(ScimError::invalid_path(format!("Invalid attribute '{key}': {}", e.message))),
        };
        let target = match target {
            // An unknown extension sent as a whole object, like in resource.rs.
            Target::UnknownAttr { key: owner, .. } if is_urn(key) && v.is_object() && !res.contains_key(&owner) => Target::UnknownExt { key: key.clone() },
            t => t,
        };
        apply_target(kind, res, op, target, Some(v), false, member_ops)?;
    }
    Ok(())
}

/// Applies one op to a resolved target. `strict` (a path op) rejects unknown
/// and readOnly attributes; path-less ops skip them.
fn apply_target(
    kind: ResourceKind,
    res: &mut Map<String, Value>,
    op: OpKind,
    target: Target,
    value: Option<&Value>,
    strict: bool,
    member_ops: &mut Vec<MemberOp>,
) -> Result<(), ScimError> {
    let null = Value::Null;
    let value = value.unwrap_or(&null);
    match target {
        Target::Unknown(name) if strict => Err(ScimError::invalid_path(format!("Unknown attribute '{name}'"))),
        Target::ReadOnly(name) if strict => Err(ScimError::mutability(format!("Attribute '{name}' is readOnly"))),
        Target::Unknown(_) | Target::ReadOnly(_) | Target::Ignored => Ok(()),
        Target::Attr { loc: Loc::Core, def, filter, sub } if kind == ResourceKind::Group && def.name == "members" => {
            member_ops.extend(members::member_ops(op, filter.as_ref(), sub, value)?);
            Ok(())
        }
        Target::Attr { loc: Loc::Core, def, filter, sub } => apply_attr(res, op, def, filter.as_ref(), sub, value),
        Target::Attr { loc: Loc::Ext(urn), def, filter, sub } => with_obj(res, &key_ci(res, urn), |ext| apply_attr(ext, op, def, filter.as_ref(), sub, value)),
        Target::Extension { urn, attrs } => apply_extension(res, op, urn, attrs, value),
        Target::UnknownExt { key } => apply_unknown_ext(res, op, &key, value),
        Target::UnknownAttr { key, name, sub } => with_obj(res, &key, |ext| {
            let name = key_ci(ext, &name);
            match sub {
                None => {
                    set_verbatim(ext, op, &name, value);
                    Ok(())
                }
                Some(sub) => with_obj(ext, &name, |o| {
                    let sub = key_ci(o, &sub);
                    set_verbatim(o, op, &sub, value);
                    Ok(())
                }),
            }
        }),
    }
}

/// A registered attribute, whole or narrowed by a filter / sub-attribute.
pub(super) fn apply_attr(
    c: &mut Map<String, Value>,
    op: OpKind,
    def: &'static AttrDef,
    filter: Option<&Filter>,
    sub: Option<&'static AttrDef>,
    value: &Value,
) -> Result<(), ScimError> {
    match (filter, sub) {
        (Some(f), sub) => apply_filtered(c, op, def, f, sub, value),
        (None, Some(sd)) if def.multi => apply_every_element(c, op, def, sd, value),
        (None, Some(sd)) => {
            let new = if op == OpKind::Remove { None } else { normalize_attr_value(sd, value)? };
            if op == OpKind::Add && new.is_none() {
                return Ok(());
            }
            with_obj(c, def.name, |o| {
                match new {
                    Some(v) => o.insert(sd.name.to_string(), v),
                    None => o.shift_remove(sd.name),
                };
                Ok(())
            })
        }
        (None, None) => apply_whole(c, op, def, value),
    }
}

/// RFC 7644 §3.5.2.1 (add: set, merge sub-attributes, append values),
/// §3.5.2.2 (remove), §3.5.2.3 (replace: set, merge sub-attributes,
/// replace the whole list).
fn apply_whole(c: &mut Map<String, Value>, op: OpKind, def: &'static AttrDef, value: &Value) -> Result<(), ScimError> {
    if op == OpKind::Remove {
        // With a value (even `[]`, which removes nothing) only the listed elements go.
        if def.multi && !value.is_null() {
            return remove_values(c, def, value);
        }
        c.shift_remove(def.name);
        return Ok(());
    }
    let Some(new) = normalize_attr_value(def, value)? else {
        if op == OpKind::Replace {
            c.shift_remove(def.name);
        }
        return Ok(());
    };
    match (c.get_mut(def.name), new) {
        (Some(Value::Array(old)), Value::Array(mut new)) if op == OpKind::Add => {
            retain_unseen(old, &mut new);
            let touched = new.iter().position(is_primary).map(|i| old.len() + i);
            old.extend(new);
            fix_primary(old, touched);
        }
        // `manager` is one reference: a new one replaces it with its displayName.
        (Some(Value::Object(old)), Value::Object(new)) if def.ty == AttrType::Complex && !def.multi && !is_manager(def) => {
            old.extend(new);
        }
        (_, new) => {
            c.insert(def.name.to_string(), new);
        }
    }
    Ok(())
}

/// `remove` with a path naming a multi-valued attribute and a `value` array
/// removes every element whose `value` equals a listed one (docs/IDP-QUIRKS.md
/// § Required server behaviour 6).
fn remove_values(c: &mut Map<String, Value>, def: &'static AttrDef, value: &Value) -> Result<(), ScimError> {
    let Some(Value::Array(targets)) = normalize_attr_value(def, value)? else { return Ok(()) };
    let exact = schema::find(def.sub, "value").is_some_and(|d| d.case_exact);
    // Elements match a target by `value` (case-insensitively unless caseExact),
    // or as a whole when the target has no `value`. Sets, not a scan of the
    // targets per element: both lists can be long.
    let fold = |v: &Value| match v {
        Value::String(s) if !exact => Value::String(s.to_lowercase()),
        other => other.clone(),
    };
    let target_values: Vec<Value> = targets.iter().filter_map(|t| t.get("value")).map(fold).collect();
    let by_value: HashSet<ValueKey<'_>> = target_values.iter().map(ValueKey).collect();
    let whole: HashSet<ValueKey<'_>> = targets.iter().filter(|t| t.get("value").is_none()).map(ValueKey).collect();
    let hit = |el: &Value| el.get("value").is_some_and(|v| by_value.contains(&ValueKey(&fold(v)))) || whole.contains(&ValueKey(el));
    if let Some(Value::Array(list)) = c.get_mut(def.name) {
        list.retain(|el| !hit(el));
        if list.is_empty() {
            c.shift_remove(def.name);
        }
    }
    Ok(())
}

/// `emails.value` without a filter addresses that sub-attribute of every
/// element; with no elements, add/replace create one.
fn apply_every_element(c: &mut Map<String, Value>, op: OpKind, def: &'static AttrDef, sd: &'static AttrDef, value: &Value) -> Result<(), ScimError> {
    let new = if op == OpKind::Remove { None } else { normalize_attr_value(sd, value)? };
    if op == OpKind::Add && new.is_none() {
        return Ok(());
    }
    let mut list = match c.get(def.name) {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    if list.is_empty() {
        list.push(Value::Object(Map::new()));
    }
    for el in list.iter_mut().filter_map(Value::as_object_mut) {
        match &new {
            Some(v) => el.insert(sd.name.to_string(), v.clone()),
            None => el.shift_remove(sd.name),
        };
    }
    store_list(c, def, list, None);
    Ok(())
}

/// Value-filter paths (`emails[type eq "work"]`, `…].value`), RFC 7644
/// §3.5.2: every matching element is changed; add/replace with no match
/// create the element when the filter is a conjunction of `eq` (Entra),
/// otherwise answer `noTarget`; remove with no match changes nothing.
fn apply_filtered(
    c: &mut Map<String, Value>,
    op: OpKind,
    def: &'static AttrDef,
    filter: &Filter,
    sub: Option<&'static AttrDef>,
    value: &Value,
) -> Result<(), ScimError> {
    let mut list = match c.get(def.name) {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let case_exact = |p: &_| sub_case_exact(def, p);
    let hits: Vec<bool> = list.iter().map(|el| matches(filter, el, &case_exact)).collect();
    // The new content: one sub-attribute, or a whole element.
    let new: Option<Map<String, Value>> = match (op, sub) {
        (OpKind::Remove, _) => None,
        (_, Some(sd)) => normalize_attr_value(sd, value)?.map(|v| Map::from_iter([(sd.name.to_string(), v)])),
        (_, None) => single_element(def, value)?,
    };
    let Some(new) = new else {
        if op == OpKind::Add {
            return Ok(());
        }
        // remove, or replace with null: unassign the sub-attribute or drop the elements.
        let mut flags = hits.iter();
        list.retain_mut(|el| match (flags.next(), sub, el.as_object_mut()) {
            (Some(true), Some(sd), Some(o)) => {
                o.shift_remove(sd.name);
                !o.is_empty()
            }
            (Some(true), _, _) => false,
            _ => true,
        });
        store_list(c, def, list, None);
        return Ok(());
    };
    let mut touched = None;
    if !hits.contains(&true) {
        let Some(mut el) = eq_element(def, filter) else {
            return Err(ScimError::no_target(format!("No value of '{}' matches the filter", def.name)));
        };
        el.extend(new.clone());
        touched = Some(list.len());
        list.push(Value::Object(el));
    }
    for (i, el) in list.iter_mut().enumerate() {
        if !hits.get(i).copied().unwrap_or(false) {
            continue;
        }
        if let Value::Object(o) = el {
            if op == OpKind::Replace && sub.is_none() {
                // The filter's own `eq` attributes (e.g. `type`) stay unless the value overrides them.
                *o = eq_element(def, filter).unwrap_or_default();
            }
            o.extend(new.clone());
        }
        if touched.is_none() && is_primary(el) {
            touched = Some(i);
        }
    }
    store_list(c, def, list, touched);
    Ok(())
}

/// A filtered add/replace without sub-attribute takes one element.
fn single_element(def: &AttrDef, value: &Value) -> Result<Option<Map<String, Value>>, ScimError> {
    match normalize_attr_value(def, value)? {
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::Object(o)] => Ok(Some(o.clone())),
            [] => Ok(None),
            _ => Err(ScimError::invalid_value(format!("A value-filter path on '{}' takes one value", def.name))),
        },
        _ => Ok(None),
    }
}

/// Writes a list back (normalising elements; empty → unassigned), keeping
/// `primary: true` on `touched` when it has it (RFC 7643 §2.4).
fn store_list(c: &mut Map<String, Value>, def: &'static AttrDef, mut list: Vec<Value>, touched: Option<usize>) {
    fix_primary(&mut list, touched);
    list.retain(|el| !is_unassigned(el));
    if list.is_empty() {
        c.shift_remove(def.name);
    } else {
        c.insert(def.name.to_string(), Value::Array(list));
    }
}

fn is_primary(el: &Value) -> bool {
    el.get("primary").and_then(Value::as_bool) == Some(true)
}
