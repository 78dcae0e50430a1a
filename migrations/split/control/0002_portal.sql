-- The portal's links and sessions: the control half of migrations/0005_portal.sql.

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
