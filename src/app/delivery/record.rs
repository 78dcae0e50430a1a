//! The record phase of a message: what each POST's outcome means (done, a
//! retry after the schedule's delay, the dead-letter queue), the endpoint's
//! health, and a deferral for an attempt whose endpoint did not answer in
//! this invocation; written in one record batch.

use super::claims::Prepared;
use super::{requeue, DeliveryOutcome, Handled, HttpClient, PostResult, QueueMessage, Send, Target, STRUGGLING_DEFER_SECONDS};
use crate::app::Services;
use crate::storage::webhooks::deliveries::{Attempt, AttemptRecord, Health, Records};
use crate::storage::Db;
use crate::support::time::Millis;
use crate::webhook::circuit::{bucket_of, probe_interval, should_disable};
use crate::webhook::retry::{classify, next_delay, parse_retry_after, AttemptResult, MAX_QUEUE_DELAY};

/// The record batch of one message: each attempt's outcome, each endpoint's
/// health, and for an attempt skipped because its endpoint did not answer
/// in this invocation, a deferral.
pub(super) async fn finish<D: Db, H: HttpClient>(
    svc: &Services<'_, D>,
    http: &H,
    msg: &QueueMessage,
    prepared: Prepared,
    results: Vec<Option<(Millis, PostResult)>>,
) -> Handled {
    let (event_pos, targets, mut out) = match prepared {
        Prepared::Finished(h) => return h,
        Prepared::Ready { event_pos, targets, handled, .. } => (event_pos, targets, handled),
    };
    let mut records = Records::new();
    for (target, result) in targets.iter().zip(results) {
        let Some((at, result)) = result else {
            let due = http.now().plus_seconds(STRUGGLING_DEFER_SECONDS);
            records.deferred(&target.delivery_id, &due.to_rfc3339(), &attempt_of(msg, target));
            out.send.push(requeue(QueueMessage { endpoint_id: Some(target.endpoint_id.clone()), due_ms: 0, ..msg.clone() }, due, svc.now));
            out.outcomes.push(DeliveryOutcome::deferred(target.endpoint_id.clone(), msg));
            continue;
        };
        let (next, status) = record(svc, &mut records, msg, target, event_pos, at, &result);
        out.outcomes.push(DeliveryOutcome {
            endpoint_id: target.endpoint_id.clone(),
            attempt: msg.attempt.max(1),
            status,
            response_code: result.status,
            ms: result.duration_ms,
            probe: target.probe,
        });
        match next {
            Next::Done => {}
            Next::Retry(s) => out.send.push(s),
            Next::Dead(m) => out.dead.push(m),
        }
    }
    if !records.is_empty() {
        let [data] = svc.data_all();
        if let Err(e) = records.run(svc.control(), data).await {
            // The attempts happened but are not recorded: their claims stay
            // 'sending' and the sweeper schedules the next attempt.
            out.error = Some(format!("could not record webhook attempts: {e}"));
        }
    }
    out
}

/// The attempt this message makes to the target.
fn attempt_of<'a>(msg: &'a QueueMessage, target: &'a Target) -> Attempt<'a> {
    Attempt { event_id: &msg.event_id, endpoint_id: &target.endpoint_id, chain: msg.chain(), attempt: msg.attempt.max(1) }
}

#[derive(Debug, PartialEq)]
pub(super) enum Next {
    Done,
    Retry(Send),
    Dead(QueueMessage),
}

