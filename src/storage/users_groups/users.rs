//! Users: their rows, the `user_emails` index that serves email filters,
//! and the directory's user count.

use super::{adjust_count, count, groups_of, guard, guard_version, ids_json, user_of, users_of, Read, GROUP_COLUMNS, USER_COLUMNS};
use crate::directory::{GroupRecord, UserRecord};
use crate::scim::schema::ResourceKind;
use crate::storage::{Batch, SqlValue, Stmt};
use serde_json::Value;

/// The user `id` of the directory.
pub fn read(b: &mut Batch, directory_id: &str, id: &str) -> Read<Option<UserRecord>> {
    let s = Stmt::new(format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1 AND u.directory_id = ?2"), vec![id.into(), directory_id.into()]);
    Read::push(b, s, user_of)
}

/// The groups a user belongs to, as full records (for events and `groups`).
pub fn read_groups(b: &mut Batch, user_id: &str) -> Read<Vec<GroupRecord>> {
    let s = Stmt::new(
        format!("SELECT {GROUP_COLUMNS} FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ?1 ORDER BY g.id"),
        vec![user_id.into()],
    );
    Read::push(b, s, groups_of)
}

/// Users of this directory among `ids`, in id order.
pub fn read_among(b: &mut Batch, directory_id: &str, ids: &[String]) -> Read<Vec<UserRecord>> {
    let s = Stmt::new(
        format!("SELECT {USER_COLUMNS} FROM users u WHERE u.directory_id = ?1 AND u.id IN (SELECT value FROM json_each(?2)) ORDER BY u.id"),
        vec![directory_id.into(), ids_json(ids).into()],
    );
    Read::push(b, s, users_of)
}

/// The columns a write sets from the resource (the indexed attributes, the
/// resource itself) and the version, in the order the statements bind them.
fn attributes(u: &UserRecord) -> [SqlValue; 6] {
    [
        u.user_name().into(),
        u.external_id().into(),
        u.display_name().into(),
        u.active().into(),
        Value::Object(u.resource.clone()).to_string().into(),
        u.version.into(),
    ]
}

/// Creates the user: its row, its emails indexed, the directory's count.
pub fn create(u: &UserRecord) -> Vec<Stmt> {
    let mut params = vec![u.id.as_str().into(), u.directory_id.as_str().into()];
    params.extend(attributes(u));
    params.extend([u.created_at.as_str().into(), u.updated_at.as_str().into()]);
    let insert = Stmt::new(
        "INSERT INTO users (id, directory_id, user_name, external_id, display_name, active, resource, version, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params,
    );
    vec![insert, index_emails(&u.id), adjust_count(&u.directory_id, ResourceKind::User, 1)]
}

/// Replaces `old` (as read: aborts if it changed since) with `new`; the
/// email index is rebuilt only when the emails changed.
pub fn update(old: &UserRecord, new: &UserRecord) -> Vec<Stmt> {
    let mut params = vec![new.id.as_str().into()];
    params.extend(attributes(new));
    params.push(new.updated_at.as_str().into());
    let update = Stmt::new(
        "UPDATE users SET user_name = ?2, external_id = ?3, display_name = ?4, active = ?5, resource = ?6, version = ?7, updated_at = ?8 WHERE id = ?1",
        params,
    );
    let mut out = vec![guard_version(ResourceKind::User, &old.id, old.version), update];
    if old.resource.get("emails") != new.resource.get("emails") {
        out.extend([unindex_emails(&new.id), index_emails(&new.id)]);
    }
    out
}

/// Deletes `old` with its memberships (pending removals included). Aborts
/// unless the user, each of `groups` (a membership change bumps a group's
/// version) and its count of memberships (`memberships`, pending ones
/// included) are still as read. The groups it leaves get a new version.
pub fn delete(old: &UserRecord, groups: &[GroupRecord], memberships: usize, now: &str) -> Vec<Stmt> {
    let id = old.id.as_str();
    let mut out = vec![guard_version(ResourceKind::User, id, old.version)];
    out.extend(groups.iter().map(|g| guard_version(ResourceKind::Group, &g.id, g.version)));
    out.push(guard::unless("memberships", "(SELECT count(*) FROM memberships WHERE user_id = ?1) = ?2", vec![id.into(), count(memberships)]));
    out.extend([
        Stmt::new(
            "UPDATE groups SET version = version + 1, updated_at = ?2 WHERE id IN (SELECT group_id FROM memberships WHERE user_id = ?1) \
             OR id IN (SELECT r.group_id FROM memberships m JOIN group_removals r ON r.id = m.group_id WHERE m.user_id = ?1)",
            vec![id.into(), now.into()],
        ),
        Stmt::new("DELETE FROM memberships WHERE user_id = ?1", vec![id.into()]),
        unindex_emails(id),
        Stmt::new("DELETE FROM users WHERE id = ?1", vec![id.into()]),
        adjust_count(&old.directory_id, ResourceKind::User, -1),
    ]);
    out
}

/// Mirrors the user's `emails[].value` into `user_emails` (after its row is written).
pub(super) fn index_emails(user_id: &str) -> Stmt {
    Stmt::new(
        "INSERT OR IGNORE INTO user_emails (user_id, directory_id, value) \
         SELECT u.id, u.directory_id, json_extract(e.value, '$.value') FROM users u, json_each(u.resource, '$.emails') e \
         WHERE u.id = ?1 AND json_type(e.value, '$.value') = 'text'",
        vec![user_id.into()],
    )
}

/// Forgets the user's emails (before re-indexing or deleting it).
fn unindex_emails(user_id: &str) -> Stmt {
    Stmt::new("DELETE FROM user_emails WHERE user_id = ?1", vec![user_id.into()])
}
