-- Pull reconciliation (issue 13): per directory, optional settings to read
-- the IdP's own SCIM API with OAuth2 client credentials, and the state of
-- the run in progress. Control database: the control half of migrations/0006_pull.sql.
--
-- The client secret is sealed (ChaCha20-Poly1305 under ENCRYPTION_KEY,
-- bound to the directory id), never plain; the API never answers it.
CREATE TABLE directory_pulls (
  directory_id     TEXT PRIMARY KEY,
  scim_url         TEXT NOT NULL,
  token_url        TEXT NOT NULL,
  client_id        TEXT NOT NULL,
  secret_sealed    TEXT NOT NULL,
  scope            TEXT,
  -- 'basic' (HTTP Basic) or 'body' (client_id and client_secret in the form).
  token_auth       TEXT NOT NULL DEFAULT 'basic',
  interval_minutes INTEGER NOT NULL,
  -- When the cron starts the next run.
  next_run_at      TEXT,
  -- The run in progress (JSON, NULL when none): its id, trigger, phase,
  -- cursor, counts and changes so far. A run is worked on by one
  -- invocation at a time: the one whose lease (a random id) is in `lease`
  -- until `lease_until`; every write of progress is conditioned on it.
  run              TEXT,
  lease            TEXT,
  lease_until      TEXT,
  -- The last finished run (JSON), as the API shows it.
  last_run         TEXT,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE INDEX directory_pulls_due ON directory_pulls (next_run_at);

-- The IdP's listing of a run that did not fit one invocation: one row per
-- page read (what the diff needs of it, as JSON), removed when the run ends.
-- A run that fits one invocation keeps its pages in memory and writes none.
CREATE TABLE pull_pages (
  directory_id TEXT NOT NULL,
  run_id       TEXT NOT NULL,
  kind         TEXT NOT NULL,
  start_index  INTEGER NOT NULL,
  items        TEXT NOT NULL,
  PRIMARY KEY (directory_id, run_id, kind, start_index)
) WITHOUT ROWID;
