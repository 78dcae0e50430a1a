//! Memberships, including those pending removal
//! (`migrations/0004_group_removals.sql`): a group's "keys" are its own id
//! and the ids of its pending removals; a user is a member as the
//! application sees it when a row under any of them exists.

use super::{count, guard, ids_json, users_of, Read, Ref, USER_COLUMNS};
use crate::directory::UserRecord;
use crate::storage::{Batch, Row, RowExt, Stmt};
use std::collections::BTreeSet;

/// The pending-removal keys of group `?1` (besides its own id).
const PENDING_KEYS: &str = "(SELECT r.id FROM group_removals r WHERE r.group_id = ?1)";

/// Every (key of group `?1`, user of the JSON list `ids`) pair, as `g`,
/// `u`: joined to `memberships` on its primary key, so each named user
/// costs a lookup or two however large the group (an `OR` of the keys in a
/// WHERE would scan the group's memberships instead).
fn keyed_pairs(ids: &str) -> String {
    format!("(SELECT k.id AS g, j.value AS u FROM (SELECT ?1 AS id UNION ALL SELECT r.id FROM group_removals r WHERE r.group_id = ?1) k CROSS JOIN json_each({ids}) j)")
}

/// The members of a group, as full user records, at most `limit` of them
/// (one more than a use case can handle in one batch tells it the group is
/// larger than that).
pub fn read_users(b: &mut Batch, group_id: &str, limit: usize) -> Read<Vec<UserRecord>> {
    let s = Stmt::new(
        format!("SELECT {USER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = ?1 ORDER BY m.user_id LIMIT ?2"),
        vec![group_id.into(), count(limit)],
    );
    Read::push(b, s, users_of)
}

/// The members of a group for its SCIM `members` attribute. Members carry
/// no display name (RFC 7643 §8.7.1), so the membership keys are all it
/// reads.
pub fn read_refs(b: &mut Batch, group_id: &str) -> Read<Vec<Ref>> {
    let s = Stmt::new("SELECT m.user_id AS id, '' AS display FROM memberships m WHERE m.group_id = ?1 ORDER BY m.user_id", vec![group_id.into()]);
    Read::push(b, s, |rows| rows.iter().map(|r| Ref { id: r.string("id"), display: r.string("display") }).collect())
}

/// Of some users, those that are members of a group as the application
/// sees them, and among those the ones whose membership is pending removal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Among {
    pub members: BTreeSet<String>,
    pub pending: BTreeSet<String>,
}

fn among(rows: &[Row]) -> Among {
    Among {
        members: rows.iter().map(|r| r.string("user_id")).collect(),
        pending: rows.iter().filter(|r| r.int("pending") == Some(1)).map(|r| r.string("user_id")).collect(),
    }
}

/// Which of `ids` are members of the group (their own row or a pending removal).
pub fn read_among(b: &mut Batch, group_id: &str, ids: &[String]) -> Read<Among> {
    Read::push(b, select_among(group_id, ids), among)
}

fn select_among(group_id: &str, ids: &[String]) -> Stmt {
    Stmt::new(
        format!("SELECT m.user_id, m.group_id <> ?1 AS pending FROM {} p CROSS JOIN memberships m ON m.group_id = p.g AND m.user_id = p.u", keyed_pairs("?2")),
        vec![group_id.into(), ids_json(ids).into()],
    )
}

/// Adds memberships; the guard before it checks every user still exists.
pub fn add(directory_id: &str, group_id: &str, ids: &[String], now: &str) -> Vec<Stmt> {
    if ids.is_empty() {
        return Vec::new();
    }
    let list = ids_json(ids);
    vec![
        guard::unless(
            "member_gone",
            "(SELECT count(*) FROM users WHERE directory_id = ?1 AND id IN (SELECT value FROM json_each(?2))) = ?3",
            vec![directory_id.into(), list.clone().into(), count(ids.len())],
        ),
        Stmt::new(
            "INSERT OR IGNORE INTO memberships (group_id, user_id, directory_id, created_at) SELECT ?1, value, ?2, ?3 FROM json_each(?4)",
            vec![group_id.into(), directory_id.into(), now.into(), list.into()],
        ),
    ]
}

