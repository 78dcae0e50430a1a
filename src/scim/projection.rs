//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which
//! attributes of an output resource are returned.

use serde_json::{Map, Value};

use super::filter::AttrPath;
use super::schema::{self, ResourceKind};

/// `schemas` and `id` are returned whatever is asked (RFC 7643 §3.1, §7
/// `returned: always`).
const ALWAYS: [&str; 2] = ["schemas", "id"];

/// Projects a full output resource (`schemas`, `id`, `externalId`, `meta`,
/// core attributes, extension objects, `members`/`groups`).
///
/// - `attributes` non-empty: only the listed attributes plus `schemas` and
///   `id`. `name.givenName` keeps just that sub-attribute (in every element
///   for a multi-valued attribute, `emails.value`); a URN-qualified path
///   selects inside its extension object; a bare extension URN keeps the
///   whole object.
/// - otherwise `excluded`: drops those (never `schemas`/`id`), e.g. Entra's
///   `excludedAttributes=members` (docs/IDP-QUIRKS.md § Required server behaviour 11).
///
/// `attributes` wins when both are given (RFC 7644 §3.4.2.5 makes them
/// mutually exclusive). Names match case-insensitively (RFC 7643 §2.1); an
/// extension object, complex value or list left empty is removed; unknown
/// names select nothing.
pub fn project(kind: ResourceKind, resource: &Value, attributes: &[AttrPath], excluded: &[AttrPath]) -> Value {
    let Value::Object(obj) = resource else { return resource.clone() };
    let (paths, keep) = match (attributes.is_empty(), excluded.is_empty()) {
        (false, _) => (attributes, true),
        (true, false) => (excluded, false),
        (true, true) => return resource.clone(),
    };
    let sels: Vec<Sel> = paths.iter().filter_map(|p| selector(kind, obj, p)).collect();
    let mut out = Map::new();
    for (key, value) in obj {
        if ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(key)) {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let whole = sels.iter().any(|s| matches!(s, Sel::WholeExt(k) if k == key));
        let inner: Vec<(&str, Option<&str>)> = sels
            .iter()
            .filter_map(|s| match s {
                Sel::Ext { key: k, name, sub } if k == key => Some((name.as_str(), sub.as_deref())),
                _ => None,
            })
            .collect();
        let projected = if whole {
            keep.then(|| value.clone())
        } else if !inner.is_empty() {
            match value {
                Value::Object(ext) => non_empty_obj(filter_attrs(ext, &inner, keep)),
                _ => (!keep).then(|| value.clone()),
            }
        } else {
            let top = sels.iter().filter_map(|s| match s {
                Sel::Top { name, sub } if name.eq_ignore_ascii_case(key) => Some(sub.as_deref()),
                _ => None,
            });
            attr_projection(value, top.collect(), keep)
        };
        if let Some(v) = projected {
            out.insert(key.clone(), v);
        }
    }
    Value::Object(out)
}

/// One `attributes` entry resolved against the resource's actual keys.
enum Sel {
    /// A core or common attribute (`userName`, `name.givenName`).
    Top { name: String, sub: Option<String> },
    /// An attribute inside the extension object stored at `key`.
    Ext { key: String, name: String, sub: Option<String> },
    /// The extension object stored at this key, as a whole.
    WholeExt(String),
}

fn selector(kind: ResourceKind, obj: &Map<String, Value>, p: &AttrPath) -> Option<Sel> {
    let key_of = |k: &str| obj.keys().find(|key| key.eq_ignore_ascii_case(k)).cloned();
    let uri = match p.uri.as_deref() {
        Some(u) if !u.eq_ignore_ascii_case(kind.core_schema()) => u,
        _ => {
            // An unqualified extension attribute name (e.g. `manager`) that no core
            // attribute has selects inside its extension, as PATCH paths do.
            let is_core = schema::find_top(kind, None, &p.name).is_some();
            let ext = kind.extensions().iter().find(|(_, attrs)| schema::find(attrs, &p.name).is_some());
            if let (false, Some(key)) = (is_core, ext.and_then(|(urn, _)| key_of(urn))) {
                return Some(Sel::Ext { key, name: p.name.clone(), sub: p.sub_attr.clone() });
            }
            return Some(Sel::Top { name: p.name.clone(), sub: p.sub_attr.clone() });
        }
    };
    // The parser splits `urn:…:enterprise:2.0:User` into uri `…:2.0` and name `User`.
    if let Some(key) = p.full_urn_candidate().and_then(|full| key_of(&full)) {
        return Some(Sel::WholeExt(key));
    }
    key_of(uri).map(|key| Sel::Ext { key, name: p.name.clone(), sub: p.sub_attr.clone() })
}

/// Projects the attributes of one object (an extension) by `(name, sub)` pairs.
fn filter_attrs(obj: &Map<String, Value>, sels: &[(&str, Option<&str>)], keep: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in obj {
        let subs: Vec<Option<&str>> = sels.iter().filter(|(n, _)| n.eq_ignore_ascii_case(key)).map(|(_, s)| *s).collect();
        if let Some(v) = attr_projection(value, subs, keep) {
            out.insert(key.clone(), v);
        }
    }
    out
}

