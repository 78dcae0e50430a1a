//! Settings read from the Worker's `vars` and secrets. Every number is
//! clamped to a sane range (a typo in `wrangler.toml` never becomes a 5xx),
//! and the defaults are the production-safe ones: cost headers off, plain
//! http webhook URLs refused.

use crate::support::crypto::{derive_key, KeyUse, SecretBox, MIN_KEY_BYTES};

/// Webhook retry delays in seconds after each failed attempt (docs/PRODUCT.md
/// § Webhooks: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h).
pub const DEFAULT_RETRY_SCHEDULE: [u64; 10] = [0, 5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400];

/// Bounds of `MAX_PAYLOAD_BYTES`: D1 stores a resource in one row (2 MB at most).
pub const PAYLOAD_RANGE: (u64, u64) = (4_096, 2_097_152);
/// Bounds of `MAX_RESULTS` (SCIM `filter.maxResults`).
pub const MAX_RESULTS_RANGE: (u64, u64) = (1, 1_000);
/// Bounds of `WEBHOOK_TIMEOUT_MS`.
pub const WEBHOOK_TIMEOUT_RANGE: (u64, u64) = (100, 30_000);
/// Bounds of `WEBHOOK_FIRST_BYTE_TIMEOUT_MS` (and never above `WEBHOOK_TIMEOUT_MS`).
pub const FIRST_BYTE_TIMEOUT_RANGE: (u64, u64) = (100, 30_000);
/// Bounds of `WEBHOOK_CIRCUIT_THRESHOLD` (consecutive failures that open a circuit).
pub const CIRCUIT_THRESHOLD_RANGE: (u64, u64) = (1, 1_000);
/// Bounds of `WEBHOOK_CIRCUIT_PROBE_SECONDS` and `WEBHOOK_CIRCUIT_MAX_PROBE_SECONDS`
/// (a probe waits at most the Queue's maximum delay).
pub const CIRCUIT_PROBE_RANGE: (u64, u64) = (1, 43_200);
/// Bounds of `WEBHOOK_DISABLE_AFTER_SECONDS`: ten seconds (tests) to 30 days.
pub const DISABLE_AFTER_RANGE: (u64, u64) = (10, 30 * 86_400);
/// Bounds of `OUTBOX_GRACE_SECONDS`.
pub const PORTAL_LINK_RANGE: (u64, u64) = (1, 3600);
const OUTBOX_GRACE_RANGE: (u64, u64) = (1, 86_400);
/// At most this many retry delays, each at most a week.
pub const MAX_RETRY_STEPS: usize = 32;
pub const MAX_RETRY_DELAY_SECONDS: u64 = 7 * 86_400;

#[derive(Debug, Clone)]
pub struct Config {
    /// Hostnames that serve the management API (`DEFAULT_HOSTS`, comma-separated).
    pub default_hosts: Vec<String>,
    /// `ADMIN_API_KEY` secret; empty or shorter than 32 bytes disables the management API.
    pub admin_api_key: String,
    /// `ENCRYPTION_KEY` secret (at least 32 bytes): the master key from which
    /// one key per use is derived (HKDF).
    pub encryption_key: String,
    /// Largest request body accepted, advertised as SCIM `maxPayloadSize`.
    pub max_payload: usize,
    /// Largest SCIM page (`filter.maxResults`).
    pub max_results: usize,
    /// Delay in seconds before attempt n+1 after attempt n failed.
    pub retry_schedule: Vec<u64>,
    /// Webhook request timeout: the whole request, body included.
    pub webhook_timeout_ms: u64,
    /// Time to connect and receive the response headers (at most the whole
    /// timeout): a receiver that accepts and never answers costs this much.
    pub webhook_first_byte_timeout_ms: u64,
    /// Consecutive failed attempts that open an endpoint's circuit.
    pub circuit_threshold: u32,
    /// Seconds before the first probe of an open circuit; doubles after each
    /// failed probe, up to `circuit_max_probe_seconds`.
    pub circuit_probe_seconds: u64,
    pub circuit_max_probe_seconds: u64,
    /// An endpoint failing for this long is disabled.
    pub disable_after_seconds: u64,
    /// Seconds an event may stay unpublished before the sweeper republishes it.
    pub outbox_grace_seconds: i64,
    /// Add `x-rollcall-d1-*` cost headers to successful responses (benchmarks, tests).
    pub expose_cost: bool,
    /// Dev only (`ALLOW_HTTP_LOOPBACK_WEBHOOKS`): accept `http://` webhook URLs
    /// to loopback addresses. Production accepts `https://` only.
    pub allow_http_loopback_webhooks: bool,
    /// Test-only: make every Queue send from the fetch handler fail.
    pub fail_queue_send: bool,
    /// Seconds a set-up portal link can be redeemed (`PORTAL_LINK_SECONDS`, 1–3600).
    pub portal_link_seconds: i64,
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
            webhook_first_byte_timeout_ms: 3_000,
            circuit_threshold: 5,
            circuit_probe_seconds: 30,
            circuit_max_probe_seconds: 3_600,
            disable_after_seconds: 432_000,
            outbox_grace_seconds: 120,
            expose_cost: false,
            allow_http_loopback_webhooks: false,
            fail_queue_send: false,
            portal_link_seconds: 300,
        }
    }
}