/// Records one POST to a claimed endpoint started at `at`; returns what
/// comes next, and the attempt's status.
fn record<D: Db>(
    svc: &Services<'_, D>,
    records: &mut Records,
    msg: &QueueMessage,
    target: &Target,
    event_pos: i64,
    at: Millis,
    result: &PostResult,
) -> (Next, &'static str) {
    let attempt = &attempt_of(msg, target);
    let ts = at.seconds();
    let verdict = match result.status {
        Some(s) => classify(s, result.retry_after.as_deref().and_then(|r| parse_retry_after(r, ts))),
        None => AttemptResult::Failed { status: None, retry_after: None },
    };
    let done_at = Millis(at.0 + result.duration_ms);
    let done_text = done_at.to_rfc3339();
    let started_at = at.to_rfc3339();
    fn row<'a>(status: &'a str, result: &'a PostResult, next_attempt_at: Option<&'a str>, started_at: &'a str) -> AttemptRecord<'a> {
        AttemptRecord { status, response_code: result.status, duration_ms: result.duration_ms, error: result.error.as_deref(), next_attempt_at, started_at }
    }
    let cfg = svc.cfg;
    let reopen_at = done_at
        .plus_seconds(i64::try_from(probe_interval(target.circuit_opens, cfg.circuit_probe_seconds, cfg.circuit_max_probe_seconds)).unwrap_or(i64::MAX / 2_000))
        .to_rfc3339();
    let hold_until = result.status.is_none().then(|| done_at.plus_seconds(STRUGGLING_DEFER_SECONDS).to_rfc3339());
    let health = |failed: bool| Health {
        endpoint_id: &target.endpoint_id,
        failed,
        at: &done_text,
        event_pos,
        token: &target.claim_token,
        threshold: cfg.circuit_threshold,
        reopen_at: &reopen_at,
        bucket: bucket_of(done_at),
        hold_until: hold_until.as_deref(),
    };
    match verdict {
        AttemptResult::Delivered => {
            records.attempted(&target.delivery_id, attempt, &row("succeeded", result, None, &started_at));
            records.health(&health(false));
            (Next::Done, "succeeded")
        }
        AttemptResult::Gone => {
            records.attempted(&target.delivery_id, attempt, &row("gone", result, None, &started_at));
            records.health(&health(true));
            records.disable(&target.endpoint_id, "The receiver answered 410 Gone", &done_text);
            (Next::Done, "gone")
        }
        AttemptResult::Failed { retry_after, .. } => {
            let mut jitter = [0u8; 2];
            svc.entropy.fill(&mut jitter);
            let j = u32::from(u16::from_le_bytes(jitter)) % 1001;
            let next = after_failure(msg, &target.endpoint_id, done_at, &cfg.retry_schedule, j, retry_after);
            let status = match &next {
                Next::Retry(s) => {
                    records.attempted(&target.delivery_id, attempt, &row("retrying", result, Some(&Millis(s.message.due_ms).to_rfc3339()), &started_at));
                    "retrying"
                }
                _ => {
                    records.attempted(&target.delivery_id, attempt, &row("failed", result, None, &started_at));
                    "failed"
                }
            };
            records.health(&health(true));
            if should_disable(target.failing_since.as_deref(), done_at, cfg.disable_after_seconds) {
                let since = target.failing_since.as_deref().unwrap_or_default();
                let reason = format!("Every attempt failed since {since} (more than {} seconds)", cfg.disable_after_seconds);
                records.disable(&target.endpoint_id, &reason, &done_text);
            }
            (next, status)
        }
    }
}

/// What follows a failed attempt: the next attempt, due after the schedule's
/// delay (a Queue delay of at most 12 hours; the message carries its due
/// time, so a longer wait is chained), or the dead-letter queue.
fn after_failure(msg: &QueueMessage, endpoint_id: &str, at: Millis, schedule: &[u64], jitter: u32, retry_after: Option<u64>) -> Next {
    let attempt = msg.attempt.max(1);
    let message = QueueMessage { endpoint_id: Some(endpoint_id.to_string()), attempt: attempt + 1, due_ms: 0, ..msg.clone() };
    match next_delay(schedule, attempt, jitter, retry_after) {
        Some(delay) => {
            let due = at.plus_seconds(i64::try_from(delay).unwrap_or(i64::MAX));
            let delay_seconds = u32::try_from(delay.min(MAX_QUEUE_DELAY)).unwrap_or(0);
            Next::Retry(Send { message: QueueMessage { due_ms: due.0, ..message }, delay_seconds })
        }
        None => Next::Dead(QueueMessage { attempt, ..message }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::config::DEFAULT_RETRY_SCHEDULE;

    fn msg(attempt: u32) -> QueueMessage {
        QueueMessage { event_id: "event_1".into(), endpoint_id: Some("endpoint_1".into()), attempt, due_ms: 0, chain: None }
    }

    #[test]
    fn a_wait_past_the_queue_maximum_is_queued_for_twelve_hours_with_its_due_time() {
        // After attempt 9 the schedule waits 24 h (86,400 s).
        let Next::Retry(s) = after_failure(&msg(9), "endpoint_1", Millis(1_000_000), &DEFAULT_RETRY_SCHEDULE, 500, None) else { panic!("expected a retry") };
        assert_eq!(s.delay_seconds, u32::try_from(MAX_QUEUE_DELAY).unwrap());
        assert_eq!(s.message.due_ms, 1_000_000 + 86_400_000);
        assert_eq!(s.message.attempt, 10);
    }

    #[test]
    fn the_last_attempt_goes_to_the_dead_letter_queue() {
        let next = after_failure(&msg(10), "endpoint_1", Millis(0), &DEFAULT_RETRY_SCHEDULE, 500, None);
        assert_eq!(next, Next::Dead(QueueMessage { attempt: 10, ..msg(10) }));
    }

    #[test]
    fn a_retry_keeps_its_chain() {
        let m = QueueMessage { chain: Some("redelivery_1".into()), ..msg(1) };
        let Next::Retry(s) = after_failure(&m, "endpoint_1", Millis(0), &DEFAULT_RETRY_SCHEDULE, 500, None) else { panic!() };
        assert_eq!(s.message.chain(), "redelivery_1");
        assert_eq!(s.delay_seconds, 5);
    }
}
