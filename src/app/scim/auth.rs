//! Who may call `/scim/v2/{directory_id}`: the directory's bearer token (or
//! an OAuth access token), on a hostname that serves the directory's
//! organisation. The check is a guard at the head of every read batch: when
//! it fails the batch stops there, so nothing the caller asked for is read.

use crate::app::isolate::{MemoKey, DIRECTORY_ORGS};
use crate::app::Services;
use crate::directory::views::directory_view;
use crate::events::{insert_events, kind, EventDraft};
use crate::scim::ScimError;
use crate::stmt;
use crate::storage::db::first;
use crate::storage::{Db, DbError, RowExt, Stmt, StmtResult};
use crate::support::crypto::sha256_hex;
use crate::support::time::Millis;
use serde_json::Value;

/// How often `last_used_at` is refreshed, at most (saves a row write per call).
const TOUCH_EVERY_SECONDS: i64 = 60;

/// An authenticated directory.
#[derive(Debug, Clone)]
pub struct Authed {
    pub directory_id: String,
    pub organization_id: String,
    /// The event id of `dsync.activated` when this request linked the directory.
    pub activated: Option<String>,
}

/// The credential a request presented.
pub struct Credential<'a> {
    pub directory_id: &'a str,
    pub token: &'a str,
    pub host: &'a str,
    pub default_host: bool,
    /// The OAuth client of a valid access token (see `oauth`), if it is one.
    pub oauth_client: Option<String>,
}

/// A bearer token is found by its hash; an access token by its client,
/// which must still exist (deleting the client revokes its tokens). The
/// condition reads `?2`.
fn token_match(c: &Credential) -> (&'static str, String) {
    match &c.oauth_client {
        Some(client) => ("t.id = ?2 AND t.kind = 'oauth_client'", client.clone()),
        None => ("t.token_hash = ?2 AND t.kind = 'bearer'", sha256_hex(c.token.as_bytes())),
    }
}

fn touch(c: &Credential, now: &str, touch_before: &str) -> Stmt {
    let (token_match, key) = token_match(c);
    stmt!(
        format!(
            "UPDATE directory_tokens SET last_used_at = ?1 WHERE {} AND directory_id = ?3 AND (last_used_at IS NULL OR last_used_at < ?4)",
            token_match.replace("t.", "")
        ),
        now,
        key,
        c.directory_id,
        touch_before
    )
}

/// The credential check that opens every read batch: it aborts the batch
/// (a `guard` row) unless the token matches a live directory served on this
/// host, so a wrong token, an unknown directory or a foreign hostname reads
/// nothing past it, whatever the request asked for. Then the directory row
/// and the `last_used_at` refresh.
pub fn statements(c: &Credential, now: &str, touch_before: &str) -> Vec<Stmt> {
    vec![
        guard(c, "d.state <> 'deleting'"),
        stmt!("SELECT d.id, d.organization_id, d.name, d.provider, d.state, d.created_at, d.updated_at FROM directories d WHERE d.id = ?1", c.directory_id),
        touch(c, now, touch_before),
    ]
}

/// The credential check as a precondition of a write batch: aborts it
/// unless the token, hostname and a linked directory all match. Used when
/// the directory's organisation is already known (see [`known_org`]), so a
/// create needs one D1 round trip; on any failure the caller falls back to
/// [`read`], which says precisely what is wrong.
pub fn guard_statements<D: Db>(svc: &Services<'_, D>, c: &Credential) -> Vec<Stmt> {
    let now = svc.now_text();
    let touch_before = svc.now.plus_seconds(-TOUCH_EVERY_SECONDS).to_rfc3339();
    vec![guard(c, "d.state = 'linked'"), touch(c, &now, &touch_before)]
}

/// Aborts its batch unless the token matches a directory in `state` (a
/// condition on `d.state`) served on this host (any directory on a default
/// host; one of the host's organisation on a whitelabel host).
fn guard(c: &Credential, state: &'static str) -> Stmt {
    let (token_match, key) = token_match(c);
    stmt!(
        format!(
            "INSERT INTO guard (reason) SELECT 'auth' WHERE NOT EXISTS (SELECT 1 FROM directories d JOIN directory_tokens t ON t.directory_id = d.id \
             WHERE d.id = ?1 AND {state} AND {token_match} \
             AND (?4 = 1 OR EXISTS (SELECT 1 FROM domains dm WHERE dm.hostname = ?3 AND dm.organization_id = d.organization_id)))"
        ),
        c.directory_id,
        key,
        c.host,
        c.default_host
    )
}

/// The organisation of a directory this isolate has authenticated before.
pub fn known_org(directory_id: &str) -> Option<String> {
    DIRECTORY_ORGS.get(directory_id, Millis(0))
}

fn remember_org(directory_id: &str, organization_id: &str) {
    DIRECTORY_ORGS.put(directory_id.to_string(), organization_id.to_string(), Millis(0));
}

/// How many statements [`statements`] puts before the caller's reads.
pub const STATEMENTS: usize = 3;