/// One attribute under the selections naming it (`None` = the whole
/// attribute, `Some(sub)` = a sub-attribute). `keep` is `attributes` mode.
fn attr_projection(value: &Value, sels: Vec<Option<&str>>, keep: bool) -> Option<Value> {
    let whole = sels.iter().any(Option::is_none);
    let subs: Vec<&str> = sels.into_iter().flatten().collect();
    match (keep, whole, subs.is_empty()) {
        (true, true, _) => Some(value.clone()),
        (true, false, true) => None,
        (false, true, _) => None,
        (false, false, true) => Some(value.clone()),
        (_, false, false) => {
            let pick = |o: &Map<String, Value>| -> Option<Value> {
                let m: Map<String, Value> =
                    o.iter().filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)) == keep).map(|(k, v)| (k.clone(), v.clone())).collect();
                non_empty_obj(m)
            };
            match value {
                Value::Object(o) => pick(o),
                Value::Array(items) => {
                    let kept: Vec<Value> = items
                        .iter()
                        .filter_map(|el| match el {
                            Value::Object(o) => pick(o),
                            other => (!keep).then(|| other.clone()),
                        })
                        .collect();
                    (!kept.is_empty()).then_some(Value::Array(kept))
                }
                // A sub-attribute of a simple value: nothing to keep, nothing to drop.
                other => (!keep).then(|| other.clone()),
            }
        }
    }
}

fn non_empty_obj(m: Map<String, Value>) -> Option<Value> {
    (!m.is_empty()).then_some(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_attr_list;
    use crate::scim::schema::{ENTERPRISE_SCHEMA as ENT, GROUP_SCHEMA, USER_SCHEMA};
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENT], "id": "user_1", "externalId": "e1", "userName": "ann",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "a@x", "type": "work", "primary": true}, {"type": "home"}],
            "active": true, ENT: {"department": "R&D", "manager": {"value": "m1", "displayName": "M"}},
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        })
    }

    fn attrs(list: &str) -> Vec<AttrPath> {
        parse_attr_list(list).unwrap()
    }

    fn with(list: &str) -> Value {
        project(ResourceKind::User, &user(), &attrs(list), &[])
    }

    fn without(list: &str) -> Value {
        project(ResourceKind::User, &user(), &[], &attrs(list))
    }

    #[test]
    fn excluded_members_drops_only_members_from_a_group() {
        let g = json!({"schemas": [GROUP_SCHEMA], "id": "group_1", "displayName": "Eng", "members": [{"value": "u1"}], "meta": {}});
        let out = project(ResourceKind::Group, &g, &[], &attrs("members"));
        assert_eq!(out, json!({"schemas": [GROUP_SCHEMA], "id": "group_1", "displayName": "Eng", "meta": {}}));
    }

    #[test]
    fn attributes_keep_the_listed_ones_plus_schemas_and_id() {
        assert_eq!(
            with("userName,name.givenName"),
            json!({
                "schemas": [USER_SCHEMA, ENT], "id": "user_1", "userName": "ann", "name": {"givenName": "Ann"}
            })
        );
        assert_eq!(with("USERNAME, Name.GIVENNAME")["name"], json!({"givenName": "Ann"}));
    }

    #[test]
    fn urn_qualified_attributes_select_inside_the_extension() {
        assert_eq!(
            with(&format!("{ENT}:department")),
            json!({
                "schemas": [USER_SCHEMA, ENT], "id": "user_1", ENT: {"department": "R&D"}
            })
        );
        assert_eq!(with(&format!("{ENT}:manager.value"))[ENT], json!({"manager": {"value": "m1"}}));
        assert_eq!(with(ENT)[ENT], user()[ENT]);
        assert_eq!(with(&format!("{USER_SCHEMA}:userName"))["userName"], json!("ann"));
        assert!(with(&format!("{ENT}:costCenter")).get(ENT).is_none(), "an extension left empty is removed");
    }

    #[test]
    fn a_sub_attribute_of_a_multi_valued_attribute_is_kept_in_each_element() {
        assert_eq!(with("emails.value")["emails"], json!([{"value": "a@x"}]));
    }

    #[test]
    fn excluded_attributes_drop_attributes_sub_attributes_and_extension_parts() {
        let out = without(&format!("name.familyName,emails,{ENT}:manager,id,schemas"));
        assert_eq!(out["name"], json!({"givenName": "Ann"}));
        assert!(out.get("emails").is_none());
        assert_eq!(out[ENT], json!({"department": "R&D"}));
        assert_eq!(out["id"], json!("user_1"));
        assert_eq!(out["schemas"], user()["schemas"]);
        assert!(without(ENT).get(ENT).is_none());
        assert!(without(&format!("{ENT}:department,{ENT}:manager")).get(ENT).is_none());
        assert_eq!(without("emails.type")["emails"], json!([{"value": "a@x", "primary": true}]));
    }

    #[test]
    fn attributes_win_over_excluded_and_no_lists_return_everything() {
        let out = project(ResourceKind::User, &user(), &attrs("userName"), &attrs("userName"));
        assert_eq!(out["userName"], json!("ann"));
        assert_eq!(project(ResourceKind::User, &user(), &[], &[]), user());
        assert_eq!(with("nonexistent"), json!({"schemas": [USER_SCHEMA, ENT], "id": "user_1"}));
    }

    #[test]
    fn an_unqualified_extension_attribute_name_selects_inside_the_extension() {
        assert_eq!(with("department")[ENT], json!({"department": "R&D"}));
    }
}
