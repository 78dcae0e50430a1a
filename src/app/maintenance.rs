//! The cron sweeper: republishes what the Queue never got (a failure
//! between the D1 write and the Queue send loses nothing), restarts retries
//! whose message was lost, and removes deleted directories' rows in chunks.

use super::delivery::{QueueMessage, MAIN_CHAIN};
use super::Services;
use crate::storage::webhooks::sweep::{self, Catchup, Cutoffs, Pending};
use crate::storage::{directory_purge, events, Db, DbError};

/// Purge batches per invocation (each removes up to 4 ×
/// [`directory_purge::PURGE_CHUNK`] rows in 5 statements: 200 of D1's 1,000
/// queries per invocation).
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
    let late = svc.now.plus_seconds(-svc.cfg.outbox_grace_seconds).to_rfc3339();
    let timeout = i64::try_from(svc.cfg.webhook_timeout_ms / 1000 + 1).unwrap_or(60);
    let sending = svc.now.plus_seconds(-svc.cfg.outbox_grace_seconds - timeout).to_rfc3339();
    // Catch-up cursors are positions in one data database's log.
    let [data] = svc.data_all();
    let cutoffs = Cutoffs { late: &late, sending: &sending, limit: SWEEP_LIMIT, catchup_endpoints: CATCHUP_ENDPOINTS };
    let found = sweep::overdue(svc.control(), data, &cutoffs).await?;
    let mut out: Vec<QueueMessage> = found.undispatched.iter().map(|id| QueueMessage::fan_out(id)).collect();
    out.extend(found.attempts.into_iter().map(|a| QueueMessage {
        // A deferred attempt is republished as itself (it has not
        // happened); a retry or a lost claim as the attempt after it.
        attempt: u32::try_from(if a.state == Pending::Deferred { a.attempt } else { a.attempt + 1 }).unwrap_or(1),
        event_id: a.event_id,
        endpoint_id: Some(a.endpoint_id),
        due_ms: 0,
        chain: Some(a.chain).filter(|c| c != MAIN_CHAIN),
    }));
    for c in &found.catchups {
        out.extend(catch_up(svc, data, c).await?);
    }
    Ok(out)
}

/// The next chunk of a re-enabled endpoint's catch-up: events after its
/// cursor up to the end recorded at re-enable, as attempts of its catch-up
/// chain (the consumer skips those it has delivered, and those it does not
/// subscribe to). The cursor moves with a compare-and-set, so two sweeps
/// at once schedule a chunk at most twice (and the claim sends it once).
async fn catch_up<D: Db>(svc: &Services<'_, D>, data: &D, c: &Catchup) -> Result<Vec<QueueMessage>, DbError> {
    let chunk = events::between(data, c.from, c.end, CATCHUP_CHUNK).await?;
    let last = chunk.last().map_or(c.end, |&(_, pos)| pos);
    let next = (i64::try_from(chunk.len()).unwrap_or(0) == CATCHUP_CHUNK && last < c.end).then_some(last);
    if !sweep::advance_catchup(svc.control(), &c.endpoint_id, c.from, next).await? {
        return Ok(Vec::new());
    }
    Ok(chunk.iter().map(|(id, _)| QueueMessage::catch_up(id, &c.endpoint_id, &c.chain)).collect())
}

/// Directories waiting to be purged.
pub async fn deleting<D: Db>(svc: &Services<'_, D>) -> Result<Vec<String>, DbError> {
    directory_purge::deleting(svc.control()).await
}

/// Removes a deleted directory's memberships, users and groups in bounded
/// chunks (at most `rounds` batches), then the directory itself (and its
/// group removals left untold: a deleted directory emits only
/// `dsync.deleted`). Returns whether it is gone, and the rounds used.
pub async fn purge_directory<D: Db>(svc: &Services<'_, D>, id: &str, rounds: usize) -> Result<(bool, usize), DbError> {
    for round in 0..rounds {
        if !directory_purge::purge_round(svc.data(id), id).await? {
            directory_purge::finish(svc.control(), svc.data(id), id).await?;
            return Ok((true, round + 1));
        }
    }
    Ok((false, rounds))
}

/// Removes expired portal links and sessions, a bounded chunk a run.
pub async fn expire_portal_sessions<D: Db>(svc: &Services<'_, D>) -> Result<u64, DbError> {
    crate::storage::portal::remove_expired(svc.control(), &svc.now_text()).await
}