/// Turns the group's memberships into the ones decided: ends `removed`
/// (pending ones included: their event is told now), takes back the
/// pending removals of `restored` (members again, and the application never
/// heard otherwise: before their rows are inserted), and adds `added`.
pub fn change(directory_id: &str, group_id: &str, removed: &[String], restored: &[String], added: &[String], now: &str) -> Vec<Stmt> {
    let mut out: Vec<Stmt> = remove(group_id, removed).into_iter().collect();
    out.extend(restore(group_id, restored));
    out.extend(add(directory_id, group_id, added, now));
    out
}

fn remove(group_id: &str, ids: &[String]) -> Option<Stmt> {
    (!ids.is_empty()).then(|| {
        Stmt::new(
            format!("DELETE FROM memberships WHERE (group_id, user_id) IN (SELECT g, u FROM {})", keyed_pairs("?2")),
            vec![group_id.into(), ids_json(ids).into()],
        )
    })
}

fn restore(group_id: &str, ids: &[String]) -> Option<Stmt> {
    (!ids.is_empty()).then(|| {
        Stmt::new(
            format!(
                "UPDATE memberships SET group_id = ?1 WHERE group_id IN {PENDING_KEYS} AND user_id IN (SELECT value FROM json_each(?2)) \
                 AND NOT EXISTS (SELECT 1 FROM memberships k WHERE k.group_id = ?1 AND k.user_id = memberships.user_id)"
            ),
            vec![group_id.into(), ids_json(ids).into()],
        )
    })
}

/// Aborts the batch unless the group still exists and, of the memberships
/// read (pending ones included), exactly `present` exist and none of `absent`.
pub fn guard_as_read(group_id: &str, present: &[String], absent: &[String]) -> Stmt {
    guard::unless(
        "memberships",
        &format!(
            "EXISTS (SELECT 1 FROM groups WHERE id = ?1) \
             AND (SELECT count(*) FROM {} p CROSS JOIN memberships m ON m.group_id = p.g AND m.user_id = p.u) = ?3 \
             AND NOT EXISTS (SELECT 1 FROM {} p CROSS JOIN memberships m ON m.group_id = p.g AND m.user_id = p.u)",
            keyed_pairs("?2"),
            keyed_pairs("?4")
        ),
        vec![group_id.into(), ids_json(present).into(), count(present.len()), ids_json(absent).into()],
    )
}

/// Ends every membership of the group but those of `keep`: moves them under
/// the pending removal `removal_id` (one statement; no event yet).
pub fn move_out(group_id: &str, removal_id: &str, keep: &[String]) -> Stmt {
    Stmt::new(
        "UPDATE memberships SET group_id = ?2 WHERE group_id = ?1 AND user_id NOT IN (SELECT value FROM json_each(?3))",
        vec![group_id.into(), removal_id.into(), ids_json(keep).into()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::{block_on, Sqlite};
    use crate::storage::Db;

    /// The query plan's lines for a statement.
    fn plan(db: &Sqlite, s: Stmt) -> Vec<String> {
        let r = block_on(db.batch(vec![Stmt::new(format!("EXPLAIN QUERY PLAN {}", s.sql), s.params)])).unwrap();
        r.first().map(|r| r.rows.iter().map(|row| row.string("detail")).collect()).unwrap_or_default()
    }

    #[test]
    fn named_memberships_are_found_by_primary_key_never_by_scanning_the_group() {
        let db = Sqlite::open_migrated().unwrap();
        let ids = vec!["user_1".to_string(), "user_2".to_string()];
        for s in [select_among("group_1", &ids), remove("group_1", &ids).unwrap(), guard_as_read("group_1", &ids, &ids), restore("group_1", &ids).unwrap()] {
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
