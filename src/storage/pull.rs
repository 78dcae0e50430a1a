//! Pull reconciliation's settings and run state (`migrations/0006_pull.sql`,
//! control database). The run in progress is one JSON column; the
//! invocation working on it holds a lease, and every write of progress is
//! conditioned on that lease, so two invocations never both advance a run.

use super::guard::unless_exists;
use super::{Batch, Db, DbError, Row, RowExt, Stmt};
use crate::stmt;
use serde_json::Value;

/// A directory's pull settings and state, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRecord {
    pub directory_id: String,
    pub scim_url: String,
    pub token_url: String,
    pub client_id: String,
    pub secret_sealed: String,
    pub scope: Option<String>,
    pub token_auth: String,
    pub interval_minutes: i64,
    pub next_run_at: Option<String>,
    /// The run in progress (JSON), if any.
    pub run: Option<Value>,
    /// The last finished run (JSON), if any.
    pub last_run: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str =
    "directory_id, scim_url, token_url, client_id, secret_sealed, scope, token_auth, interval_minutes, next_run_at, run, last_run, created_at, updated_at";

impl PullRecord {
    fn from_row(r: &Row) -> Self {
        let json = |c: &str| r.str(c).and_then(|s| serde_json::from_str(s).ok());
        PullRecord {
            directory_id: r.string("directory_id"),
            scim_url: r.string("scim_url"),
            token_url: r.string("token_url"),
            client_id: r.string("client_id"),
            secret_sealed: r.string("secret_sealed"),
            scope: r.str("scope").map(str::to_string),
            token_auth: r.string("token_auth"),
            interval_minutes: r.int("interval_minutes").unwrap_or(60),
            next_run_at: r.str("next_run_at").map(str::to_string),
            run: json("run"),
            last_run: json("last_run"),
            created_at: r.string("created_at"),
            updated_at: r.string("updated_at"),
        }
    }
}

/// Settings to store. `secret_sealed` None keeps the stored secret (an
/// update that does not send it); a first PUT must send one.
pub struct NewSettings<'a> {
    pub directory_id: &'a str,
    pub scim_url: &'a str,
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub secret_sealed: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub token_auth: &'a str,
    pub interval_minutes: i64,
    pub next_run_at: &'a str,
}

fn select(directory_id: &str) -> Stmt {
    stmt!(format!("SELECT {COLUMNS} FROM directory_pulls WHERE directory_id = ?1"), directory_id)
}

/// Stores the settings of a live directory; `DbError::Precondition` when the
/// directory is unknown or being deleted, or when there is no secret to keep.
/// The run in progress and the last run are kept.
pub async fn upsert<D: Db>(control: &D, s: &NewSettings<'_>, now: &str) -> Result<PullRecord, DbError> {
    let mut b = Batch::new();
    b.push(unless_exists("directory", "SELECT 1 FROM directories WHERE id = ?1 AND state <> 'deleting'", vec![s.directory_id.into()]));
    if s.secret_sealed.is_none() {
        b.push(unless_exists("secret", "SELECT 1 FROM directory_pulls WHERE directory_id = ?1", vec![s.directory_id.into()]));
    }
    b.push(stmt!(
        "INSERT INTO directory_pulls (directory_id, scim_url, token_url, client_id, secret_sealed, scope, token_auth, interval_minutes, next_run_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, coalesce(?5, ''), ?6, ?7, ?8, ?9, ?10, ?10) \
         ON CONFLICT (directory_id) DO UPDATE SET scim_url = excluded.scim_url, token_url = excluded.token_url, client_id = excluded.client_id, \
         secret_sealed = coalesce(?5, directory_pulls.secret_sealed), scope = excluded.scope, token_auth = excluded.token_auth, \
         interval_minutes = excluded.interval_minutes, next_run_at = excluded.next_run_at, updated_at = excluded.updated_at",
        s.directory_id,
        s.scim_url,
        s.token_url,
        s.client_id,
        s.secret_sealed,
        s.scope,
        s.token_auth,
        s.interval_minutes,
        s.next_run_at,
        now
    ));
    let row = b.push(select(s.directory_id));
    b.run(control).await?.first(row).map(PullRecord::from_row).ok_or_else(|| DbError::Other("pull settings vanished".into()))
}

pub async fn get<D: Db>(control: &D, directory_id: &str) -> Result<Option<PullRecord>, DbError> {
    let mut b = Batch::new();
    let row = b.push(select(directory_id));
    Ok(b.run(control).await?.first(row).map(PullRecord::from_row))
}

