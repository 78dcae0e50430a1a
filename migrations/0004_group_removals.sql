-- Large fan-outs (issue 9): memberships whose end is decided but not yet
-- told to the application, removed in bounded chunks (each chunk deletes
-- up to 500 membership rows and writes their dsync.group.user_removed
-- events in one batch) by the fetch handler's wait_until and the cron.
--
-- The pending memberships are the rows of `memberships` whose group_id is
-- this row's id:
-- - a deleted group (deleted = 1): id is the group's own id; its `groups`
--   row is gone at once (reads 404, the displayName is free again), its
--   memberships stay until told; dsync.group.deleted comes after the last.
-- - a group whose members were replaced (deleted = 0): id is a fresh key;
--   the request moved the memberships it ended under it. Until a chunk
--   tells their end the application still counts them as members, so an
--   add of such a user moves its row back (no event) and a removal removes
--   it (one event, now).
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
