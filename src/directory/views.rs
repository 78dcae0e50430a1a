//! What the application sees: `directory_user`, `directory_group`,
//! `directory`, `organization` objects (docs/PRODUCT.md § The application's view), built from records.

use super::records::{GroupRecord, UserRecord};
use crate::scim::schema::ENTERPRISE_SCHEMA;
use crate::storage::directories::DirectoryRecord;
use crate::storage::organizations::OrganizationRecord;
use serde_json::{json, Map, Value};

/// A group as it appears in a user's `groups[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// The enterprise-extension and core fields exposed as `custom_attributes`
/// under plain names, as WorkOS does.
const CUSTOM: &[(&str, &str)] = &[
    ("employeeNumber", "employee_number"),
    ("costCenter", "cost_center"),
    ("organization", "organization"),
    ("division", "division"),
    ("department", "department"),
];

/// `directory_user`. `groups` is None where the caller did not load them
/// (membership events carry the user without its groups).
pub fn user_view(u: &UserRecord, organization_id: &str, groups: Option<&[GroupRef]>) -> Value {
    let r = &u.resource;
    let name = r.get("name");
    let emails: Vec<Value> = r
        .get("emails")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|e| e.get("value").is_some())
                .map(|e| {
                    json!({
                        "primary": e.get("primary").and_then(Value::as_bool).unwrap_or(false),
                        "type": e.get("type").cloned().unwrap_or(Value::Null),
                        "value": e.get("value").cloned().unwrap_or(Value::Null),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut view = json!({
        "object": "directory_user",
        "id": u.id,
        "directory_id": u.directory_id,
        "organization_id": organization_id,
        "idp_id": u.external_id(),
        "username": u.user_name(),
        "email": primary_email(r),
        "first_name": name.and_then(|n| n.get("givenName")).cloned().unwrap_or(Value::Null),
        "last_name": name.and_then(|n| n.get("familyName")).cloned().unwrap_or(Value::Null),
        "display_name": u.display_name(),
        "state": if u.active() { "active" } else { "inactive" },
        "emails": emails,
        "custom_attributes": custom_attributes(r),
        "raw_attributes": Value::Object(r.clone()),
        "version": u.version,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
    });
    if let (Some(groups), Some(obj)) = (groups, view.as_object_mut()) {
        let list: Vec<Value> = groups.iter().map(|g| json!({ "id": g.id, "name": g.name })).collect();
        obj.insert("groups".into(), Value::Array(list));
    }
    view
}

/// The primary email, else the first work email, else the first one.
fn primary_email(r: &Map<String, Value>) -> Value {
    let emails = match r.get("emails").and_then(Value::as_array) {
        Some(a) => a,
        None => return Value::Null,
    };
    let pick = emails
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| emails.iter().find(|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work"))))
        .or_else(|| emails.first());
    pick.and_then(|e| e.get("value")).cloned().unwrap_or(Value::Null)
}

fn custom_attributes(r: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    if let Some(ext) = r.get(ENTERPRISE_SCHEMA).and_then(Value::as_object) {
        for (scim, plain) in CUSTOM {
            if let Some(v) = ext.get(*scim) {
                out.insert((*plain).into(), v.clone());
            }
        }
        if let Some(m) = ext.get("manager") {
            if let Some(v) = m.get("value") {
                out.insert("manager_id".into(), v.clone());
            }
            if let Some(v) = m.get("displayName") {
                out.insert("manager_name".into(), v.clone());
            }
        }
    }
    if let Some(t) = r.get("title") {
        out.insert("job_title".into(), t.clone());
    }
    Value::Object(out)
}

/// `directory_group`.
pub fn group_view(g: &GroupRecord, organization_id: &str) -> Value {
    json!({
        "object": "directory_group",
        "id": g.id,
        "directory_id": g.directory_id,
        "organization_id": organization_id,
        "idp_id": g.external_id(),
        "name": g.display_name(),
        "raw_attributes": Value::Object(g.resource.clone()),
        "created_at": g.created_at,
        "updated_at": g.updated_at,
    })
}

/// WorkOS's directory `type` for a provider (the SCIM ones of its
/// `DirectoryType`).
pub fn workos_type(provider: &str) -> &'static str {
    match provider {
        "okta" => "okta scim v2.0",
        "entra_id" => "azure scim v2.0",
        "cyberark" => "cyberark scim v2.0",
        "pingfederate" => "pingfederate scim v2.0",
        "onelogin" => "onelogin scim v2.0",
        "jumpcloud" => "jump cloud scim v2.0",
        "rippling" => "rippling scim v2.0",
        _ => "generic scim v2.0",
    }
}

/// WorkOS's directory `state` for Rollcall's: `pending` (no SCIM request
/// has come yet) is `unlinked`; `linked` and `deleting` are themselves.
pub fn workos_state(state: &str) -> &'static str {
    match state {
        "linked" => "linked",
        "deleting" => "deleting",
        _ => "unlinked",
    }
}

/// `directory`, as WorkOS shapes it (`type` and `state` in its words,
/// `external_key` the id that names the directory in its SCIM base URL, no
/// `domain`), with Rollcall's `provider`.
pub fn directory_view(d: &DirectoryRecord) -> Value {
    json!({
        "object": "directory",
        "id": d.id,
        "organization_id": d.organization_id,
        "external_key": d.id,
        "name": d.name,
        "domain": null,
        "domains": [],
        "provider": d.provider,
        "type": workos_type(&d.provider),
        "state": workos_state(&d.state),
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    })
}

/// `organization`, with `domains`, the list of its whitelabel hostnames.
pub fn organization_view(o: &OrganizationRecord) -> Value {
    json!({
        "object": "organization",
        "id": o.id,
        "name": o.name,
        "external_id": o.external_id,
        "domains": o.domains,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    })
}

/// What changed between two views, as the old values (`previous_attributes`
/// of `.updated` events). `raw_attributes` is diffed one level deeper so the
/// application sees which SCIM attributes changed. Bookkeeping fields
/// (`updated_at`, `version`) are not changes of their own.
pub fn previous_attributes(before: &Value, after: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return out;
    };
    for (k, old) in b {
        if matches!(k.as_str(), "updated_at" | "version" | "groups") {
            continue;
        }
        let new = a.get(k).unwrap_or(&Value::Null);
        if old == new {
            continue;
        }
        if k == "raw_attributes" || k == "custom_attributes" {
            out.insert(k.clone(), Value::Object(shallow_diff(old, new)));
        } else {
            out.insert(k.clone(), old.clone());
        }
    }
    for (k, _) in a.iter().filter(|(k, _)| !b.contains_key(*k)) {
        out.insert(k.clone(), Value::Null);
    }
    out
}

fn shallow_diff(old: &Value, new: &Value) -> Map<String, Value> {
    let empty = Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    for (k, v) in o {
        if n.get(k) != Some(v) {
            out.insert(k.clone(), v.clone());
        }
    }
    for k in n.keys().filter(|k| !o.contains_key(*k)) {
        out.insert(k.clone(), Value::Null);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(resource: Value) -> UserRecord {
        UserRecord {
            id: "user_1".into(),
            directory_id: "directory_1".into(),
            resource: resource.as_object().unwrap().clone(),
            version: 1,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn user_view_maps_scim_names_to_plain_ones() {
        let u = user(json!({
            "userName": "bjensen@example.com", "externalId": "ext-1", "active": false,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "home@x.io", "type": "home"}, {"value": "b@x.io", "type": "work", "primary": true}],
            "title": "Boss",
            ENTERPRISE_SCHEMA: {"department": "Sales", "employeeNumber": "42", "manager": {"value": "user_9"}}
        }));
        let groups = [GroupRef { id: "group_1".into(), name: "Admins".into() }];
        let v = user_view(&u, "org_1", Some(&groups));
        assert_eq!(v["username"], "bjensen@example.com");
        assert_eq!(v["idp_id"], "ext-1");
        assert_eq!(v["email"], "b@x.io");
        assert_eq!(v["first_name"], "Barbara");
        assert_eq!(v["state"], "inactive");
        assert_eq!(v["custom_attributes"]["department"], "Sales");
        assert_eq!(v["custom_attributes"]["employee_number"], "42");
        assert_eq!(v["custom_attributes"]["manager_id"], "user_9");
        assert_eq!(v["custom_attributes"]["job_title"], "Boss");
        assert_eq!(v["groups"][0]["name"], "Admins");
        assert!(user_view(&u, "org_1", None).get("groups").is_none());
    }

    #[test]
    fn previous_attributes_hold_old_values_of_what_changed() {
        let before = user_view(&user(json!({"userName": "a", "active": true, "title": "X"})), "o", None);
        let after = user_view(&user(json!({"userName": "a", "active": false, "title": "X"})), "o", None);
        let prev = previous_attributes(&before, &after);
        assert_eq!(prev["state"], "active");
        assert_eq!(prev["raw_attributes"], json!({"active": true}));
        assert!(prev.get("username").is_none());
        assert!(prev.get("updated_at").is_none());
    }
}
