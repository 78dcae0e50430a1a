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
/// Endpoints caught up per sweep, and events scheduled for each: a
/// re-enabled endpoint gets what it missed at CATCHUP_CHUNK events a minute.
const CATCHUP_ENDPOINTS: i64 = 5;
const CATCHUP_CHUNK: i64 = 200;

/// Finds events and attempts that should be in the Queue and may not be:
/// events no consumer has picked up, retries and deferrals whose time has
/// long passed, and attempts claimed but never recorded (a crash mid-POST);
/// and schedules the next chunk of a re-enabled endpoint's catch-up.
/// Republishing something that was only late is harmless: the consumer
/// claims each attempt once.
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
            stmt!(
                "SELECT d.event_id, d.endpoint_id, d.chain, d.attempt - 1 AS attempt FROM deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.state = 'enabled' \
                 WHERE d.status = 'deferred' AND d.next_attempt_at < ?1 ORDER BY d.next_attempt_at LIMIT ?2",
                cutoff.as_str(),
                SWEEP_LIMIT
            ),
            stmt!(
                "SELECT id, catchup_pos, catchup_end, catchup_chain FROM webhook_endpoints WHERE state = 'enabled' AND catchup_pos IS NOT NULL ORDER BY id LIMIT ?1",
                CATCHUP_ENDPOINTS
            ),
        ])
        .await?;
    let mut out: Vec<QueueMessage> = rows(&r, 0).iter().map(|row| QueueMessage::fan_out(&row.string("id"))).collect();
    // A deferred attempt is republished as itself (it has not happened).
    for i in [1, 2, 3] {
        out.extend(rows(&r, i).iter().map(|row| QueueMessage {
            event_id: row.string("event_id"),
            endpoint_id: Some(row.string("endpoint_id")),
            attempt: u32::try_from(row.int("attempt").unwrap_or(0) + 1).unwrap_or(1),
            due_ms: 0,
            chain: row.str("chain").filter(|c| *c != crate::app::delivery::MAIN_CHAIN).map(str::to_string),
        }));
    }
    for endpoint in rows(&r, 4) {
        out.extend(catch_up(svc, endpoint).await?);
    }
    Ok(out)
}

/// The next chunk of a re-enabled endpoint's catch-up: events after its
/// cursor up to the end recorded at re-enable, as attempts of its catch-up
/// chain (the consumer skips those it has delivered, and those it does not
/// subscribe to). The cursor moves with a compare-and-set, so two sweeps
/// at once schedule a chunk at most twice (and the claim sends it once).
async fn catch_up<D: Db>(svc: &Services<'_, D>, endpoint: &crate::storage::Row) -> Result<Vec<QueueMessage>, DbError> {
    let id = endpoint.string("id");
    let (from, end) = (endpoint.int("catchup_pos").unwrap_or(0), endpoint.int("catchup_end").unwrap_or(0));
    let chain = endpoint.string("catchup_chain");
    let r = svc.db.batch(vec![stmt!("SELECT id, pos FROM events WHERE pos > ?1 AND pos <= ?2 ORDER BY pos LIMIT ?3", from, end, CATCHUP_CHUNK)]).await?;
    let chunk = rows(&r, 0);
    let last = chunk.last().and_then(|row| row.int("pos")).unwrap_or(end);
    let next = (i64::try_from(chunk.len()).unwrap_or(0) == CATCHUP_CHUNK && last < end).then_some(last);
    let moved = svc.db.batch(vec![stmt!("UPDATE webhook_endpoints SET catchup_pos = ?2 WHERE id = ?1 AND catchup_pos = ?3", id.as_str(), next, from)]).await?;
    if moved.first().map_or(0, |m| m.rows_written) == 0 {
        return Ok(Vec::new());
    }
    Ok(chunk.iter().map(|row| QueueMessage::catch_up(&row.string("id"), &id, &chain)).collect())
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
