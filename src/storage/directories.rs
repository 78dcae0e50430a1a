//! Directories and their SCIM credentials (bearer tokens and OAuth clients).
//!
//! A directory has a row on the control database (what the management API
//! and the credential check read) and a row on the data database that holds
//! it (its event sequence and its user and group counters, kept in the same
//! batches as its users and groups). When both are one database they are
//! one row; otherwise every state change is written to both. Functions that
//! touch both take the two handles and run through [`run_pair`], so a
//! deployment with one database keeps one batch (one transaction) as before.

mod credentials;
#[cfg(test)]
mod split_tests;

pub use credentials::{authenticate, oauth_client_matches, served_on_host, write_guard, ScimAccess, Secret};

use super::db::run_pair;
use super::guard::unless_exists;
use super::organizations::guard_exists as organization_exists;
use super::page::{contains, Keyset};
use super::{Batch, Db, DbError, Row, RowExt, SqlValue, Stmt};
use crate::stmt;

/// A directory's control row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRecord {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub provider: String,
    /// `pending` until the first authenticated SCIM call, then `linked`;
    /// `deleting` while its rows are removed.
    pub state: String,
    pub created_at: String,
    pub updated_at: String,
}

impl DirectoryRecord {
    pub fn is_pending(&self) -> bool {
        self.state == "pending"
    }
    pub fn is_deleting(&self) -> bool {
        self.state == "deleting"
    }
    /// The same directory in another state, changed at `now` (what a state
    /// change's event carries).
    pub fn in_state(&self, state: &str, now: &str) -> Self {
        DirectoryRecord { state: state.to_string(), updated_at: now.to_string(), ..self.clone() }
    }
    fn from_row(r: &Row) -> Self {
        DirectoryRecord {
            id: r.string("id"),
            organization_id: r.string("organization_id"),
            name: r.string("name"),
            provider: r.string("provider"),
            state: r.string("state"),
            created_at: r.string("created_at"),
            updated_at: r.string("updated_at"),
        }
    }
}

/// A directory to create (`pending`, with its first bearer token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDirectory {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub provider: String,
}

/// A directory's user and group counters (kept on its data-side row).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub users: i64,
    pub groups: i64,
}

impl Counts {
    fn from_row(r: &Row) -> Self {
        Counts { users: r.int("user_count").unwrap_or(0), groups: r.int("group_count").unwrap_or(0) }
    }
}

/// What a credential is: a bearer token, or an OAuth client whose secret
/// is exchanged for access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Bearer,
    OauthClient,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Bearer => "bearer",
            TokenKind::OauthClient => "oauth_client",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [TokenKind::Bearer, TokenKind::OauthClient].into_iter().find(|k| k.as_str() == s)
    }
}

/// A credential to store: only the SHA-256 of its secret is kept, and the
/// last characters as a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: String,
    pub kind: TokenKind,
    pub hash: String,
    pub hint: String,
}

/// A stored credential, as listed (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub directory_id: String,
    pub kind: String,
    pub hint: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl TokenRecord {
    fn from_row(r: &Row) -> Self {
        TokenRecord {
            id: r.string("id"),
            directory_id: r.string("directory_id"),
            kind: r.str("kind").unwrap_or("bearer").to_string(),
            hint: r.string("hint"),
            created_at: r.string("created_at"),
            last_used_at: r.str("last_used_at").map(str::to_string),
        }
    }
}

const COLUMNS: &str = "d.id, d.organization_id, d.name, d.provider, d.state, d.created_at, d.updated_at";
const COLUMNS_WITH_COUNTS: &str = "d.id, d.organization_id, d.name, d.provider, d.state, d.created_at, d.updated_at, d.user_count, d.group_count";
const TOKEN_COLUMNS: &str = "id, directory_id, kind, hint, created_at, last_used_at";

fn select(id: &str) -> Stmt {
    stmt!(format!("SELECT {COLUMNS} FROM directories d WHERE d.id = ?1"), id)
}

fn select_with_counts(id: &str) -> Stmt {
    stmt!(format!("SELECT {COLUMNS_WITH_COUNTS} FROM directories d WHERE d.id = ?1"), id)
}

fn with_counts(r: &Row) -> (DirectoryRecord, Counts) {
    (DirectoryRecord::from_row(r), Counts::from_row(r))
}

