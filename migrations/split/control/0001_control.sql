-- The control database: who the customers are and who may call.
-- Consolidated from migrations/0001–0004 (see ../README.md).

CREATE TABLE organizations (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  external_id TEXT,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX organizations_external_id ON organizations (external_id) WHERE external_id IS NOT NULL;

CREATE TABLE domains (
  hostname        TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  created_at      TEXT NOT NULL
);
CREATE INDEX domains_organization ON domains (organization_id);

-- The registry: name, provider and state are authoritative here.
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
  updated_at                 TEXT NOT NULL,
  consecutive_failures       INTEGER NOT NULL DEFAULT 0,
  failing_since              TEXT,
  failing_pos                INTEGER,
  circuit_open_until         TEXT,
  circuit_opens              INTEGER NOT NULL DEFAULT 0,
  probe_claim                TEXT,
  hold_until                 TEXT,
  health_bucket              INTEGER NOT NULL DEFAULT 0,
  bucket_attempts            INTEGER NOT NULL DEFAULT 0,
  bucket_failures            INTEGER NOT NULL DEFAULT 0,
  prev_attempts              INTEGER NOT NULL DEFAULT 0,
  prev_failures              INTEGER NOT NULL DEFAULT 0,
  disabled_pos               INTEGER,
  catchup_pos                INTEGER,
  catchup_end                INTEGER,
  catchup_chain              TEXT
);

CREATE TABLE guard (
  reason TEXT,
  CONSTRAINT precondition_failed CHECK (reason IS NULL)
);