/// Removes the settings and any staged pages; whether there were settings.
pub async fn delete<D: Db>(control: &D, directory_id: &str) -> Result<bool, DbError> {
    let mut b = Batch::new();
    let n = b.push(stmt!("SELECT count(*) AS n FROM directory_pulls WHERE directory_id = ?1", directory_id));
    b.extend(purge(directory_id));
    Ok(b.run(control).await?.first(n).and_then(|r| r.int("n")).unwrap_or(0) > 0)
}

/// The statements that remove a directory's pull settings and pages (its deletion).
pub fn purge(directory_id: &str) -> Vec<Stmt> {
    vec![stmt!("DELETE FROM directory_pulls WHERE directory_id = ?1", directory_id), stmt!("DELETE FROM pull_pages WHERE directory_id = ?1", directory_id)]
}

/// Queues `run` (JSON) unless a run is in progress; the settings after,
/// whichever run is now in progress. None when there are no settings.
pub async fn queue_run<D: Db>(control: &D, directory_id: &str, run: &Value, next_run_at: Option<&str>, now: &str) -> Result<Option<PullRecord>, DbError> {
    let mut b = Batch::new();
    b.push(stmt!(
        "UPDATE directory_pulls SET run = ?2, next_run_at = coalesce(?3, next_run_at), updated_at = ?4 WHERE directory_id = ?1 AND run IS NULL",
        directory_id,
        run.to_string(),
        next_run_at,
        now
    ));
    let row = b.push(select(directory_id));
    Ok(b.run(control).await?.first(row).map(PullRecord::from_row))
}

/// Directories whose next scheduled run is due and that have none in
/// progress, and directories whose run in progress has no live lease (a
/// queued run, a step that stopped or died): at most `limit` of each.
pub async fn due<D: Db>(control: &D, now: &str, limit: i64) -> Result<(Vec<String>, Vec<String>), DbError> {
    let mut b = Batch::new();
    let start = b.push(stmt!("SELECT directory_id FROM directory_pulls WHERE next_run_at <= ?1 AND run IS NULL ORDER BY next_run_at LIMIT ?2", now, limit));
    let stalled = b.push(stmt!(
        "SELECT directory_id FROM directory_pulls WHERE run IS NOT NULL AND (lease_until IS NULL OR lease_until < ?1) ORDER BY directory_id LIMIT ?2",
        now,
        limit
    ));
    let r = b.run(control).await?;
    let ids = |s| r.rows(s).iter().map(|row| row.string("directory_id")).collect();
    Ok((ids(start), ids(stalled)))
}

/// Takes the lease on the directory's run in progress until `until`,
/// unless another invocation holds a live one. The settings when taken.
/// A queued run shows as running from here on (in the same row write).
pub async fn claim<D: Db>(control: &D, directory_id: &str, lease: &str, until: &str, now: &str) -> Result<Option<PullRecord>, DbError> {
    let mut b = Batch::new();
    b.push(stmt!(
        "UPDATE directory_pulls SET lease = ?2, lease_until = ?3, \
         run = CASE WHEN json_extract(run, '$.state') = 'queued' THEN json_set(run, '$.state', 'running', '$.phase', 'users', '$.cursor', 1) ELSE run END \
         WHERE directory_id = ?1 AND run IS NOT NULL AND (lease_until IS NULL OR lease_until < ?4)",
        directory_id,
        lease,
        until,
        now
    ));
    let row = b.push(stmt!(format!("SELECT {COLUMNS} FROM directory_pulls WHERE directory_id = ?1 AND lease = ?2"), directory_id, lease));
    Ok(b.run(control).await?.first(row).map(PullRecord::from_row))
}

fn holds(directory_id: &str, lease: &str) -> Stmt {
    unless_exists("lease", "SELECT 1 FROM directory_pulls WHERE directory_id = ?1 AND lease = ?2", vec![directory_id.into(), lease.into()])
}

/// A page of the IdP's listing to stage: its kind (`users`, `groups`),
/// start index and what the diff needs of it.
pub struct StagedPage {
    pub kind: &'static str,
    pub start_index: i64,
    pub items: Value,
}

