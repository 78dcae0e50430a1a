//! Groups: their rows and the directory's group count. Their members are
//! in [`super::memberships`]; a large group's delete in [`super::removals`].

use super::{adjust_count, group_of, guard_version, memberships, Read, GROUP_COLUMNS};
use crate::directory::GroupRecord;
use crate::scim::schema::ResourceKind;
use crate::storage::{Batch, SqlValue, Stmt};
use serde_json::Value;

/// The group `id` of the directory.
pub fn read(b: &mut Batch, directory_id: &str, id: &str) -> Read<Option<GroupRecord>> {
    let s = Stmt::new(format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = ?1 AND g.directory_id = ?2"), vec![id.into(), directory_id.into()]);
    Read::push(b, s, group_of)
}

/// The columns a write sets from the resource (the indexed attributes, the
/// resource itself) and the version, in the order the statements bind them.
fn attributes(g: &GroupRecord) -> [SqlValue; 4] {
    [g.display_name().into(), g.external_id().into(), Value::Object(g.resource.clone()).to_string().into(), g.version.into()]
}

/// Creates the group with the directory's users `members` (aborts unless
/// they all still exist), and counts it.
pub fn create(g: &GroupRecord, members: &[String], now: &str) -> Vec<Stmt> {
    let mut params = vec![g.id.as_str().into(), g.directory_id.as_str().into()];
    params.extend(attributes(g));
    params.extend([g.created_at.as_str().into(), g.updated_at.as_str().into()]);
    let insert = Stmt::new(
        "INSERT INTO groups (id, directory_id, display_name, external_id, resource, version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params,
    );
    let mut out = vec![insert, adjust_count(&g.directory_id, ResourceKind::Group, 1)];
    out.extend(memberships::add(&g.directory_id, &g.id, members, now));
    out
}

/// Replaces the group's attributes: aborts unless it still has the
/// version `old_version` read.
pub fn update(old_version: i64, new: &GroupRecord) -> Vec<Stmt> {
    let mut params = vec![new.id.as_str().into()];
    params.extend(attributes(new));
    params.push(new.updated_at.as_str().into());
    let update = Stmt::new("UPDATE groups SET display_name = ?2, external_id = ?3, resource = ?4, version = ?5, updated_at = ?6 WHERE id = ?1", params);
    vec![guard_version(ResourceKind::Group, &new.id, old_version), update]
}

/// A new version for a group whose memberships changed, without reading
/// it first (the memberships written are guarded instead).
pub fn bump_version(id: &str, now: &str) -> Stmt {
    Stmt::new("UPDATE groups SET version = version + 1, updated_at = ?2 WHERE id = ?1", vec![id.into(), now.into()])
}

/// Deletes `old` (aborts unless still as read) with its memberships.
pub fn delete(old: &GroupRecord) -> Vec<Stmt> {
    let id = old.id.as_str();
    vec![
        guard_version(ResourceKind::Group, id, old.version),
        Stmt::new("DELETE FROM memberships WHERE group_id = ?1", vec![id.into()]),
        delete_row(id),
        adjust_count(&old.directory_id, ResourceKind::Group, -1),
    ]
}

fn delete_row(id: &str) -> Stmt {
    Stmt::new("DELETE FROM groups WHERE id = ?1", vec![id.into()])
}

/// Deletes `old`'s row (aborts unless still as read) but keeps its
/// memberships, which become the pending removal `removal` (a statement
/// from [`super::removals::insert`]) to be told in chunks.
pub fn delete_keeping_members(old: &GroupRecord, removal: Stmt) -> Vec<Stmt> {
    vec![guard_version(ResourceKind::Group, &old.id, old.version), removal, delete_row(&old.id), adjust_count(&old.directory_id, ResourceKind::Group, -1)]
}
