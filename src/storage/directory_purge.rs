//! Removing a deleted directory's rows: its users, groups, memberships and
//! emails in bounded rounds (data database), then the directory itself,
//! its tokens (control database), its untold group removals and its
//! request log (the portal's debugger). Events and
//! deliveries stay: the log keeps what happened.

use super::{Batch, Db, DbError, RowExt};
use crate::stmt;

/// Rows per statement in a purge round.
pub const PURGE_CHUNK: i64 = 500;

/// Directories waiting to be purged (marked `deleting` on the control
/// database), the longest waiting first, ten at a time.
pub async fn deleting<D: Db>(control: &D) -> Result<Vec<String>, DbError> {
    let r = control.batch(vec![stmt!("SELECT id FROM directories WHERE state = 'deleting' ORDER BY updated_at LIMIT 10")]).await?;
    Ok(r.first().map(|r| r.rows.iter().map(|row| row.string("id")).collect()).unwrap_or_default())
}

/// One round: removes up to [`PURGE_CHUNK`] memberships, emails, users and
/// groups of the directory; whether any are left.
pub async fn purge_round<D: Db>(data: &D, id: &str) -> Result<bool, DbError> {
    let mut b = Batch::new();
    b.push(stmt!(
        "DELETE FROM memberships WHERE (group_id, user_id) IN (SELECT group_id, user_id FROM memberships WHERE directory_id = ?1 LIMIT ?2)",
        id,
        PURGE_CHUNK
    ));
    b.push(stmt!(
        "DELETE FROM user_emails WHERE (user_id, value) IN (SELECT user_id, value FROM user_emails WHERE directory_id = ?1 LIMIT ?2)",
        id,
        PURGE_CHUNK
    ));
    b.push(stmt!("DELETE FROM users WHERE id IN (SELECT id FROM users WHERE directory_id = ?1 LIMIT ?2)", id, PURGE_CHUNK));
    b.push(stmt!("DELETE FROM groups WHERE id IN (SELECT id FROM groups WHERE directory_id = ?1 LIMIT ?2)", id, PURGE_CHUNK));
    let more = b.push(stmt!(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE directory_id = ?1) OR EXISTS (SELECT 1 FROM users WHERE directory_id = ?1) \
         OR EXISTS (SELECT 1 FROM groups WHERE directory_id = ?1) OR EXISTS (SELECT 1 FROM user_emails WHERE directory_id = ?1) AS more",
        id
    ));
    let r = b.run(data).await?;
    Ok(r.first(more).and_then(|row| row.int("more")) != Some(0))
}

/// Removes the directory (only while it is `deleting`), its tokens and its
/// group removals left untold (a deleted directory emits only
/// `dsync.deleted`). One batch when control and data are one database;
/// else the data side first, so that a failure in between leaves the
/// directory listed as `deleting` and the next purge finishes it.
pub async fn finish<D: Db>(control: &D, data: &D, id: &str) -> Result<(), DbError> {
    let directory = || stmt!("DELETE FROM directories WHERE id = ?1 AND state = 'deleting'", id);
    let tokens = stmt!("DELETE FROM directory_tokens WHERE directory_id = ?1", id);
    let removals = stmt!("DELETE FROM group_removals WHERE directory_id = ?1", id);
    let requests = super::scim_requests::purge(id);
    if super::db::same_database(control, data) {
        control.batch([vec![directory(), tokens, removals], requests].concat()).await?;
    } else {
        data.batch([vec![directory(), removals], requests].concat()).await?;
        control.batch(vec![directory(), tokens]).await?;
    }
    Ok(())
}
