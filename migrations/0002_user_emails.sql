-- Email addresses of users, so IdP matching on emails (Entra's
-- `emails[type eq "work"].value eq "…"`, PingFederate's `emails eq "…"`)
-- finds the user through an index instead of reading every user's JSON.
-- Maintained in the same batches as the users rows it mirrors.
CREATE TABLE user_emails (
  user_id      TEXT NOT NULL,
  directory_id TEXT NOT NULL,
  value        TEXT NOT NULL,
  PRIMARY KEY (user_id, value)
) WITHOUT ROWID;
CREATE INDEX user_emails_value ON user_emails (directory_id, value COLLATE NOCASE);
