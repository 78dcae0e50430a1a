//! Users and groups as rows: the stored SCIM resource plus bookkeeping.

use crate::storage::{Row, RowExt};
use serde_json::{Map, Value};

/// A stored user: the SCIM resource (canonical names, no id/meta/groups/password).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: String,
    pub directory_id: String,
    pub resource: Map<String, Value>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A stored group: the SCIM resource without members (they are rows of their own).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    pub id: String,
    pub directory_id: String,
    pub resource: Map<String, Value>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// The columns shared by users and groups: id, directory, resource, version, created, updated.
type Parts = (String, String, Map<String, Value>, i64, String, String);

fn parts(row: &Row) -> Option<Parts> {
    let resource = match row.json("resource") {
        Value::Object(m) => m,
        _ => return None,
    };
    Some((
        row.str("id")?.to_string(),
        row.str("directory_id")?.to_string(),
        resource,
        row.int("version").unwrap_or(1),
        row.string("created_at"),
        row.string("updated_at"),
    ))
}

impl UserRecord {
    pub fn from_row(row: &Row) -> Option<Self> {
        let (id, directory_id, resource, version, created_at, updated_at) = parts(row)?;
        Some(UserRecord { id, directory_id, resource, version, created_at, updated_at })
    }
    pub fn user_name(&self) -> &str {
        str_attr(&self.resource, "userName").unwrap_or_default()
    }
    pub fn external_id(&self) -> Option<&str> {
        str_attr(&self.resource, "externalId")
    }
    pub fn display_name(&self) -> Option<&str> {
        str_attr(&self.resource, "displayName")
    }
    /// RFC 7643 §4.1.1 `active`; an unassigned value counts as active.
    pub fn active(&self) -> bool {
        self.resource.get("active").and_then(Value::as_bool).unwrap_or(true)
    }
    /// The name shown for this user as a group member.
    pub fn member_display(&self) -> &str {
        self.display_name().unwrap_or_else(|| self.user_name())
    }
}

impl GroupRecord {
    pub fn from_row(row: &Row) -> Option<Self> {
        let (id, directory_id, resource, version, created_at, updated_at) = parts(row)?;
        Some(GroupRecord { id, directory_id, resource, version, created_at, updated_at })
    }
    pub fn display_name(&self) -> &str {
        str_attr(&self.resource, "displayName").unwrap_or_default()
    }
    pub fn external_id(&self) -> Option<&str> {
        str_attr(&self.resource, "externalId")
    }
}

fn str_attr<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

/// The `W/"n"` weak ETag of a version (RFC 7644 §3.14).
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Whether an `If-Match` header value admits this version (`*` admits any).
pub fn if_match_admits(header: &str, version: i64) -> bool {
    let tag = etag(version);
    header.split(',').map(str::trim).any(|t| t == "*" || t == tag || t.trim_start_matches("W/") == tag.trim_start_matches("W/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_accepts_weak_strong_and_star() {
        assert!(if_match_admits("W/\"3\"", 3));
        assert!(if_match_admits("\"3\"", 3));
        assert!(if_match_admits("*", 9));
        assert!(if_match_admits("W/\"1\", W/\"3\"", 3));
        assert!(!if_match_admits("W/\"2\"", 3));
    }

    #[test]
    fn a_user_without_active_counts_as_active() {
        let row: Row = serde_json::from_value(serde_json::json!({
            "id": "user_1", "directory_id": "d", "resource": "{\"userName\":\"a\"}", "version": 2.0,
            "created_at": "t", "updated_at": "t"
        }))
        .unwrap();
        let u = UserRecord::from_row(&row).unwrap();
        assert!(u.active());
        assert_eq!(u.version, 2);
        assert_eq!(u.member_display(), "a");
    }
}