/// Whether a use case on `control` and `data` also writes the data-side
/// directory row (they are two rows only on two databases).
fn mirrored<D: Db>(control: &D, data: &D) -> bool {
    !crate::storage::db::same_database(control, data)
}

/// Creates a `pending` directory with its first bearer token, and its
/// data-side row when that is another database; reads it back with its
/// counts. `DbError::Precondition` when the organisation does not exist.
pub async fn create<D: Db>(control: &D, data: &D, dir: &NewDirectory, token: &NewToken, now: &str) -> Result<Option<(DirectoryRecord, Counts)>, DbError> {
    let mut c = Batch::new();
    c.push(organization_exists(&dir.organization_id));
    let insert = stmt!(
        "INSERT INTO directories (id, organization_id, name, provider, state, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
        dir.id.as_str(),
        dir.organization_id.as_str(),
        dir.name.as_str(),
        dir.provider.as_str(),
        now
    );
    c.push(insert.clone());
    c.push(stmt!(
        "INSERT INTO directory_tokens (id, directory_id, token_hash, hint, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        token.id.as_str(),
        dir.id.as_str(),
        token.hash.as_str(),
        token.hint.as_str(),
        now
    ));
    let mut d = Batch::new();
    if mirrored(control, data) {
        d.push(insert);
    }
    let row = d.push(select_with_counts(&dir.id));
    let (_, r) = run_pair(control, c, data, d).await?;
    Ok(r.first(row).map(with_counts))
}

/// A directory's control row.
pub async fn get<D: Db>(db: &D, id: &str) -> Result<Option<DirectoryRecord>, DbError> {
    let mut b = Batch::new();
    let row = b.push(select(id));
    Ok(b.run(db).await?.first(row).map(DirectoryRecord::from_row))
}

/// A directory with the counts its row on `db` holds. They are kept on the
/// data-side row: right when `db` is control and data at once; on a
/// control database of its own, read them with [`counts`].
pub async fn get_with_counts<D: Db>(db: &D, id: &str) -> Result<Option<(DirectoryRecord, Counts)>, DbError> {
    let mut b = Batch::new();
    let row = b.push(select_with_counts(id));
    Ok(b.run(db).await?.first(row).map(with_counts))
}

/// Which directories a list is of: an organisation's or all, and those
/// whose name holds `search` (any ASCII case).
#[derive(Debug, Clone, Default)]
pub struct DirectoriesOf<'a> {
    pub organization_id: Option<&'a str>,
    pub search: Option<&'a str>,
}

/// One page of directories in id order, of one organisation or all, with
/// the counts their rows on `db` hold (see [`get_with_counts`]).
pub async fn list_with_counts<D: Db>(db: &D, page: &Keyset, of: &DirectoriesOf<'_>) -> Result<Vec<(DirectoryRecord, Counts)>, DbError> {
    let mut cond = vec!["1 = 1".to_string()];
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(o) = of.organization_id {
        cond.push("d.organization_id = ?".into());
        params.push(o.into());
    }
    if let Some(s) = of.search {
        let (c, p) = contains("d.name", s);
        cond.push(c);
        params.push(p);
    }
    let mut b = Batch::new();
    let rows = b.push(page.stmt(COLUMNS_WITH_COUNTS, "directories d", &cond.join(" AND "), params, "d.id"));
    Ok(b.run(db).await?.rows(rows).iter().map(with_counts).collect())
}

/// The counts of directories held by the data database `db`, by id.
pub async fn counts<D: Db>(db: &D, ids: &[String]) -> Result<Vec<(String, Counts)>, DbError> {
    let mut b = Batch::new();
    let rows = b.push(stmt!(
        "SELECT id, user_count, group_count FROM directories WHERE id IN (SELECT value FROM json_each(?1))",
        serde_json::Value::from(ids.to_vec()).to_string()
    ));
    Ok(b.run(db).await?.rows(rows).iter().map(|r| (r.string("id"), Counts::from_row(r))).collect())
}

