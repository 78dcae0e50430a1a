-- A data database: the directories it holds, their users, groups,
-- memberships, events and deliveries. Consolidated from migrations/0001–0004
-- (see ../README.md).

-- One row per directory held here: organization_id, state (kept in step
-- with the control database's), event_seq and the counts are used; name
-- and provider are copies.
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
CREATE UNIQUE INDEX users_user_name ON users (directory_id, user_name COLLATE NOCASE);
CREATE INDEX users_directory ON users (directory_id, id);
CREATE INDEX users_external_id ON users (directory_id, external_id, id);

CREATE TABLE user_emails (
  user_id      TEXT NOT NULL,
  directory_id TEXT NOT NULL,
  value        TEXT NOT NULL,
  PRIMARY KEY (user_id, value)
) WITHOUT ROWID;
CREATE INDEX user_emails_value ON user_emails (directory_id, value COLLATE NOCASE);

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

CREATE TABLE memberships (
  group_id     TEXT NOT NULL,
  user_id      TEXT NOT NULL,
  directory_id TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships (user_id, group_id);
CREATE INDEX memberships_directory ON memberships (directory_id);

CREATE TABLE group_removals (
  id           TEXT PRIMARY KEY,
  group_id     TEXT NOT NULL,
  directory_id TEXT NOT NULL,
  -- The group as the application saw it when the removal was decided (event data).
  group_view   TEXT NOT NULL,
  deleted      INTEGER NOT NULL,
  created_at   TEXT NOT NULL
);
CREATE INDEX group_removals_group ON group_removals (group_id);
CREATE INDEX group_removals_order ON group_removals (created_at, id);
CREATE INDEX group_removals_directory ON group_removals (directory_id);

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
CREATE INDEX deliveries_retrying ON deliveries (next_attempt_at) WHERE status = 'retrying';
CREATE INDEX deliveries_sending ON deliveries (created_at) WHERE status = 'sending';
CREATE INDEX deliveries_deferred ON deliveries (next_attempt_at) WHERE status = 'deferred';

CREATE TABLE guard (
  reason TEXT,
  CONSTRAINT precondition_failed CHECK (reason IS NULL)
);
