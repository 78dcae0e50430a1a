//! Who may call `/scim/v2/{directory_id}`: the credential check, and the
//! hostname scoping (a whitelabel hostname serves only its organisation's
//! directories). Every table named here is on the control database.

use super::{DirectoryRecord, COLUMNS};
use crate::stmt;
use crate::storage::db::run_pair;
use crate::storage::guard::unless_exists;
use crate::storage::{Batch, Db, DbError, Stmt, StmtResult};

/// What a presented credential is matched on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// A bearer token, found by the SHA-256 hex of its text.
    Bearer { hash: String },
    /// The OAuth client of a valid access token; it must still exist
    /// (deleting the client revokes its tokens).
    OauthClient { client_id: String },
    /// The directory's own pull reconciliation (src/app/pull): allowed
    /// while the directory has pull settings; no token is involved.
    Pull,
}

/// A credential presented for one directory on one hostname.
#[derive(Debug, Clone)]
pub struct ScimAccess<'a> {
    pub directory_id: &'a str,
    pub secret: Secret,
    pub host: &'a str,
    /// A default hostname serves every directory.
    pub default_host: bool,
}

/// The condition that a directory `d` is served on the hostname bound as
/// `host` when the flag bound as `default` is not set: the hostname must
/// be one of the directory's organisation.
fn on_host(default: &str, host: &str) -> String {
    format!("({default} = 1 OR EXISTS (SELECT 1 FROM domains dm WHERE dm.hostname = {host} AND dm.organization_id = d.organization_id))")
}

impl ScimAccess<'_> {
    /// The credential table joined as `t`, its condition (reading `?2`)
    /// and the value bound to `?2`.
    fn token_match(&self) -> (&'static str, &'static str, &str) {
        match &self.secret {
            Secret::OauthClient { client_id } => ("directory_tokens", "t.id = ?2 AND t.kind = 'oauth_client'", client_id),
            Secret::Bearer { hash } => ("directory_tokens", "t.token_hash = ?2 AND t.kind = 'bearer'", hash),
            Secret::Pull => ("directory_pulls", "t.directory_id = ?2", self.directory_id),
        }
    }

    /// Aborts its batch unless the token matches a directory whose state
    /// satisfies `state` (a condition on `d.state`) served on this host.
    fn guard(&self, state: &'static str) -> Stmt {
        let (table, token_match, key) = self.token_match();
        unless_exists(
            "auth",
            &format!(
                "SELECT 1 FROM directories d JOIN {table} t ON t.directory_id = d.id WHERE d.id = ?1 AND {state} AND {token_match} AND {}",
                on_host("?4", "?3")
            ),
            vec![self.directory_id.into(), key.into(), self.host.into(), self.default_host.into()],
        )
    }

    /// Refreshes the token's `last_used_at`, at most once per `touch_before`
    /// window (saves a row write per call); nothing for a pull.
    fn touch(&self, now: &str, touch_before: &str) -> Option<Stmt> {
        let (_, token_match, key) = self.token_match();
        (!matches!(self.secret, Secret::Pull)).then(|| {
            stmt!(
                format!(
                    "UPDATE directory_tokens SET last_used_at = ?1 WHERE {} AND directory_id = ?3 AND (last_used_at IS NULL OR last_used_at < ?4)",
                    token_match.replace("t.", "")
                ),
                now,
                key,
                self.directory_id,
                touch_before
            )
        })
    }
}

/// Runs `reads` (data statements) behind the credential check and returns
/// the directory's control row and the reads' results.
/// `DbError::Precondition` when the credential is refused.
///
/// The check is a guard that aborts its batch unless the token matches a
/// live directory served on this host, so a wrong token, an unknown
/// directory or a foreign hostname reads nothing past it. On one database
/// the reads follow it in the same batch; on two, they run on `data` only
/// after the control batch passed.
pub async fn authenticate<D: Db>(
    control: &D,
    data: &D,
    access: &ScimAccess<'_>,
    now: &str,
    touch_before: &str,
    reads: Vec<Stmt>,
) -> Result<(Option<DirectoryRecord>, Vec<StmtResult>), DbError> {
    let mut c = Batch::new();
    c.push(access.guard("d.state <> 'deleting'"));
    let row = c.push(stmt!(format!("SELECT {COLUMNS} FROM directories d WHERE d.id = ?1"), access.directory_id));
    c.extend(access.touch(now, touch_before));
    let mut d = Batch::new();
    let run = d.extend(reads);
    let (c, mut d) = run_pair(control, c, data, d).await?;
    Ok((c.first(row).map(DirectoryRecord::from_row), d.take(run)))
}

/// The credential check as the precondition of a write batch: aborts it
/// unless the token, the hostname and a `linked` directory all match, and
/// refreshes the token's `last_used_at`. These are control statements: they
/// can only front a write on the same database.
pub fn write_guard(access: &ScimAccess<'_>, now: &str, touch_before: &str) -> Vec<Stmt> {
    std::iter::once(access.guard("d.state = 'linked'")).chain(access.touch(now, touch_before)).collect()
}

/// Whether a live directory belongs to the organisation of a whitelabel
/// hostname (what tells a wrong token, 401, from a foreign directory, 404).
pub async fn served_on_host<D: Db>(db: &D, directory_id: &str, host: &str) -> Result<bool, DbError> {
    let mut b = Batch::new();
    let row = b.push(stmt!(
        "SELECT 1 AS ok FROM directories d JOIN domains dm ON dm.organization_id = d.organization_id WHERE d.id = ?1 AND dm.hostname = ?2 AND d.state <> 'deleting'",
        directory_id,
        host
    ));
    Ok(b.run(db).await?.first(row).is_some())
}

/// Whether `client_id` is an OAuth client of a live directory served on
/// this host, whose secret hashes to `secret_hash` (scoped like the SCIM
/// credential check).
pub async fn oauth_client_matches<D: Db>(
    db: &D,
    directory_id: &str,
    client_id: &str,
    secret_hash: &str,
    host: &str,
    default_host: bool,
) -> Result<bool, DbError> {
    let mut b = Batch::new();
    let row = b.push(stmt!(
        format!(
            "SELECT t.id FROM directory_tokens t JOIN directories d ON d.id = t.directory_id \
             WHERE t.id = ?1 AND t.directory_id = ?2 AND t.kind = 'oauth_client' AND t.token_hash = ?3 AND d.state <> 'deleting' AND {}",
            on_host("?4", "?5")
        ),
        client_id,
        directory_id,
        secret_hash,
        default_host,
        host
    ));
    Ok(b.run(db).await?.first(row).is_some())
}
