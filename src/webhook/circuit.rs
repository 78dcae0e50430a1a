//! Endpoint health: when a run of failures opens an endpoint's circuit,
//! when its next probe may go out, when a failing endpoint is disabled, and
//! its recent failure rate from two hourly counters (issue 9).
//!
//! The counters live on the endpoint row and are updated by SQL relative to
//! their stored values (concurrent attempts never lose an increment); the
//! decisions that need a clock or a schedule are made here.

use crate::support::time::{parse_rfc3339, Millis};

/// The recent failure rate is counted per hour: this hour and the one before.
pub const HEALTH_BUCKET_SECONDS: i64 = 3_600;

/// Seconds until the next probe of a circuit that has opened `opens` times
/// in a row before (0 for the first opening): `base`, doubling after every
/// failed probe, never more than `cap`.
pub fn probe_interval(opens: u32, base: u64, cap: u64) -> u64 {
    let factor = 1u64.checked_shl(opens.min(32)).unwrap_or(u64::MAX);
    base.saturating_mul(factor).min(cap.max(base))
}

/// Whether a failure opens (or, for a failed probe, re-opens) the circuit:
/// a probe that fails always does; otherwise a closed circuit opens when the
/// failures in a row reach the threshold.
pub fn failure_opens(consecutive_after: i64, threshold: u32, was_open: bool, probe: bool) -> bool {
    probe || (!was_open && consecutive_after >= i64::from(threshold))
}

/// Whether an endpoint that has been failing since `failing_since` (None:
/// this failure starts the run) is to be disabled at `now`.
pub fn should_disable(failing_since: Option<&str>, now: Millis, window_seconds: u64) -> bool {
    let window = i64::try_from(window_seconds).unwrap_or(i64::MAX);
    failing_since.and_then(parse_rfc3339).is_some_and(|since| now.0.saturating_sub(since.0) >= window.saturating_mul(1000))
}

/// The hour `now` falls in.
pub fn bucket_of(now: Millis) -> i64 {
    now.seconds().div_euclid(HEALTH_BUCKET_SECONDS)
}

/// The counters stored on an endpoint row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub bucket: i64,
    pub attempts: i64,
    pub failures: i64,
    pub prev_attempts: i64,
    pub prev_failures: i64,
}

/// Attempts and failures over this hour and the previous one, as seen at
/// `now`: counters of an older hour no longer count.
pub fn recent(c: Counters, now: Millis) -> (i64, i64) {
    let current = bucket_of(now);
    if c.bucket == current {
        (c.attempts + c.prev_attempts, c.failures + c.prev_failures)
    } else if c.bucket == current - 1 {
        (c.attempts, c.failures)
    } else {
        (0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_interval_doubles_after_each_failed_probe_up_to_its_cap() {
        let got: Vec<u64> = (0..6).map(|n| probe_interval(n, 30, 200)).collect();
        assert_eq!(got, vec![30, 60, 120, 200, 200, 200]);
        assert_eq!(probe_interval(u32::MAX, 30, 3_600), 3_600);
        // A cap below the start is the start.
        assert_eq!(probe_interval(3, 30, 10), 30);
    }

    #[test]
    fn a_closed_circuit_opens_at_the_threshold_and_a_failed_probe_reopens_it() {
        assert!(!failure_opens(4, 5, false, false));
        assert!(failure_opens(5, 5, false, false));
        // Failures that were already in flight when it opened keep its probe time.
        assert!(!failure_opens(9, 5, true, false));
        assert!(failure_opens(9, 5, true, true));
    }

    #[test]
    fn an_endpoint_is_disabled_once_it_has_failed_for_the_whole_window() {
        let now = parse_rfc3339("2026-11-30T12:00:00.000Z").unwrap();
        assert!(!should_disable(None, now, 20));
        assert!(!should_disable(Some("2026-11-30T11:59:41.000Z"), now, 20));
        assert!(should_disable(Some("2026-11-30T11:59:40.000Z"), now, 20));
        assert!(should_disable(Some("2026-11-25T12:00:00.000Z"), now, 432_000));
        assert!(!should_disable(Some("not a time"), now, 20));
    }

    #[test]
    fn the_recent_rate_counts_this_hour_and_the_last_and_forgets_older_ones() {
        let now = Millis(10 * HEALTH_BUCKET_SECONDS * 1000 + 5);
        let c = Counters { bucket: 10, attempts: 4, failures: 1, prev_attempts: 6, prev_failures: 6 };
        assert_eq!(recent(c, now), (10, 7));
        assert_eq!(recent(Counters { bucket: 9, ..c }, now), (4, 1));
        assert_eq!(recent(Counters { bucket: 7, ..c }, now), (0, 0));
    }
}
