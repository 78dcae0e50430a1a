//! The SQL of a delivery: claiming attempts (and the probe of an open
//! circuit) in the batch that reads the event, deferring attempts to
//! endpoints whose circuit is open, and recording an attempt's outcome on
//! the endpoint's health counters. Every statement touches the rows of one
//! (event, endpoint) pair or one endpoint row: O(1) rows per attempt.

use super::QueueMessage;
use crate::stmt;
use crate::storage::Stmt;

/// The endpoint `w` subscribes to the event `e`, and has not yet received it
/// in this chain (a catch-up chain skips what any chain delivered).
const ADDRESSED: &str = "(w.events IS NULL OR EXISTS (SELECT 1 FROM json_each(w.events) j WHERE j.value = e.event)) \
     AND NOT EXISTS (SELECT 1 FROM deliveries s WHERE s.event_id = e.id AND s.endpoint_id = w.id AND s.status = 'succeeded' \
                     AND (s.chain = ?3 OR ?3 LIKE 'catchup%'))";

/// Whether this message may POST to the endpoint `w` now: its circuit is
/// closed or this message holds the probe, and it is not on hold. The claim
/// takes exactly these endpoints and the deferral exactly the others
/// (null-safe comparisons, so that `NOT` is the complement), so no attempt
/// falls between them.
const CLEAR: &str = "((w.circuit_open_until IS NULL OR w.probe_claim IS ?5) AND (w.hold_until IS NULL OR w.hold_until <= ?6))";

/// Parameters shared by the claim statements: ?1 event, ?2 endpoint (or
/// NULL: every endpoint), ?3 chain, ?4 attempt, ?5 token, ?6 now[, ?7 lease].
fn params(msg: &QueueMessage, token: &str, now: &str) -> Vec<crate::storage::SqlValue> {
    use crate::storage::SqlValue;
    vec![
        SqlValue::from(msg.event_id.as_str()),
        SqlValue::from(msg.endpoint_id.clone()),
        SqlValue::from(msg.chain()),
        SqlValue::from(i64::from(msg.attempt.max(1))),
        SqlValue::from(token),
        SqlValue::from(now),
    ]
}

/// Takes the probe of every addressed endpoint whose open circuit is due for
/// one: a conditional UPDATE, so of all concurrent consumers exactly one
/// gets it. The probe holds the circuit open until `lease` (the request's
/// timeout and some), after which another probe may go.
pub fn probe(msg: &QueueMessage, token: &str, now: &str, lease: &str) -> Stmt {
    let mut p = params(msg, token, now);
    p.push(lease.into());
    Stmt::new(
        format!(
            "UPDATE webhook_endpoints AS w SET probe_claim = ?5, circuit_open_until = ?7 \
             WHERE w.state = 'enabled' AND w.circuit_open_until IS NOT NULL AND w.circuit_open_until <= ?6 AND (?2 IS NULL OR w.id = ?2) \
               AND (w.hold_until IS NULL OR w.hold_until <= ?6) \
               AND EXISTS (SELECT 1 FROM events e WHERE e.id = ?1 AND {ADDRESSED}) \
               AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.event_id = ?1 AND x.endpoint_id = w.id AND x.chain = ?3 AND x.attempt = ?4 AND x.status <> 'deferred')"
        ),
        p,
    )
}

/// Claims this message's attempt for every enabled addressed endpoint whose
/// circuit is closed (or whose probe this message holds): a row `sending`,
/// unique per (event, endpoint, chain, attempt), or a `deferred` row of the
/// same attempt taken over. Only the message that claimed it POSTs, so
/// retry chains never multiply. `token` is this message's own time-ordered
/// id: it names the claims and, with the endpoint, makes each delivery id.
pub fn claim(msg: &QueueMessage, token: &str, now: &str) -> Stmt {
    Stmt::new(
        format!(
            "INSERT INTO deliveries (id, event_id, endpoint_id, chain, attempt, claim, status, created_at) \
             SELECT ?5 || '_' || substr(w.id, 10), e.id, w.id, ?3, ?4, ?5, 'sending', ?6 \
             FROM events e, webhook_endpoints w \
             WHERE e.id = ?1 AND w.state = 'enabled' AND (?2 IS NULL OR w.id = ?2) \
               AND {CLEAR} AND {ADDRESSED} \
             ON CONFLICT (event_id, endpoint_id, chain, attempt) DO UPDATE SET claim = excluded.claim, status = 'sending', \
               created_at = excluded.created_at, next_attempt_at = NULL WHERE deliveries.status = 'deferred'"
        ),
        params(msg, token, now),
    )
}

/// Defers this message's attempt for every addressed endpoint whose circuit
/// is open (and whose probe is not this message's), or that is on hold
/// after a hung attempt: a `deferred` row due at the circuit's next probe
/// (or the end of the hold), keeping its attempt number. No POST.
pub fn defer(msg: &QueueMessage, token: &str, now: &str) -> Stmt {
    Stmt::new(
        format!(
            "INSERT INTO deliveries (id, event_id, endpoint_id, chain, attempt, claim, status, next_attempt_at, created_at) \
             SELECT ?5 || '_' || substr(w.id, 10), e.id, w.id, ?3, ?4, ?5, 'deferred', \
                    max(coalesce(w.circuit_open_until, ''), coalesce(w.hold_until, '')), ?6 \
             FROM events e, webhook_endpoints w \
             WHERE e.id = ?1 AND w.state = 'enabled' AND (?2 IS NULL OR w.id = ?2) \
               AND NOT {CLEAR} AND {ADDRESSED} \
             ON CONFLICT (event_id, endpoint_id, chain, attempt) DO UPDATE SET claim = excluded.claim, \
               next_attempt_at = excluded.next_attempt_at WHERE deliveries.status = 'deferred'"
        ),
        params(msg, token, now),
    )
}