/// Saves the run's progress and `pages`, and lets the lease go, if this
/// invocation still holds it (`DbError::Precondition` otherwise).
pub async fn save_progress<D: Db>(control: &D, directory_id: &str, run_id: &str, lease: &str, run: &Value, pages: &[StagedPage]) -> Result<(), DbError> {
    let mut b = Batch::new();
    b.push(holds(directory_id, lease));
    for p in pages {
        b.push(stmt!(
            "INSERT OR REPLACE INTO pull_pages (directory_id, run_id, kind, start_index, items) VALUES (?1, ?2, ?3, ?4, ?5)",
            directory_id,
            run_id,
            p.kind,
            p.start_index,
            p.items.to_string()
        ));
    }
    b.push(stmt!(
        "UPDATE directory_pulls SET run = ?3, lease = NULL, lease_until = NULL WHERE directory_id = ?1 AND lease = ?2",
        directory_id,
        lease,
        run.to_string()
    ));
    b.run(control).await.map(|_| ())
}

/// Ends the run: records it as the last run, schedules the next, removes
/// its staged pages and lets the lease go (if still held).
pub async fn finish<D: Db>(control: &D, directory_id: &str, lease: &str, last_run: &Value, next_run_at: &str, now: &str) -> Result<(), DbError> {
    let mut b = Batch::new();
    b.push(holds(directory_id, lease));
    b.push(stmt!(
        "UPDATE directory_pulls SET run = NULL, lease = NULL, lease_until = NULL, last_run = ?3, next_run_at = ?4, updated_at = ?5 \
         WHERE directory_id = ?1 AND lease = ?2",
        directory_id,
        lease,
        last_run.to_string(),
        next_run_at,
        now
    ));
    b.push(stmt!("DELETE FROM pull_pages WHERE directory_id = ?1", directory_id));
    b.run(control).await.map(|_| ())
}

/// The staged pages of a run, in order: (kind, items).
pub async fn pages<D: Db>(control: &D, directory_id: &str, run_id: &str) -> Result<Vec<(String, Value)>, DbError> {
    let mut b = Batch::new();
    let rows = b.push(stmt!("SELECT kind, items FROM pull_pages WHERE directory_id = ?1 AND run_id = ?2 ORDER BY kind, start_index", directory_id, run_id));
    let r = b.run(control).await?;
    Ok(r.rows(rows).iter().map(|row| (row.string("kind"), row.json("items"))).collect())
}

/// A stored user or group as a pull run's diff sees it: its id, name
/// (userName or displayName), externalId, whether it is active (users),
/// and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub changed_at: String,
}

/// A stored membership and when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMember {
    pub group_id: String,
    pub user_id: String,
    pub created_at: String,
}

/// Rows of the stored directory read per statement.
const STORED_CHUNK: i64 = 5_000;
/// Groups whose memberships one batch reads.
const GROUPS_PER_BATCH: usize = 50;

/// A directory's users, groups and memberships (data database), read in
/// keyset chunks by id and, for memberships, by group through the primary key.
pub async fn read_directory<D: Db>(data: &D, directory_id: &str) -> Result<(Vec<Stored>, Vec<Stored>, Vec<StoredMember>), DbError> {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    for (table, name, active, out) in [("users", "user_name", "active", &mut users), ("groups", "display_name", "1", &mut groups)] {
        let mut after = String::new();
        loop {
            let mut b = Batch::new();
            let rows = b.push(stmt!(
                format!("SELECT id, {name} AS name, external_id, {active} AS active, updated_at FROM {table} WHERE directory_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"),
                directory_id,
                after.as_str(),
                STORED_CHUNK
            ));
            let r = b.run(data).await?;
            let got: Vec<Stored> = r
                .rows(rows)
                .iter()
                .map(|row| Stored {
                    id: row.string("id"),
                    name: row.string("name"),
                    external_id: row.str("external_id").map(str::to_string),
                    active: row.int("active") == Some(1),
                    changed_at: row.string("updated_at"),
                })
                .collect();
            let full = got.len() as i64 == STORED_CHUNK;
            if let Some(last) = got.last() {
                after = last.id.clone();
            }
            out.extend(got);
            if !full {
                break;
            }
        }
    }
    let mut members = Vec::new();
    for chunk in groups.chunks(GROUPS_PER_BATCH) {
        let mut b = Batch::new();
        let slots: Vec<_> =
            chunk.iter().map(|g| b.push(stmt!("SELECT group_id, user_id, created_at FROM memberships WHERE group_id = ?1", g.id.as_str()))).collect();
        let r = b.run(data).await?;
        for s in slots {
            members.extend(r.rows(s).iter().map(|row| StoredMember {
                group_id: row.string("group_id"),
                user_id: row.string("user_id"),
                created_at: row.string("created_at"),
            }));
        }
    }
    Ok((users, groups, members))
}
