-- The IT admin's set-up portal (issue 12).
--
-- Control: one-time links (`POST /portal/generate_link`) and the sessions
-- they are exchanged for. Only SHA-256 hashes of the link secret and the
-- session cookie are stored. A link is used at most once: redeeming sets
-- `used_at` and names the session it became (`session_hash`), in one
-- statement, so two concurrent redeems cannot both win. Expired rows are
-- removed by the cron in bounded rounds.
CREATE TABLE portal_links (
  token_hash      TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  -- The whitelabel hostname the link was made for; NULL = the default hostnames.
  host            TEXT,
  -- The application's id for the admin it was made for (WorkOS's
  -- external_user_id), so that POST /portal/revoke_link can end it.
  external_user_id TEXT,
  created_at      TEXT NOT NULL,
  expires_at      TEXT NOT NULL,
  used_at         TEXT,
  session_hash    TEXT
);
CREATE INDEX portal_links_expiry ON portal_links (expires_at);
CREATE INDEX portal_links_user ON portal_links (organization_id, external_user_id) WHERE external_user_id IS NOT NULL;

CREATE TABLE portal_sessions (
  session_hash    TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  host            TEXT,
  external_user_id TEXT,
  created_at      TEXT NOT NULL,
  expires_at      TEXT NOT NULL
);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);
CREATE INDEX portal_sessions_user ON portal_sessions (organization_id, external_user_id) WHERE external_user_id IS NOT NULL;

-- Data: the recent SCIM requests of each directory, for the portal's
-- request debugger. A ring: request `n` of a directory is written with
-- n = last + 1 and the rows at or below n - 50 are deleted in the same
-- batch, so a directory never holds more than 50. No body, header,
-- token or password is stored: the route, the resource id, the filter
-- with its values masked, the status and SCIM error, the IdP recognised
-- from the request's shape, its User-Agent (cut to 120 characters), the
-- ids of the events the request caused.
CREATE TABLE scim_requests (
  directory_id TEXT NOT NULL,
  n            INTEGER NOT NULL,
  at           TEXT NOT NULL,
  method       TEXT NOT NULL,
  route        TEXT NOT NULL,
  resource_id  TEXT,
  query        TEXT,
  status       INTEGER NOT NULL,
  scim_type    TEXT,
  detail       TEXT,
  idp          TEXT,
  user_agent   TEXT,
  results      INTEGER,
  event_ids    TEXT NOT NULL DEFAULT '[]',
  ms           INTEGER,
  PRIMARY KEY (directory_id, n)
) WITHOUT ROWID;

-- Refused credentials per directory, one row each (counted, not listed,
-- so a caller without a token cannot push the real requests out of the
-- ring). Written only for a directory that exists.
CREATE TABLE scim_auth_failures (
  directory_id TEXT PRIMARY KEY,
  count        INTEGER NOT NULL,
  first_at     TEXT NOT NULL,
  last_at      TEXT NOT NULL,
  reason       TEXT NOT NULL,
  idp          TEXT,
  user_agent   TEXT
);