/// Earlier attempts of the same (event, endpoint, chain) are no longer the
/// pending one once attempt `attempt` is made or deferred (the sweeper then
/// heals that attempt, not an earlier retry). A lookup on the unique key's
/// prefix: it reads that pair's attempts only.
pub fn retire_before(event_id: &str, endpoint_id: &str, chain: &str, attempt: u32) -> Stmt {
    stmt!(
        "UPDATE deliveries SET status = 'retried' WHERE event_id = ?1 AND endpoint_id = ?2 AND chain = ?3 AND attempt < ?4 AND status IN ('retrying', 'sending')",
        event_id,
        endpoint_id,
        chain,
        i64::from(attempt)
    )
}

/// [`retire_before`] for every attempt this claim batch deferred.
pub fn retire_before_deferred(token: &str) -> Stmt {
    stmt!(
        "UPDATE deliveries SET status = 'retried' WHERE status IN ('retrying', 'sending') AND id IN ( \
           SELECT p.id FROM deliveries d JOIN deliveries p ON p.event_id = d.event_id AND p.endpoint_id = d.endpoint_id AND p.chain = d.chain \
           WHERE d.claim = ?1 AND d.status = 'deferred' AND p.attempt < d.attempt)",
        token
    )
}

/// What this message claimed or deferred, with what a POST needs.
pub fn claimed(token: &str) -> Stmt {
    stmt!(
        "SELECT d.id AS delivery_id, d.status AS claim_status, d.next_attempt_at AS due_at, w.id, w.url, w.secret_sealed, \
                w.previous_secret_sealed, w.previous_secret_expires_at, coalesce(w.probe_claim = ?1, 0) AS probe, \
                w.circuit_opens, w.circuit_open_until, w.failing_since \
         FROM deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.claim = ?1 ORDER BY w.id",
        token
    )
}

/// How one attempt went, for [`health`].
pub struct Outcome<'a> {
    pub endpoint_id: &'a str,
    pub failed: bool,
    /// When it ended (RFC 3339).
    pub at: &'a str,
    /// The event's position in the log (where a catch-up would resume).
    pub event_pos: i64,
    pub token: &'a str,
    pub threshold: u32,
    /// When the circuit's next probe is due should this failure open it.
    pub reopen_at: &'a str,
    pub bucket: i64,
    /// The attempt got no answer: hold the endpoint's attempts until then.
    pub hold_until: Option<&'a str>,
}

/// Updates the endpoint's health after an attempt, relative to the stored
/// counters: a success closes the circuit and ends the run of failures; a
/// failure counts, and opens the circuit when it reaches the threshold (or
/// re-opens it when it was this message's probe, until `reopen_at`); a
/// failure without an answer also puts the endpoint on hold.
pub fn health(o: &Outcome<'_>) -> Stmt {
    stmt!(
        "UPDATE webhook_endpoints SET \
           consecutive_failures = CASE WHEN ?2 = 1 THEN consecutive_failures + 1 ELSE 0 END, \
           failing_since = CASE WHEN ?2 = 1 THEN coalesce(failing_since, ?3) END, \
           failing_pos = CASE WHEN ?2 = 1 THEN min(coalesce(failing_pos, ?4), ?4) END, \
           circuit_open_until = CASE WHEN ?2 = 0 THEN NULL \
             WHEN probe_claim IS ?5 OR (circuit_open_until IS NULL AND consecutive_failures + 1 >= ?6) THEN ?7 ELSE circuit_open_until END, \
           circuit_opens = CASE WHEN ?2 = 0 THEN 0 \
             WHEN probe_claim IS ?5 OR (circuit_open_until IS NULL AND consecutive_failures + 1 >= ?6) THEN circuit_opens + 1 ELSE circuit_opens END, \
           probe_claim = CASE WHEN ?2 = 0 OR probe_claim IS ?5 THEN NULL ELSE probe_claim END, \
           prev_attempts = CASE WHEN health_bucket = ?8 THEN prev_attempts WHEN health_bucket = ?8 - 1 THEN bucket_attempts ELSE 0 END, \
           prev_failures = CASE WHEN health_bucket = ?8 THEN prev_failures WHEN health_bucket = ?8 - 1 THEN bucket_failures ELSE 0 END, \
           bucket_attempts = CASE WHEN health_bucket = ?8 THEN bucket_attempts ELSE 0 END + 1, \
           bucket_failures = CASE WHEN health_bucket = ?8 THEN bucket_failures ELSE 0 END + ?2, \
           health_bucket = ?8, \
           hold_until = CASE WHEN ?2 = 0 THEN NULL ELSE coalesce(?9, hold_until) END \
         WHERE id = ?1",
        o.endpoint_id,
        o.failed,
        o.at,
        o.event_pos,
        o.token,
        i64::from(o.threshold),
        o.reopen_at,
        o.bucket,
        o.hold_until
    )
}
