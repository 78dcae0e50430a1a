-- The SCIM request log: the data half of migrations/0005_portal.sql.

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