/// Whether a presented token can be one of ours at all: bearer tokens are
/// `rcs_` + 43 base64url characters, access tokens `rca_…` and verified by
/// their MAC before this is asked. Anything else is refused without a D1 call.
pub fn plausible(c: &Credential) -> bool {
    c.oauth_client.as_deref().is_some_and(|id| !id.is_empty())
        || (c.oauth_client.is_none()
            && c.token.len() <= 128
            && c.token.strip_prefix("rcs_").is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')))
}

/// The answer to a credential that did not pass. On a default hostname an
/// unknown directory and a wrong token are the same 401, so a caller cannot
/// probe which directories exist; on a whitelabel hostname another
/// organisation's directory (or none) is a 404 (PRODUCT.md § Who talks to it).
pub async fn refusal<D: Db>(svc: &Services<'_, D>, c: &Credential<'_>) -> ScimError {
    if c.default_host {
        return ScimError::unauthorized();
    }
    if !crate::support::ids::has_prefix(c.directory_id, "directory") {
        return ScimError::not_found("Directory not found");
    }
    let r = svc
        .db
        .batch(vec![stmt!(
            "SELECT 1 AS ok FROM directories d JOIN domains dm ON dm.organization_id = d.organization_id WHERE d.id = ?1 AND dm.hostname = ?2 AND d.state <> 'deleting'",
            c.directory_id,
            c.host
        )])
        .await;
    match r {
        Ok(r) if first(&r, 0).is_some() => ScimError::unauthorized(),
        Ok(_) => ScimError::not_found("Directory not found"),
        Err(e) => ScimError::from(e),
    }
}

/// Runs `reads` behind the credential check; returns their results. A
/// credential that fails costs the guard's few index lookups: the batch
/// stops there and none of `reads` runs.
pub async fn read<D: Db>(svc: &Services<'_, D>, c: &Credential<'_>, reads: Vec<Stmt>) -> Result<(Authed, Vec<StmtResult>), ScimError> {
    if !plausible(c) || !crate::support::ids::has_prefix(c.directory_id, "directory") {
        return Err(refusal(svc, c).await);
    }
    let now = svc.now_text();
    let touch_before = svc.now.plus_seconds(-TOUCH_EVERY_SECONDS).to_rfc3339();
    let mut batch = statements(c, &now, &touch_before);
    batch.extend(reads);
    let mut results = match svc.db.batch(batch).await {
        Ok(r) => r,
        Err(DbError::Precondition) => {
            verified::forget(c);
            return Err(refusal(svc, c).await);
        }
        Err(e) => return Err(ScimError::from(e)),
    };
    let row = first(&results, 1).cloned().ok_or_else(ScimError::unauthorized)?;
    let mut authed = Authed { directory_id: row.string("id"), organization_id: row.string("organization_id"), activated: None };
    remember_org(&authed.directory_id, &authed.organization_id);
    verified::remember(c, svc.now);
    if row.str("state") == Some("pending") {
        authed.activated = activate(svc, &row).await?;
    }
    let reads = results.split_off(STATEMENTS.min(results.len()));
    Ok((authed, reads))
}

/// Credentials this isolate has seen pass, recently. Only a hint for the
/// order of work: a request whose credential is not here is authenticated
/// alone before its body is parsed; one that is here has its body parsed
/// first and is still checked by the guard in front of every read. A
/// refusal forgets the credential.
pub mod verified {
    use super::Credential;
    use crate::app::isolate::{MemoKey, VERIFIED};
    use crate::support::crypto::sha256_hex;
    use crate::support::time::Millis;

    fn key(c: &Credential) -> String {
        format!("{}\u{1}{}\u{1}{}", sha256_hex(c.token.as_bytes()), c.directory_id, c.host)
    }

    pub fn is_recent(c: &Credential, now: Millis) -> bool {
        VERIFIED.get(&key(c), now).is_some()
    }

    pub fn remember(c: &Credential, now: Millis) {
        VERIFIED.put(key(c), (), now);
    }

    pub fn forget(c: &Credential) {
        VERIFIED.forget(&key(c));
    }
}

/// `pending` → `linked` on the first authenticated call, with its
/// `dsync.activated` event; a concurrent first call does nothing twice.
async fn activate<D: Db>(svc: &Services<'_, D>, dir: &crate::storage::Row) -> Result<Option<String>, ScimError> {
    let id = dir.string("id");
    let now = svc.now_text();
    let mut view = directory_view(dir);
    if let Some(o) = view.as_object_mut() {
        o.insert("state".into(), Value::from("linked"));
        o.insert("updated_at".into(), Value::from(now.clone()));
    }
    let event_id = svc.ids().make("event");
    let draft = EventDraft { id: event_id.clone(), event: kind::ACTIVATED, data: view };
    let mut batch = vec![stmt!("UPDATE directories SET state = 'linked', updated_at = ?2 WHERE id = ?1 AND state = 'pending'", id.as_str(), now.as_str())];
    // Runs only if this batch did the linking (the guard aborts it otherwise).
    batch.insert(
        0,
        stmt!("INSERT INTO guard (reason) SELECT 'linked' WHERE NOT EXISTS (SELECT 1 FROM directories WHERE id = ?1 AND state = 'pending')", id.as_str()),
    );
    batch.extend(insert_events(&id, &[draft], &now));
    match svc.db.batch(batch).await {
        Ok(_) => Ok(Some(event_id)),
        Err(DbError::Precondition) => Ok(None),
        Err(e) => Err(ScimError::from(e)),
    }
}
