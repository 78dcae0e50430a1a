//! Pending group removals (`migrations/0004_group_removals.sql`):
//! memberships whose end is decided and is told to the application in
//! chunks (see [`crate::app::fanout`]).

use super::{count, guard, ids_json, users_of, Read, USER_COLUMNS};
use crate::directory::{GroupRecord, UserRecord};
use crate::storage::{Batch, Db, DbError, Row, RowExt, Stmt};
use serde_json::Value;

/// Memberships a group delete or a member replacement may end in its own
/// batch; more are handed to [`crate::app::fanout`] (each chunk is one batch
/// of this many memberships and their events).
pub const CHUNK: usize = 500;

/// A removal to do: `id` is the group id the pending memberships carry;
/// `group_view` is the group as the application saw it, for the events.
pub fn insert(id: &str, group: &GroupRecord, group_view: &Value, deleted: bool, now: &str) -> Stmt {
    Stmt::new(
        "INSERT INTO group_removals (id, group_id, directory_id, group_view, deleted, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        vec![id.into(), group.id.as_str().into(), group.directory_id.as_str().into(), group_view.to_string().into(), deleted.into(), now.into()],
    )
}

/// Whether the group has removals still being told.
pub fn read_pending(b: &mut Batch, group_id: &str) -> Read<bool> {
    let s = Stmt::new("SELECT EXISTS (SELECT 1 FROM group_removals r WHERE r.group_id = ?1) AS pending", vec![group_id.into()]);
    Read::push(b, s, |rows| rows.first().and_then(|r| r.int("pending")) == Some(1))
}

/// A group a user is still a member of through a pending removal.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingGroup {
    pub group_id: String,
    /// The group as the application saw it.
    pub group_view: Value,
}

/// The pending removals a user is part of (a deleted user leaves these
/// groups too), in group order.
pub fn read_pending_of_user(b: &mut Batch, user_id: &str) -> Read<Vec<PendingGroup>> {
    let s = Stmt::new(
        "SELECT r.group_id, r.group_view FROM memberships m JOIN group_removals r ON r.id = m.group_id WHERE m.user_id = ?1 ORDER BY r.group_id",
        vec![user_id.into()],
    );
    Read::push(b, s, |rows| rows.iter().map(|r| PendingGroup { group_id: r.string("group_id"), group_view: r.json("group_view") }).collect())
}

/// The removal to work on next (oldest first, so a group's earlier
/// replacements are told before its deletion), in a live directory.
const NEXT: &str = "SELECT r.id FROM group_removals r JOIN directories d ON d.id = r.directory_id AND d.state = 'linked' ORDER BY r.created_at, r.id LIMIT 1";

/// The next chunk of a removal to tell.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub removal_id: String,
    pub group_id: String,
    pub directory_id: String,
    pub organization_id: String,
    /// The group as the application saw it.
    pub group_view: Value,
    /// The group was deleted (its removal ends with `group.deleted`).
    pub deleted: bool,
    /// Up to [`CHUNK`] of its members, as user records; none left means
    /// the removal is to be finished.
    pub users: Vec<UserRecord>,
}

impl Chunk {
    fn from_row(row: &Row, users: Vec<UserRecord>) -> Self {
        Chunk {
            removal_id: row.string("id"),
            group_id: row.string("group_id"),
            directory_id: row.string("directory_id"),
            organization_id: row.string("organization_id"),
            group_view: row.json("group_view"),
            deleted: row.int("deleted") == Some(1),
            users,
        }
    }
}

/// The next chunk of the oldest removal in a live directory of `db`, in
/// one read; None when nothing is left to tell.
pub async fn next_chunk<D: Db>(db: &D) -> Result<Option<Chunk>, DbError> {
    let mut b = Batch::new();
    let removal = b.push(Stmt::new(
        format!(
            "SELECT r.id, r.group_id, r.directory_id, r.group_view, r.deleted, d.organization_id FROM group_removals r JOIN directories d ON d.id = r.directory_id \
             WHERE r.id = ({NEXT})"
        ),
        Vec::new(),
    ));
    let users = Read::push(
        &mut b,
        Stmt::new(
            format!("SELECT {USER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = ({NEXT}) ORDER BY m.user_id LIMIT ?1"),
            vec![count(CHUNK)],
        ),
        users_of,
    );
    let r = b.run(db).await?;
    Ok(r.first(removal).map(|row| Chunk::from_row(row, users.get(&r))))
}

/// Ends a chunk: aborts unless every one of its memberships is still
/// pending (a concurrent add took one back, or a user delete told it), then
/// deletes them; the group, when it still exists, gets a new version (its
/// membership as the application sees it changed).
pub fn end_chunk(c: &Chunk, ids: &[String], now: &str) -> Vec<Stmt> {
    let list = ids_json(ids);
    vec![
        guard::unless(
            "chunk",
            "(SELECT count(*) FROM memberships WHERE group_id = ?1 AND user_id IN (SELECT value FROM json_each(?2))) = ?3",
            vec![c.removal_id.as_str().into(), list.clone().into(), count(ids.len())],
        ),
        Stmt::new(
            "DELETE FROM memberships WHERE group_id = ?1 AND user_id IN (SELECT value FROM json_each(?2))",
            vec![c.removal_id.as_str().into(), list.into()],
        ),
        super::groups::bump_version(&c.group_id, now),
    ]
}

/// Ends a removal with no membership left. A deletion waits for the
/// group's other removals (its `group.deleted` is the group's last event);
/// the guard also makes sure only one runner finishes it.
pub fn finish(c: &Chunk) -> Vec<Stmt> {
    let (removal_id, group_id) = (c.removal_id.as_str(), c.group_id.as_str());
    vec![
        guard::unless(
            "removal",
            "EXISTS (SELECT 1 FROM group_removals WHERE id = ?1) \
             AND NOT EXISTS (SELECT 1 FROM memberships WHERE group_id = ?1) \
             AND NOT ((SELECT deleted FROM group_removals WHERE id = ?1) = 1 AND EXISTS (SELECT 1 FROM group_removals WHERE group_id = ?2 AND id <> ?1))",
            vec![removal_id.into(), group_id.into()],
        ),
        Stmt::new("DELETE FROM group_removals WHERE id = ?1", vec![removal_id.into()]),
    ]
}