/// `pending` → `linked`, with `events` (data statements announcing it).
/// False when another request linked it first (nothing is written then).
pub async fn activate<D: Db>(control: &D, data: &D, id: &str, events: Vec<Stmt>, now: &str) -> Result<bool, DbError> {
    let link = stmt!("UPDATE directories SET state = 'linked', updated_at = ?2 WHERE id = ?1 AND state = 'pending'", id, now);
    let mut c = Batch::new();
    // Only the request that does the linking gets past this.
    c.push(unless_exists("linked", "SELECT 1 FROM directories WHERE id = ?1 AND state = 'pending'", vec![id.into()]));
    c.push(link.clone());
    let mut d = Batch::new();
    if mirrored(control, data) {
        d.push(link);
    }
    d.extend(events);
    match run_pair(control, c, data, d).await {
        Ok(_) => Ok(true),
        Err(DbError::Precondition) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Marks a directory `deleting` and revokes its credentials at once, with
/// `events` (data statements announcing it); its users, groups and
/// memberships are removed later. False when it was already being deleted.
pub async fn begin_deletion<D: Db>(control: &D, data: &D, id: &str, events: Vec<Stmt>, now: &str) -> Result<bool, DbError> {
    let deleting = stmt!("UPDATE directories SET state = 'deleting', updated_at = ?2 WHERE id = ?1", id, now);
    let mut c = Batch::new();
    c.push(unless_exists("state", "SELECT 1 FROM directories WHERE id = ?1 AND state <> 'deleting'", vec![id.into()]));
    c.push(stmt!("DELETE FROM directory_tokens WHERE directory_id = ?1", id));
    c.extend(super::pull::purge(id));
    let mut d = Batch::new();
    d.extend(events);
    if mirrored(control, data) {
        c.push(deleting.clone());
    }
    d.push(deleting);
    match run_pair(control, c, data, d).await {
        Ok(_) => Ok(true),
        Err(DbError::Precondition) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Adds a credential unless the directory already has `max` of its kind
/// (None then). `DbError::Precondition` when the directory is missing or
/// being deleted.
pub async fn create_token<D: Db>(db: &D, directory_id: &str, token: &NewToken, max: i64, now: &str) -> Result<Option<TokenRecord>, DbError> {
    let mut b = Batch::new();
    b.push(unless_exists("directory", "SELECT 1 FROM directories WHERE id = ?1 AND state <> 'deleting'", vec![directory_id.into()]));
    b.push(stmt!(
        "INSERT INTO directory_tokens (id, directory_id, kind, token_hash, hint, created_at) SELECT ?1, ?2, ?7, ?3, ?4, ?5 \
         WHERE (SELECT count(*) FROM directory_tokens WHERE directory_id = ?2 AND kind = ?7) < ?6",
        token.id.as_str(),
        directory_id,
        token.hash.as_str(),
        token.hint.as_str(),
        now,
        max,
        token.kind.as_str()
    ));
    let row = b.push(stmt!(format!("SELECT {TOKEN_COLUMNS} FROM directory_tokens WHERE id = ?1"), token.id.as_str()));
    Ok(b.run(db).await?.first(row).map(TokenRecord::from_row))
}

/// A directory's credentials in id order; None when there is no such directory.
pub async fn list_tokens<D: Db>(db: &D, directory_id: &str) -> Result<Option<Vec<TokenRecord>>, DbError> {
    let mut b = Batch::new();
    let found = b.push(stmt!("SELECT count(*) AS n FROM directories WHERE id = ?1", directory_id));
    let rows = b.push(stmt!(format!("SELECT {TOKEN_COLUMNS} FROM directory_tokens WHERE directory_id = ?1 ORDER BY id"), directory_id));
    let r = b.run(db).await?;
    if r.first(found).and_then(|r| r.int("n")) != Some(1) {
        return Ok(None);
    }
    Ok(Some(r.rows(rows).iter().map(TokenRecord::from_row).collect()))
}

/// Revokes a credential; false when the directory has no such one.
pub async fn delete_token<D: Db>(db: &D, directory_id: &str, token_id: &str) -> Result<bool, DbError> {
    let mut b = Batch::new();
    let n = b.push(stmt!("SELECT count(*) AS n FROM directory_tokens WHERE id = ?1 AND directory_id = ?2", token_id, directory_id));
    b.push(stmt!("DELETE FROM directory_tokens WHERE id = ?1 AND directory_id = ?2", token_id, directory_id));
    Ok(b.run(db).await?.first(n).and_then(|r| r.int("n")) == Some(1))
}
