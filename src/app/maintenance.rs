//! The cron sweeper: republishes what the Queue never got (a failure
//! between the D1 write and the Queue send loses nothing), restarts retries
//! whose message was lost, and removes deleted directories' rows in chunks.

use super::delivery::QueueMessage;
use super::Services;
use crate::stmt;
use crate::storage::db::{first, rows};
use crate::storage::{Db, DbError, RowExt};

/// Rows per statement when purging a directory.
const PURGE_CHUNK: i64 = 500;
/// Purge batches per invocation (each removes up to 4 × PURGE_CHUNK rows
/// in 5 statements: 200 of D1's 1,000 queries per invocation).
pub const PURGE_ROUNDS: usize = 40;
/// Messages republished per sweep.
const SWEEP_LIMIT: i64 = 500;

/// Finds events and attempts that should be in the Queue and may not be:
/// events no consumer has picked up, retries whose time has long passed,
/// and attempts claimed but never recorded (a crash mid-POST). Republishing
/// something that was only late is harmless: the consumer claims each
/// attempt once.
pub async fn sweep<D: Db>(svc: &Services<'_, D>) -> Result<Vec<QueueMessage>, DbError> {
    let cutoff = svc.now.plus_seconds(-svc.cfg.outbox_grace_seconds).to_rfc3339();
    let timeout = i64::try_from(svc.cfg.webhook_timeout_ms / 1000 + 1).unwrap_or(60);
    let sending_cutoff = svc.now.plus_seconds(-svc.cfg.outbox_grace_seconds - timeout).to_rfc3339();
    let r = svc
        .db
        .batch(vec![
            stmt!("SELECT id FROM events WHERE dispatched_at IS NULL AND created_at < ?1 ORDER BY created_at LIMIT ?2", cutoff.as_str(), SWEEP_LIMIT),
            stmt!(
                "SELECT d.event_id, d.endpoint_id, d.chain, d.attempt FROM deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.state = 'enabled' \
                 WHERE d.status = 'retrying' AND d.next_attempt_at < ?1 ORDER BY d.next_attempt_at LIMIT ?2",
                cutoff.as_str(),
                SWEEP_LIMIT
            ),
            stmt!(
                "SELECT d.event_id, d.endpoint_id, d.chain, d.attempt FROM deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.state = 'enabled' \
                 WHERE d.status = 'sending' AND d.created_at < ?1 ORDER BY d.created_at LIMIT ?2",
                sending_cutoff.as_str(),
                SWEEP_LIMIT
            ),
        ])
        .await?;
    let mut out: Vec<QueueMessage> = rows(&r, 0).iter().map(|row| QueueMessage::fan_out(&row.string("id"))).collect();
    for i in [1, 2] {
        out.extend(rows(&r, i).iter().map(|row| QueueMessage {
            event_id: row.string("event_id"),
            endpoint_id: Some(row.string("endpoint_id")),
            attempt: u32::try_from(row.int("attempt").unwrap_or(0) + 1).unwrap_or(1),
            due_ms: 0,
            chain: row.str("chain").filter(|c| *c != crate::app::delivery::MAIN_CHAIN).map(str::to_string),
        }));
    }
    Ok(out)
}

/// Directories waiting to be purged.
pub async fn deleting<D: Db>(svc: &Services<'_, D>) -> Result<Vec<String>, DbError> {
    let r = svc.db.batch(vec![stmt!("SELECT id FROM directories WHERE state = 'deleting' ORDER BY updated_at LIMIT 10")]).await?;
    Ok(rows(&r, 0).iter().map(|row| row.string("id")).collect())
}

/// Removes a deleted directory's memberships, users and groups in bounded
/// chunks (at most `rounds` batches), then the directory itself (and its
/// group removals left untold: a deleted directory emits only
/// `dsync.deleted`). Returns whether it is gone, and the rounds used.
pub async fn purge_directory<D: Db>(svc: &Services<'_, D>, id: &str, rounds: usize) -> Result<(bool, usize), DbError> {
    for round in 0..rounds {
        let r = svc
            .db
            .batch(vec![
                stmt!(
                    "DELETE FROM memberships WHERE (group_id, user_id) IN (SELECT group_id, user_id FROM memberships WHERE directory_id = ?1 LIMIT ?2)",
                    id,
                    PURGE_CHUNK
                ),
                stmt!(
                    "DELETE FROM user_emails WHERE (user_id, value) IN (SELECT user_id, value FROM user_emails WHERE directory_id = ?1 LIMIT ?2)",
                    id,
                    PURGE_CHUNK
                ),
                stmt!("DELETE FROM users WHERE id IN (SELECT id FROM users WHERE directory_id = ?1 LIMIT ?2)", id, PURGE_CHUNK),
                stmt!("DELETE FROM groups WHERE id IN (SELECT id FROM groups WHERE directory_id = ?1 LIMIT ?2)", id, PURGE_CHUNK),
                stmt!(
                    "SELECT EXISTS (SELECT 1 FROM memberships WHERE directory_id = ?1) OR EXISTS (SELECT 1 FROM users WHERE directory_id = ?1) \
                     OR EXISTS (SELECT 1 FROM groups WHERE directory_id = ?1) OR EXISTS (SELECT 1 FROM user_emails WHERE directory_id = ?1) AS more",
                    id
                ),
            ])
            .await?;
        if first(&r, 4).and_then(|row| row.int("more")) == Some(0) {
            svc.db
                .batch(vec![
                    stmt!("DELETE FROM directories WHERE id = ?1 AND state = 'deleting'", id),
                    stmt!("DELETE FROM directory_tokens WHERE directory_id = ?1", id),
                    stmt!("DELETE FROM group_removals WHERE directory_id = ?1", id),
                ])
                .await?;
            return Ok((true, round + 1));
        }
    }
    Ok((false, rounds))
}