fn clamp(n: u64, (lo, hi): (u64, u64)) -> u64 {
    n.clamp(lo, hi)
}

impl Config {
    /// Builds the config from a lookup of `vars`/secrets by name.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let d = Config::default();
        let num = |k: &str| get(k).and_then(|v| v.trim().parse::<u64>().ok());
        let flag = |k: &str| get(k).is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
        let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let webhook_timeout_ms = num("WEBHOOK_TIMEOUT_MS").map_or(d.webhook_timeout_ms, |n| clamp(n, WEBHOOK_TIMEOUT_RANGE));
        let circuit_probe_seconds = num("WEBHOOK_CIRCUIT_PROBE_SECONDS").map_or(d.circuit_probe_seconds, |n| clamp(n, CIRCUIT_PROBE_RANGE));
        Config {
            default_hosts: get("DEFAULT_HOSTS")
                .map(|v| v.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
                .unwrap_or(d.default_hosts),
            admin_api_key: get("ADMIN_API_KEY").unwrap_or_default(),
            encryption_key: get("ENCRYPTION_KEY").unwrap_or_default(),
            max_payload: num("MAX_PAYLOAD_BYTES").map_or(d.max_payload, |n| as_usize(clamp(n, PAYLOAD_RANGE))),
            max_results: num("MAX_RESULTS").map_or(d.max_results, |n| as_usize(clamp(n, MAX_RESULTS_RANGE))),
            retry_schedule: get("WEBHOOK_RETRY_SCHEDULE")
                .map(|v| {
                    v.split(',')
                        .filter_map(|s| s.trim().parse::<u64>().ok())
                        .map(|s| s.min(MAX_RETRY_DELAY_SECONDS))
                        .take(MAX_RETRY_STEPS)
                        .collect::<Vec<u64>>()
                })
                .filter(|v| !v.is_empty())
                .unwrap_or(d.retry_schedule),
            webhook_timeout_ms,
            webhook_first_byte_timeout_ms: num("WEBHOOK_FIRST_BYTE_TIMEOUT_MS")
                .map_or(d.webhook_first_byte_timeout_ms, |n| clamp(n, FIRST_BYTE_TIMEOUT_RANGE))
                .min(webhook_timeout_ms),
            circuit_threshold: num("WEBHOOK_CIRCUIT_THRESHOLD")
                .map_or(d.circuit_threshold, |n| u32::try_from(clamp(n, CIRCUIT_THRESHOLD_RANGE)).unwrap_or(d.circuit_threshold)),
            circuit_probe_seconds,
            circuit_max_probe_seconds: num("WEBHOOK_CIRCUIT_MAX_PROBE_SECONDS")
                .map_or(d.circuit_max_probe_seconds, |n| clamp(n, CIRCUIT_PROBE_RANGE))
                .max(circuit_probe_seconds),
            disable_after_seconds: num("WEBHOOK_DISABLE_AFTER_SECONDS").map_or(d.disable_after_seconds, |n| clamp(n, DISABLE_AFTER_RANGE)),
            outbox_grace_seconds: num("OUTBOX_GRACE_SECONDS").map_or(d.outbox_grace_seconds, |n| i64::try_from(clamp(n, OUTBOX_GRACE_RANGE)).unwrap_or(120)),
            expose_cost: flag("EXPOSE_COST"),
            allow_http_loopback_webhooks: flag("ALLOW_HTTP_LOOPBACK_WEBHOOKS"),
            fail_queue_send: flag("TEST_FAIL_QUEUE_SEND"),
            portal_link_seconds: num("PORTAL_LINK_SECONDS").map_or(d.portal_link_seconds, |n| i64::try_from(clamp(n, PORTAL_LINK_RANGE)).unwrap_or(300)),
        }
    }

