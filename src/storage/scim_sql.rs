//! Statements over users, groups and memberships. Every write that depends
//! on what was read carries a guard, so a concurrent change aborts the batch
//! and the use case retries from a fresh read.

use crate::directory::records::{GROUP_COLUMNS, USER_COLUMNS};
use crate::directory::{GroupRecord, UserRecord};
use crate::stmt;
use crate::storage::Stmt;
use serde_json::Value;

fn ids_json(ids: &[String]) -> String {
    Value::from(ids.to_vec()).to_string()
}

pub fn select_user(directory_id: &str, id: &str) -> Stmt {
    stmt!(format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1 AND u.directory_id = ?2"), id, directory_id)
}

/// The groups a user belongs to, as full records (for events and `groups`).
pub fn select_groups_of_user(user_id: &str) -> Stmt {
    stmt!(format!("SELECT {GROUP_COLUMNS} FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ?1 ORDER BY g.id"), user_id)
}

pub fn select_group(directory_id: &str, id: &str) -> Stmt {
    stmt!(format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = ?1 AND g.directory_id = ?2"), id, directory_id)
}

/// The members of a group, as full user records, at most `limit` of them
/// (one more than a use case can handle in one batch tells it the group is
/// larger than that).
pub fn select_members(group_id: &str, limit: usize) -> Stmt {
    stmt!(
        format!("SELECT {USER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = ?1 ORDER BY m.user_id LIMIT ?2"),
        group_id,
        i64::try_from(limit).unwrap_or(i64::MAX)
    )
}

/// The members of a group for its SCIM `members` attribute: their ids.
/// (Members carry no display name, RFC 7643 §8.7.1, so the membership keys
/// are all it reads.)
pub fn select_member_refs(group_id: &str) -> Stmt {
    stmt!("SELECT m.user_id AS id, '' AS display FROM memberships m WHERE m.group_id = ?1 ORDER BY m.user_id", group_id)
}

/// Users of this directory among `ids`.
pub fn select_users_by_ids(directory_id: &str, ids: &[String]) -> Stmt {
    stmt!(
        format!("SELECT {USER_COLUMNS} FROM users u WHERE u.directory_id = ?1 AND u.id IN (SELECT value FROM json_each(?2)) ORDER BY u.id"),
        directory_id,
        ids_json(ids)
    )
}

pub fn insert_user(u: &UserRecord) -> Stmt {
    stmt!(
        "INSERT INTO users (id, directory_id, user_name, external_id, display_name, active, resource, version, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        u.id.as_str(),
        u.directory_id.as_str(),
        u.user_name(),
        u.external_id(),
        u.display_name(),
        u.active(),
        Value::Object(u.resource.clone()).to_string(),
        u.version,
        u.created_at.as_str(),
        u.updated_at.as_str()
    )
}

/// Mirrors the user's `emails[].value` into `user_emails` (after its row is written).
pub fn index_emails(user_id: &str) -> Stmt {
    stmt!(
        "INSERT OR IGNORE INTO user_emails (user_id, directory_id, value) \
         SELECT u.id, u.directory_id, json_extract(e.value, '$.value') FROM users u, json_each(u.resource, '$.emails') e \
         WHERE u.id = ?1 AND json_type(e.value, '$.value') = 'text'",
        user_id
    )
}

/// Forgets the user's emails (before re-indexing or deleting it).
pub fn unindex_emails(user_id: &str) -> Stmt {
    stmt!("DELETE FROM user_emails WHERE user_id = ?1", user_id)
}

pub fn update_user(u: &UserRecord) -> Stmt {
    stmt!(
        "UPDATE users SET user_name = ?2, external_id = ?3, display_name = ?4, active = ?5, resource = ?6, version = ?7, updated_at = ?8 WHERE id = ?1",
        u.id.as_str(),
        u.user_name(),
        u.external_id(),
        u.display_name(),
        u.active(),
        Value::Object(u.resource.clone()).to_string(),
        u.version,
        u.updated_at.as_str()
    )
}

/// Deletes a user with its memberships (pending removals included); the
/// groups it leaves get a new version.
pub fn delete_user(id: &str, now: &str) -> Vec<Stmt> {
    vec![
        stmt!(
            "UPDATE groups SET version = version + 1, updated_at = ?2 WHERE id IN (SELECT group_id FROM memberships WHERE user_id = ?1) \
             OR id IN (SELECT r.group_id FROM memberships m JOIN group_removals r ON r.id = m.group_id WHERE m.user_id = ?1)",
            id,
            now
        ),
        stmt!("DELETE FROM memberships WHERE user_id = ?1", id),
        unindex_emails(id),
        stmt!("DELETE FROM users WHERE id = ?1", id),
    ]
}

pub fn insert_group(g: &GroupRecord) -> Stmt {
    stmt!(
        "INSERT INTO groups (id, directory_id, display_name, external_id, resource, version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        g.id.as_str(),
        g.directory_id.as_str(),
        g.display_name(),
        g.external_id(),
        Value::Object(g.resource.clone()).to_string(),
        g.version,
        g.created_at.as_str(),
        g.updated_at.as_str()
    )
}

pub fn update_group(g: &GroupRecord) -> Stmt {
    stmt!(
        "UPDATE groups SET display_name = ?2, external_id = ?3, resource = ?4, version = ?5, updated_at = ?6 WHERE id = ?1",
        g.id.as_str(),
        g.display_name(),
        g.external_id(),
        Value::Object(g.resource.clone()).to_string(),
        g.version,
        g.updated_at.as_str()
    )
}

pub fn delete_group(id: &str) -> Vec<Stmt> {
    vec![stmt!("DELETE FROM memberships WHERE group_id = ?1", id), stmt!("DELETE FROM groups WHERE id = ?1", id)]
}

/// Adds memberships; the guard before it checks every user still exists.
pub fn add_members(directory_id: &str, group_id: &str, ids: &[String], now: &str) -> Vec<Stmt> {
    if ids.is_empty() {
        return Vec::new();
    }
    let list = ids_json(ids);
    let n = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    vec![
        stmt!(
            "INSERT INTO guard (reason) SELECT 'member gone' WHERE (SELECT count(*) FROM users WHERE directory_id = ?1 AND id IN (SELECT value FROM json_each(?2))) <> ?3",
            directory_id,
            list.clone(),
            n
        ),
        stmt!(
            "INSERT OR IGNORE INTO memberships (group_id, user_id, directory_id, created_at) SELECT ?1, value, ?2, ?3 FROM json_each(?4)",
            group_id,
            directory_id,
            now,
            list
        ),
    ]
}

/// Aborts the batch unless the row still has the version that was read.
pub fn guard_version(table: &str, id: &str, version: i64) -> Stmt {
    let table = if table == "groups" { "groups" } else { "users" };
    stmt!(format!("INSERT INTO guard (reason) SELECT 'version' WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE id = ?1 AND version = ?2)"), id, version)
}

/// Aborts the batch if the directory was deleted meanwhile.
pub fn guard_directory_live(directory_id: &str) -> Stmt {
    stmt!("INSERT INTO guard (reason) SELECT 'directory' WHERE NOT EXISTS (SELECT 1 FROM directories WHERE id = ?1 AND state = 'linked')", directory_id)
}

/// Keeps `directories.user_count` / `group_count` in step with inserts and deletes.
pub fn adjust_count(directory_id: &str, kind: crate::scim::schema::ResourceKind, delta: i64) -> Stmt {
    let col = match kind {
        crate::scim::schema::ResourceKind::User => "user_count",
        crate::scim::schema::ResourceKind::Group => "group_count",
    };
    stmt!(format!("UPDATE directories SET {col} = {col} + ?2 WHERE id = ?1"), directory_id, delta)
}
