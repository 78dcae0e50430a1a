-- Endpoint health (issue 9): a per-endpoint circuit breaker, counters for the
-- recent failure rate (O(1) to read: no scan of deliveries), and the cursor
-- that catches a re-enabled endpoint up on what it missed.
--
-- consecutive_failures: attempts failed in a row (reset by a success).
-- failing_since: when the current run of failures began (NULL when healthy);
--   an endpoint failing for WEBHOOK_DISABLE_AFTER_SECONDS is disabled.
-- failing_pos: the lowest events.pos that failed in this run, so a re-enable
--   can resume from there.
-- circuit_open_until: NULL = closed; else the circuit is open and no POST goes
--   out before this time (the next probe, or the end of a probe's lease).
-- circuit_opens: how many times in a row it opened (the probe interval grows).
-- probe_claim: the consumer token that holds the current probe.
-- hold_until: an attempt ended without an answer (a hung receiver): until
--   this time, attempts to it are deferred without a POST, so a burst of
--   events does not pay the first-byte timeout batch after batch while the
--   failures that open the circuit accumulate. Cleared by a success.
-- health_bucket: the hour (unix seconds / 3600) that bucket_* count;
--   prev_*: the hour before it.
-- disabled_pos: catch-up starts after this events.pos when re-enabled.
-- catchup_pos / catchup_end / catchup_chain: the sweeper schedules events
--   with catchup_pos < pos <= catchup_end as chain catchup_chain, in chunks.
ALTER TABLE webhook_endpoints ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN failing_since TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN failing_pos INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN circuit_open_until TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN circuit_opens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN probe_claim TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN hold_until TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN health_bucket INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN bucket_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN bucket_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN prev_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN prev_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_pos INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN catchup_pos INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN catchup_end INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN catchup_chain TEXT;

-- Attempts deferred while a circuit is open (status 'deferred', due at
-- next_attempt_at) whose Queue message was lost are found by the sweeper.
CREATE INDEX deliveries_deferred ON deliveries (next_attempt_at) WHERE status = 'deferred';