    pub fn is_default_host(&self, host: &str) -> bool {
        self.default_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Why the admin key cannot be used, naming the setting, never its value.
    pub fn admin_key_problem(&self) -> Option<String> {
        key_problem("ADMIN_API_KEY", &self.admin_api_key)
    }

    /// Why the encryption key cannot be used, naming the setting, never its value.
    pub fn encryption_key_problem(&self) -> Option<String> {
        key_problem("ENCRYPTION_KEY", &self.encryption_key)
    }

    /// The key that MACs OAuth access tokens; None without a usable `ENCRYPTION_KEY`.
    pub fn oauth_key(&self) -> Option<[u8; 32]> {
        self.encryption_key_problem().is_none().then(|| derive_key(self.encryption_key.as_bytes(), KeyUse::OauthAccessTokens))
    }

    /// The box that seals webhook secrets; None without a usable `ENCRYPTION_KEY`.
    pub fn secret_box(&self) -> Option<SecretBox> {
        self.encryption_key_problem().is_none().then(|| SecretBox::new(&self.encryption_key))
    }
}

fn key_problem(name: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        Some(format!("{name} is not set"))
    } else if value.len() < MIN_KEY_BYTES {
        Some(format!("{name} is shorter than {MIN_KEY_BYTES} bytes; set a random value of at least {MIN_KEY_BYTES} bytes (e.g. `openssl rand -hex 32`)"))
    } else {
        None
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

    #[test]
    fn the_defaults_are_the_safe_ones() {
        let c = Config::from_lookup(|_| None);
        assert!(!c.expose_cost);
        assert!(!c.allow_http_loopback_webhooks);
        assert!(c.admin_key_problem().is_some());
        assert!(c.oauth_key().is_none() && c.secret_box().is_none());
    }

    #[test]
    fn numbers_out_of_range_are_clamped_not_trusted() {
        let c = Config::from_lookup(|k| match k {
            "MAX_PAYLOAD_BYTES" => Some("99999999999999".into()),
            "MAX_RESULTS" => Some("0".into()),
            "WEBHOOK_TIMEOUT_MS" => Some("18446744073709551615".into()),
            "OUTBOX_GRACE_SECONDS" => Some("0".into()),
            "WEBHOOK_RETRY_SCHEDULE" => Some(format!("99999999999,{}", "1,".repeat(100))),
            _ => None,
        });
        assert_eq!(c.max_payload, 2_097_152);
        assert_eq!(c.max_results, 1);
        assert_eq!(c.webhook_timeout_ms, 30_000);
        assert_eq!(c.webhook_first_byte_timeout_ms, 3_000);
        assert_eq!(c.outbox_grace_seconds, 1);
        assert_eq!(c.retry_schedule.len(), MAX_RETRY_STEPS);
        assert_eq!(c.retry_schedule.first(), Some(&MAX_RETRY_DELAY_SECONDS));
    }

    #[test]
    fn the_delivery_settings_are_clamped_and_kept_consistent() {
        let c = Config::from_lookup(|k| match k {
            "WEBHOOK_TIMEOUT_MS" => Some("2000".into()),
            "WEBHOOK_FIRST_BYTE_TIMEOUT_MS" => Some("5000".into()),
            "WEBHOOK_CIRCUIT_THRESHOLD" => Some("0".into()),
            "WEBHOOK_CIRCUIT_PROBE_SECONDS" => Some("600".into()),
            "WEBHOOK_CIRCUIT_MAX_PROBE_SECONDS" => Some("60".into()),
            "WEBHOOK_DISABLE_AFTER_SECONDS" => Some("1".into()),
            _ => None,
        });
        // The first-byte timeout never exceeds the whole-request timeout.
        assert_eq!(c.webhook_first_byte_timeout_ms, 2_000);
        assert_eq!(c.circuit_threshold, 1);
        // The cap of the probe interval is never below its start.
        assert_eq!((c.circuit_probe_seconds, c.circuit_max_probe_seconds), (600, 600));
        assert_eq!(c.disable_after_seconds, 10);
        let d = Config::from_lookup(|_| None);
        assert_eq!((d.webhook_first_byte_timeout_ms, d.circuit_threshold, d.disable_after_seconds), (3_000, 5, 432_000));
    }

    #[test]
    fn keys_shorter_than_32_bytes_are_refused_with_their_name_not_their_value() {
        let c = Config::from_lookup(|k| match k {
            "ADMIN_API_KEY" => Some("short-admin-key".into()),
            "ENCRYPTION_KEY" => Some("0123456789abcdef0123456789abcdef".into()),
            _ => None,
        });
        let why = c.admin_key_problem().unwrap_or_default();
        assert!(why.contains("ADMIN_API_KEY") && why.contains("32") && !why.contains("short-admin-key"));
        assert!(c.encryption_key_problem().is_none());
        assert!(c.oauth_key().is_some());
    }
}
