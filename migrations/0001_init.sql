-- Rollcall schema, version 1.
-- Applied by `wrangler d1 migrations apply` (D1) and by the native tests (SQLite).
-- Times are RFC 3339 text with milliseconds ("2026-11-23T08:00:00.000Z"), so text order is time order.

CREATE TABLE organizations (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  external_id TEXT,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX organizations_external_id ON organizations (external_id) WHERE external_id IS NOT NULL;

-- Whitelabel hostnames, lower-case, each mapped to one organisation.
CREATE TABLE domains (
  hostname        TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  created_at      TEXT NOT NULL
);
CREATE INDEX domains_organization ON domains (organization_id);

-- state: pending -> linked (first authenticated SCIM call) ; deleting while its rows are removed.
-- event_seq: the last event sequence number given out in this directory (gapless, per directory).
-- user_count, group_count: kept in the same batches as inserts and deletes, so an unfiltered
-- SCIM list answers totalResults without counting the directory.
CREATE TABLE directories (
  id              TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  name            TEXT NOT NULL,
  provider        TEXT NOT NULL,
  state           TEXT NOT NULL DEFAULT 'pending',
  event_seq       INTEGER NOT NULL DEFAULT 0,
  user_count      INTEGER NOT NULL DEFAULT 0,
  group_count     INTEGER NOT NULL DEFAULT 0,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);
CREATE INDEX directories_organization ON directories (organization_id, id);

-- SCIM credentials: bearer tokens and OAuth2 client secrets, stored as SHA-256 hex only.
CREATE TABLE directory_tokens (
  id           TEXT PRIMARY KEY,
  directory_id TEXT NOT NULL,
  kind         TEXT NOT NULL DEFAULT 'bearer',
  token_hash   TEXT NOT NULL UNIQUE,
  hint         TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  last_used_at TEXT
);
CREATE INDEX directory_tokens_directory ON directory_tokens (directory_id, id);

-- resource: the SCIM resource as stored (canonical attribute names; no id, meta, groups, password).
-- The columns beside it are copies of what filters, sorting and uniqueness need indexed.
CREATE TABLE users (
  id           TEXT PRIMARY KEY,
  directory_id TEXT NOT NULL,
  user_name    TEXT NOT NULL,
  external_id  TEXT,
  display_name TEXT,
  active       INTEGER NOT NULL DEFAULT 1,
  resource     TEXT NOT NULL,
  version      INTEGER NOT NULL DEFAULT 1,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL
);
-- userName is unique per directory, compared case-insensitively (RFC 7643 §4.1.1 caseExact false).
CREATE UNIQUE INDEX users_user_name ON users (directory_id, user_name COLLATE NOCASE);
CREATE INDEX users_directory ON users (directory_id, id);
-- Ends in id so an externalId match comes out in the list order (no scan of the directory to sort).
CREATE INDEX users_external_id ON users (directory_id, external_id, id);

CREATE TABLE groups (
  id           TEXT PRIMARY KEY,
  directory_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  external_id  TEXT,
  resource     TEXT NOT NULL,
  version      INTEGER NOT NULL DEFAULT 1,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX groups_display_name ON groups (directory_id, display_name COLLATE NOCASE);
CREATE INDEX groups_directory ON groups (directory_id, id);
CREATE INDEX groups_external_id ON groups (directory_id, external_id, id);

-- One row per membership, so a change to one member never reads or rewrites the others.
CREATE TABLE memberships (
  group_id     TEXT NOT NULL,
  user_id      TEXT NOT NULL,
  directory_id TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships (user_id, group_id);
CREATE INDEX memberships_directory ON memberships (directory_id);

-- The outbox and the ordered event log at once. pos is the global commit order;
-- sequence is per directory, strictly increasing and gapless.
CREATE TABLE events (
  pos             INTEGER PRIMARY KEY AUTOINCREMENT,
  id              TEXT NOT NULL UNIQUE,
  directory_id    TEXT NOT NULL,
  organization_id TEXT NOT NULL,
  sequence        INTEGER NOT NULL,
  event           TEXT NOT NULL,
  data            TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  dispatched_at   TEXT,
  UNIQUE (directory_id, sequence)
);
CREATE INDEX events_organization ON events (organization_id, pos);
CREATE INDEX events_undispatched ON events (created_at) WHERE dispatched_at IS NULL;

-- Signing secrets are sealed (ChaCha20-Poly1305 under ENCRYPTION_KEY), never plain.
CREATE TABLE webhook_endpoints (
  id                         TEXT PRIMARY KEY,
  url                        TEXT NOT NULL,
  events                     TEXT,
  state                      TEXT NOT NULL DEFAULT 'enabled',
  disabled_reason            TEXT,
  secret_sealed              TEXT NOT NULL,
  previous_secret_sealed     TEXT,
  previous_secret_expires_at TEXT,
  created_at                 TEXT NOT NULL,
  updated_at                 TEXT NOT NULL
);

-- Every delivery attempt of an event to an endpoint. An attempt is claimed
-- (status 'sending') before the POST: the unique key makes a duplicate Queue
-- message (a sweep, an at-least-once redelivery) claim nothing, so retry
-- chains never multiply. chain is 'main', or a redelivery's own id.
CREATE TABLE deliveries (
  id              TEXT PRIMARY KEY,
  event_id        TEXT NOT NULL,
  endpoint_id     TEXT NOT NULL,
  chain           TEXT NOT NULL DEFAULT 'main',
  attempt         INTEGER NOT NULL,
  claim           TEXT,
  status          TEXT NOT NULL,
  response_code   INTEGER,
  duration_ms     INTEGER,
  error           TEXT,
  next_attempt_at TEXT,
  created_at      TEXT NOT NULL,
  UNIQUE (event_id, endpoint_id, chain, attempt)
);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);
CREATE INDEX deliveries_claim ON deliveries (claim) WHERE claim IS NOT NULL;

-- Preconditions inside a D1 batch: `INSERT INTO guard SELECT 'why' WHERE NOT (…)`
-- violates the CHECK and rolls the whole batch back; when the condition holds it writes nothing.
CREATE TABLE guard (
  reason TEXT,
  CONSTRAINT precondition_failed CHECK (reason IS NULL)
);

-- Retries whose next attempt is overdue, and attempts claimed but never
-- recorded (a crash mid-POST), are found here by the sweeper.
CREATE INDEX deliveries_retrying ON deliveries (next_attempt_at) WHERE status = 'retrying';
CREATE INDEX deliveries_sending ON deliveries (created_at) WHERE status = 'sending';
