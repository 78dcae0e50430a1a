//! Statements over pending group removals (`migrations/0004_group_removals.sql`):
//! memberships whose end is decided and is told to the application in
//! chunks. A group's "keys" are its own id and the ids of its pending
//! removals; a user is a member as the application sees it when a row
//! under any of them exists.

use crate::directory::records::USER_COLUMNS;
use crate::stmt;
use crate::storage::Stmt;
use serde_json::Value;

/// The pending-removal keys of group `?1` (besides its own id).
const PENDING_KEYS: &str = "(SELECT r.id FROM group_removals r WHERE r.group_id = ?1)";

/// Every (key of group `?1`, user of the JSON list `ids`) pair, as `g`,
/// `u`: joined to `memberships` on its primary key, so each named user
/// costs a lookup or two however large the group (an `OR` of the keys in a
/// WHERE would scan the group's memberships instead).
fn keyed_pairs(ids: &str) -> String {
    format!("(SELECT k.id AS g, j.value AS u FROM (SELECT ?1 AS id UNION ALL SELECT r.id FROM group_removals r WHERE r.group_id = ?1) k CROSS JOIN json_each({ids}) j)")
}

fn ids_json(ids: &[String]) -> String {
    Value::from(ids.to_vec()).to_string()
}

/// Memberships a group delete or a member replacement may end in its own
/// batch; more are handed to [`crate::app::fanout`] (each chunk is one batch
/// of this many memberships and their events).
pub const CHUNK: usize = 500;

/// A removal to do: `id` is the group id the pending memberships carry.
pub fn insert_removal(id: &str, group_id: &str, directory_id: &str, group_view: &Value, deleted: bool, now: &str) -> Stmt {
    stmt!(
        "INSERT INTO group_removals (id, group_id, directory_id, group_view, deleted, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        id,
        group_id,
        directory_id,
        group_view.to_string(),
        deleted,
        now
    )
}

/// Whether the group has removals still being told.
pub fn select_pending(group_id: &str) -> Stmt {
    stmt!("SELECT EXISTS (SELECT 1 FROM group_removals r WHERE r.group_id = ?1) AS pending", group_id)
}

/// Ends every membership of the group but those of `keep`: moves them under
/// the removal `removal_id` (one statement; no event yet).
pub fn move_members_out(group_id: &str, removal_id: &str, keep: &[String]) -> Stmt {
    stmt!("UPDATE memberships SET group_id = ?2 WHERE group_id = ?1 AND user_id NOT IN (SELECT value FROM json_each(?3))", group_id, removal_id, ids_json(keep))
}

/// Takes back pending removals of these users (they are members again, and
/// the application never heard otherwise): runs before their memberships
/// are inserted.
pub fn restore_members(group_id: &str, ids: &[String]) -> Option<Stmt> {
    (!ids.is_empty()).then(|| {
        stmt!(
            format!(
                "UPDATE memberships SET group_id = ?1 WHERE group_id IN {PENDING_KEYS} AND user_id IN (SELECT value FROM json_each(?2)) \
                 AND NOT EXISTS (SELECT 1 FROM memberships k WHERE k.group_id = ?1 AND k.user_id = memberships.user_id)"
            ),
            group_id,
            ids_json(ids)
        )
    })
}

/// Which of `ids` are members as the application sees them (their own row
/// or, `pending` = 1, a pending removal).
pub fn select_memberships_among(group_id: &str, ids: &[String]) -> Stmt {
    stmt!(
        format!("SELECT m.user_id, m.group_id <> ?1 AS pending FROM {} p CROSS JOIN memberships m ON m.group_id = p.g AND m.user_id = p.u", keyed_pairs("?2")),
        group_id,
        ids_json(ids)
    )
}

/// Ends these memberships, pending ones included (their event is told now).
pub fn remove_members(group_id: &str, ids: &[String]) -> Option<Stmt> {
    (!ids.is_empty())
        .then(|| stmt!(format!("DELETE FROM memberships WHERE (group_id, user_id) IN (SELECT g, u FROM {})", keyed_pairs("?2")), group_id, ids_json(ids)))
}

/// Aborts the batch unless the group still exists and, of the memberships
/// read (pending ones included), exactly `present` exist and none of `absent`.
pub fn guard_memberships(group_id: &str, present: &[String], absent: &[String]) -> Stmt {
    stmt!(
        format!(
            "INSERT INTO guard (reason) SELECT 'memberships' WHERE NOT EXISTS (SELECT 1 FROM groups WHERE id = ?1) \
             OR (SELECT count(*) FROM {} p CROSS JOIN memberships m ON m.group_id = p.g AND m.user_id = p.u) <> ?3 \
             OR EXISTS (SELECT 1 FROM {} p CROSS JOIN memberships m ON m.group_id = p.g AND m.user_id = p.u)",
            keyed_pairs("?2"),
            keyed_pairs("?4")
        ),
        group_id,
        ids_json(present),
        i64::try_from(present.len()).unwrap_or(i64::MAX),
        ids_json(absent)
    )
}

