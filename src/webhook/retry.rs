//! When to try a webhook delivery again (docs/PRODUCT.md § Webhooks).

/// Cloudflare Queues delay a message by at most 12 hours; longer waits are
/// chained: the message carries its due time and is re-queued until then.
pub const MAX_QUEUE_DELAY: u64 = 43_200;

/// The longest `Retry-After` we honour.
pub const MAX_RETRY_AFTER: u64 = 86_400;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// 2xx.
    Delivered,
    /// 410 Gone: the receiver asks us to stop; the endpoint is disabled.
    Gone,
    /// Anything else: status (None for a timeout or network error) and the
    /// receiver's `Retry-After` in seconds.
    Failed { status: Option<u16>, retry_after: Option<u64> },
}

/// Classifies a response.
pub fn classify(status: u16, retry_after: Option<u64>) -> AttemptResult {
    match status {
        200..=299 => AttemptResult::Delivered,
        410 => AttemptResult::Gone,
        _ => AttemptResult::Failed { status: Some(status), retry_after },
    }
}

/// Seconds to wait before attempt `attempt + 1`, after attempt `attempt`
/// (1-based) failed; None when the schedule is exhausted. `schedule[0]` is
/// the first attempt's delay (immediately), `schedule[n]` the delay before
/// attempt n+1. Jitter spreads retries by up to ±20% (`jitter` in 0..=1000),
/// and a receiver's `Retry-After` is a lower bound.
pub fn next_delay(schedule: &[u64], attempt: u32, jitter: u32, retry_after: Option<u64>) -> Option<u64> {
    let base = *schedule.get(usize::try_from(attempt).ok()?)?;
    let spread = base / 5;
    let j = u64::from(jitter.min(1000));
    let jittered = base - spread + (2 * spread * j) / 1000;
    Some(jittered.max(retry_after.unwrap_or(0).min(MAX_RETRY_AFTER)))
}

/// Parses `Retry-After`: delta-seconds or an IMF-fixdate (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now_secs: i64) -> Option<u64> {
    let v = value.trim();
    if let Ok(n) = v.parse::<u64>() {
        return Some(n);
    }
    // "Wed, 21 Oct 2015 07:28:00 GMT"
    let mut parts = v.split_whitespace().skip(1);
    let day: u32 = parts.next()?.parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].iter().position(|m| Some(*m) == parts.clone().next())? + 1;
    parts.next();
    let year: i64 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    let iso = format!("{year:04}-{month:02}-{day:02}T{time}Z");
    let at = crate::support::time::parse_rfc3339(&iso)?;
    Some(u64::try_from(at.seconds() - now_secs).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::config::DEFAULT_RETRY_SCHEDULE;

    #[test]
    fn the_schedule_spans_about_three_days_and_ends() {
        let total: u64 = (1..10).map(|a| next_delay(&DEFAULT_RETRY_SCHEDULE, a, 500, None).unwrap()).sum();
        assert!((2 * 86_400..4 * 86_400).contains(&total), "{total}");
        assert_eq!(next_delay(&DEFAULT_RETRY_SCHEDULE, 10, 500, None), None);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        assert_eq!(next_delay(&[0, 300], 1, 0, None), Some(240));
        assert_eq!(next_delay(&[0, 300], 1, 1000, None), Some(360));
        assert_eq!(next_delay(&[0, 300], 1, 500, None), Some(300));
    }

    #[test]
    fn retry_after_is_a_lower_bound() {
        assert_eq!(next_delay(&[0, 5], 1, 500, Some(120)), Some(120));
        assert_eq!(next_delay(&[0, 5], 1, 500, Some(10_000_000)), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        assert_eq!(parse_retry_after("30", 0), Some(30));
        let now = crate::support::time::parse_rfc3339("2015-10-21T07:27:00Z").unwrap().seconds();
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(60));
        assert_eq!(parse_retry_after("soon", 0), None);
    }

    #[test]
    fn responses_are_classified() {
        assert_eq!(classify(204, None), AttemptResult::Delivered);
        assert_eq!(classify(410, None), AttemptResult::Gone);
        assert_eq!(classify(429, Some(3)), AttemptResult::Failed { status: Some(429), retry_after: Some(3) });
    }
}
