//! Stored records as SCIM resources (RFC 7643 §3.1 `id` and `meta`,
//! §4.1.2 `groups`, §4.2 `members`).

use crate::directory::records::etag;
use crate::directory::{GroupRecord, UserRecord};
use crate::scim::schema::ResourceKind;
use serde_json::{json, Map, Value};

/// A member or group reference: id and display name (as storage reads it).
pub use crate::storage::users_groups::Ref;

fn resource(kind: ResourceKind, id: &str, stored: &Map<String, Value>, base: &str, created: &str, modified: &str, version: i64) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("schemas".into(), stored.get("schemas").cloned().unwrap_or_else(|| json!([kind.core_schema()])));
    out.insert("id".into(), Value::from(id));
    for (k, v) in stored.iter().filter(|(k, _)| k.as_str() != "schemas") {
        out.insert(k.clone(), v.clone());
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": kind.name(),
            "created": created,
            "lastModified": modified,
            "location": format!("{base}/{}/{id}", kind.endpoint()),
            "version": etag(version),
        }),
    );
    out
}

/// A User with its `groups` (read-only, from memberships).
pub fn user(u: &UserRecord, groups: &[Ref], base: &str) -> Value {
    let mut out = resource(ResourceKind::User, &u.id, &u.resource, base, &u.created_at, &u.updated_at, u.version);
    if !groups.is_empty() {
        let meta = out.remove("meta");
        let list: Vec<Value> =
            groups.iter().map(|g| json!({ "value": g.id, "$ref": format!("{base}/Groups/{}", g.id), "display": g.display, "type": "direct" })).collect();
        out.insert("groups".into(), Value::Array(list));
        if let Some(m) = meta {
            out.insert("meta".into(), m);
        }
    }
    Value::Object(out)
}

/// A Group; `members` None leaves the attribute out (not loaded).
pub fn group(g: &GroupRecord, members: Option<&[Ref]>, base: &str) -> Value {
    let mut out = resource(ResourceKind::Group, &g.id, &g.resource, base, &g.created_at, &g.updated_at, g.version);
    if let Some(members) = members.filter(|m| !m.is_empty()) {
        let meta = out.remove("meta");
        let list: Vec<Value> = members
            .iter()
            // RFC 7643 §8.7.1: a member is value, $ref and type.
            .map(|m| json!({ "value": m.id, "$ref": format!("{base}/Users/{}", m.id), "type": "User" }))
            .collect();
        out.insert("members".into(), Value::Array(list));
        if let Some(m) = meta {
            out.insert("meta".into(), m);
        }
    }
    Value::Object(out)
}
