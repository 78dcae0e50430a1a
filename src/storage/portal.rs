//! The set-up portal's one-time links and sessions (control database).
//! Only SHA-256 hashes of the link secret and the session cookie are kept.

use super::{Batch, Db, DbError, Row, RowExt};
use crate::stmt;

/// How many expired links and sessions one cron round removes, at most.
pub const EXPIRED_CHUNK: i64 = 500;

/// What a session may see: one organisation, on the hostname it was made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub organization_id: String,
    /// The whitelabel hostname the link was made for (`None` = the default hostnames).
    pub host: Option<String>,
    pub expires_at: String,
}

impl Session {
    fn from_row(r: &Row) -> Self {
        Session { organization_id: r.string("organization_id"), host: r.str("host").map(str::to_string), expires_at: r.string("expires_at") }
    }
}

/// A link to store (only the hash of its secret).
pub struct NewLink<'a> {
    pub token_hash: &'a str,
    pub organization_id: &'a str,
    /// The whitelabel hostname it is for (`None` = the default hostnames).
    pub host: Option<&'a str>,
    /// The application's id for the admin it is for, to revoke it by.
    pub external_user_id: Option<&'a str>,
    pub expires_at: &'a str,
}

/// Stores a link; `DbError::Precondition` when the organisation does not exist.
pub async fn create_link<D: Db>(control: &D, link: &NewLink<'_>, now: &str) -> Result<(), DbError> {
    let mut b = Batch::new();
    b.push(super::organizations::guard_exists(link.organization_id));
    b.push(stmt!(
        "INSERT INTO portal_links (token_hash, organization_id, host, external_user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        link.token_hash,
        link.organization_id,
        link.host,
        link.external_user_id,
        now,
        link.expires_at
    ));
    b.run(control).await.map(|_| ())
}

/// Ends every link and session made for this admin of the organisation;
/// whether the organisation exists.
pub async fn revoke<D: Db>(control: &D, organization_id: &str, external_user_id: &str) -> Result<bool, DbError> {
    let mut b = Batch::new();
    let exists = b.push(stmt!("SELECT EXISTS (SELECT 1 FROM organizations WHERE id = ?1) AS e", organization_id));
    b.push(stmt!("DELETE FROM portal_links WHERE organization_id = ?1 AND external_user_id = ?2", organization_id, external_user_id));
    b.push(stmt!("DELETE FROM portal_sessions WHERE organization_id = ?1 AND external_user_id = ?2", organization_id, external_user_id));
    Ok(b.run(control).await?.first(exists).and_then(|r| r.int("e")) == Some(1))
}

/// Exchanges a link for a session, once: the link must be unused,
/// unexpired and made for `host` (`None` = the default hostnames). Marking
/// it used and creating the session are one batch, and the session is made
/// only from the row this call marked, so two concurrent redeems cannot
/// both get one. `None` when the link is unknown, expired, used or for
/// another hostname.
pub async fn redeem_link<D: Db>(
    control: &D,
    token_hash: &str,
    host: Option<&str>,
    session_hash: &str,
    now: &str,
    session_expires_at: &str,
) -> Result<Option<Session>, DbError> {
    let mut b = Batch::new();
    b.push(stmt!(
        "UPDATE portal_links SET used_at = ?3, session_hash = ?2 WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?3 AND host IS ?4",
        token_hash,
        session_hash,
        now,
        host
    ));
    b.push(stmt!(
        "INSERT INTO portal_sessions (session_hash, organization_id, host, external_user_id, created_at, expires_at) \
         SELECT ?2, organization_id, host, external_user_id, ?3, ?4 FROM portal_links WHERE token_hash = ?1 AND session_hash = ?2",
        token_hash,
        session_hash,
        now,
        session_expires_at
    ));
    let row = b.push(stmt!("SELECT organization_id, host, expires_at FROM portal_sessions WHERE session_hash = ?1", session_hash));
    Ok(b.run(control).await?.first(row).map(Session::from_row))
}

/// The live session with this cookie hash.
pub async fn session<D: Db>(control: &D, session_hash: &str, now: &str) -> Result<Option<Session>, DbError> {
    let mut b = Batch::new();
    let row = b.push(stmt!("SELECT organization_id, host, expires_at FROM portal_sessions WHERE session_hash = ?1 AND expires_at > ?2", session_hash, now));
    Ok(b.run(control).await?.first(row).map(Session::from_row))
}

/// Ends a session (sign out).
pub async fn end_session<D: Db>(control: &D, session_hash: &str) -> Result<(), DbError> {
    control.batch(vec![stmt!("DELETE FROM portal_sessions WHERE session_hash = ?1", session_hash)]).await.map(|_| ())
}

/// Removes up to [`EXPIRED_CHUNK`] expired links and as many expired
/// sessions; how many rows went.
pub async fn remove_expired<D: Db>(control: &D, now: &str) -> Result<u64, DbError> {
    let r = control
        .batch(vec![
            stmt!("DELETE FROM portal_links WHERE token_hash IN (SELECT token_hash FROM portal_links WHERE expires_at <= ?1 LIMIT ?2)", now, EXPIRED_CHUNK),
            stmt!(
                "DELETE FROM portal_sessions WHERE session_hash IN (SELECT session_hash FROM portal_sessions WHERE expires_at <= ?1 LIMIT ?2)",
                now,
                EXPIRED_CHUNK
            ),
        ])
        .await?;
    Ok(r.iter().map(|s| s.rows_written).sum())
}
