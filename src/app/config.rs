//! Settings read from the Worker's `vars` and secrets.

/// Webhook retry delays in seconds after each failed attempt (PRODUCT.md
/// § Webhooks: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h).
pub const DEFAULT_RETRY_SCHEDULE: [u64; 10] = [0, 5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400];

#[derive(Debug, Clone)]
pub struct Config {
    /// Hostnames that serve the management API (`DEFAULT_HOSTS`, comma-separated).
    pub default_hosts: Vec<String>,
    /// `ADMIN_API_KEY` secret; empty disables the management API.
    pub admin_api_key: String,
    /// `ENCRYPTION_KEY` secret, seals webhook signing secrets at rest.
    pub encryption_key: String,
    /// Largest request body accepted, advertised as SCIM `maxPayloadSize`.
    pub max_payload: usize,
    /// Largest SCIM page (`filter.maxResults`).
    pub max_results: usize,
    /// Delay in seconds before attempt n+1 after attempt n failed.
    pub retry_schedule: Vec<u64>,
    /// Webhook request timeout.
    pub webhook_timeout_ms: u64,
    /// Seconds an event may stay unpublished before the sweeper republishes it.
    pub outbox_grace_seconds: i64,
    /// Add `x-rollcall-d1-*` cost headers to responses (benchmarks, tests).
    pub expose_cost: bool,
    /// Test-only: make every Queue send from the fetch handler fail.
    pub fail_queue_send: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_hosts: vec!["localhost".into(), "127.0.0.1".into()],
            admin_api_key: String::new(),
            encryption_key: String::new(),
            max_payload: 1_048_576,
            max_results: 500,
            retry_schedule: DEFAULT_RETRY_SCHEDULE.to_vec(),
            webhook_timeout_ms: 10_000,
            outbox_grace_seconds: 120,
            expose_cost: false,
            fail_queue_send: false,
        }
    }
}

impl Config {
    /// Builds the config from a lookup of `vars`/secrets by name.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let d = Config::default();
        let num = |k: &str| get(k).and_then(|v| v.trim().parse::<u64>().ok());
        let flag = |k: &str| get(k).is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
        Config {
            default_hosts: get("DEFAULT_HOSTS")
                .map(|v| v.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
                .unwrap_or(d.default_hosts),
            admin_api_key: get("ADMIN_API_KEY").unwrap_or_default(),
            encryption_key: get("ENCRYPTION_KEY").unwrap_or_default(),
            max_payload: num("MAX_PAYLOAD_BYTES").map_or(d.max_payload, |n| n as usize),
            max_results: num("MAX_RESULTS").map_or(d.max_results, |n| n as usize),
            retry_schedule: get("WEBHOOK_RETRY_SCHEDULE")
                .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect::<Vec<u64>>())
                .filter(|v| !v.is_empty())
                .unwrap_or(d.retry_schedule),
            webhook_timeout_ms: num("WEBHOOK_TIMEOUT_MS").unwrap_or(d.webhook_timeout_ms),
            outbox_grace_seconds: num("OUTBOX_GRACE_SECONDS").map_or(d.outbox_grace_seconds, |n| n as i64),
            expose_cost: flag("EXPOSE_COST"),
            fail_queue_send: flag("TEST_FAIL_QUEUE_SEND"),
        }
    }

    pub fn is_default_host(&self, host: &str) -> bool {
        self.default_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_vars_and_keeps_defaults() {
        let c = Config::from_lookup(|k| match k {
            "DEFAULT_HOSTS" => Some("Rollcall.Example.com, localhost".into()),
            "WEBHOOK_RETRY_SCHEDULE" => Some("0,1,2".into()),
            "EXPOSE_COST" => Some("1".into()),
            _ => None,
        });
        assert!(c.is_default_host("rollcall.example.com"));
        assert_eq!(c.retry_schedule, vec![0, 1, 2]);
        assert!(c.expose_cost);
        assert_eq!(c.max_payload, 1_048_576);
    }
}