/// The pending removals a user is part of: `group_id` and the group as the
/// application saw it (a deleted user leaves these groups too).
pub fn select_pending_of_user(user_id: &str) -> Stmt {
    stmt!("SELECT r.group_id, r.group_view FROM memberships m JOIN group_removals r ON r.id = m.group_id WHERE m.user_id = ?1 ORDER BY r.group_id", user_id)
}

/// The removal to work on next (oldest first, so a group's earlier
/// replacements are told before its deletion), in a live directory.
const NEXT: &str = "SELECT r.id FROM group_removals r JOIN directories d ON d.id = r.directory_id AND d.state = 'linked' ORDER BY r.created_at, r.id LIMIT 1";

/// The next removal, with its directory's organisation.
pub fn select_next_removal() -> Stmt {
    stmt!(format!(
        "SELECT r.id, r.group_id, r.directory_id, r.group_view, r.deleted, d.organization_id FROM group_removals r JOIN directories d ON d.id = r.directory_id \
         WHERE r.id = ({NEXT})"
    ))
}

/// Up to [`CHUNK`] of the next removal's memberships, as user records.
pub fn select_next_chunk() -> Stmt {
    stmt!(
        format!("SELECT {USER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = ({NEXT}) ORDER BY m.user_id LIMIT ?1"),
        i64::try_from(CHUNK).unwrap_or(500)
    )
}

/// Ends a chunk: aborts unless every one of its memberships is still
/// pending (a concurrent add took one back, or a user delete told it), then
/// deletes them; the group, when it still exists, gets a new version (its
/// membership as the application sees it changed).
pub fn end_chunk(removal_id: &str, group_id: &str, ids: &[String], now: &str) -> Vec<Stmt> {
    let list = ids_json(ids);
    vec![
        stmt!(
            "INSERT INTO guard (reason) SELECT 'chunk' WHERE (SELECT count(*) FROM memberships WHERE group_id = ?1 AND user_id IN (SELECT value FROM json_each(?2))) <> ?3",
            removal_id,
            list.clone(),
            i64::try_from(ids.len()).unwrap_or(i64::MAX)
        ),
        stmt!("DELETE FROM memberships WHERE group_id = ?1 AND user_id IN (SELECT value FROM json_each(?2))", removal_id, list),
        stmt!("UPDATE groups SET version = version + 1, updated_at = ?2 WHERE id = ?1", group_id, now),
    ]
}

/// Ends a removal with no membership left. A deletion waits for the
/// group's other removals (its `group.deleted` is the group's last event);
/// the guard also makes sure only one runner finishes it.
pub fn finish_removal(removal_id: &str, group_id: &str) -> Vec<Stmt> {
    vec![
        stmt!(
            "INSERT INTO guard (reason) SELECT 'removal' WHERE NOT EXISTS (SELECT 1 FROM group_removals WHERE id = ?1) \
             OR EXISTS (SELECT 1 FROM memberships WHERE group_id = ?1) \
             OR ((SELECT deleted FROM group_removals WHERE id = ?1) = 1 AND EXISTS (SELECT 1 FROM group_removals WHERE group_id = ?2 AND id <> ?1))",
            removal_id,
            group_id
        ),
        stmt!("DELETE FROM group_removals WHERE id = ?1", removal_id),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::{block_on, Sqlite};
    use crate::storage::{Db, RowExt};

    /// The query plan's lines for a statement.
    fn plan(db: &Sqlite, s: Stmt) -> Vec<String> {
        let r = block_on(db.batch(vec![Stmt::new(format!("EXPLAIN QUERY PLAN {}", s.sql), s.params)])).unwrap();
        r.first().map(|r| r.rows.iter().map(|row| row.string("detail")).collect()).unwrap_or_default()
    }

    #[test]
    fn named_memberships_are_found_by_primary_key_never_by_scanning_the_group() {
        let db = Sqlite::open_migrated().unwrap();
        let ids = vec!["user_1".to_string(), "user_2".to_string()];
        for s in [
            select_memberships_among("group_1", &ids),
            remove_members("group_1", &ids).unwrap(),
            guard_memberships("group_1", &ids, &ids),
            restore_members("group_1", &ids).unwrap(),
        ] {
            let sql = s.sql.clone();
            let lines = plan(&db, s);
            let on_memberships: Vec<&String> = lines.iter().filter(|l| l.contains(" m ") || l.contains("memberships") || l.ends_with(" m")).collect();
            assert!(!on_memberships.is_empty(), "{sql}: {lines:?}");
            for l in on_memberships {
                let exact = l.contains("(group_id=? AND user_id=?)") || l.contains("(user_id=? AND group_id=?)");
                assert!(l.starts_with("SEARCH") && exact, "{sql}: {l} in {lines:?}");
            }
        }
    }
}
