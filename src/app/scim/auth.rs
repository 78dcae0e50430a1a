//! Who may call `/scim/v2/{directory_id}`: the directory's bearer token (or
//! an OAuth access token), on a hostname that serves the directory's
//! organisation. The check is a guard at the head of every read batch: when
//! it fails the batch stops there, so nothing the caller asked for is read.

use crate::app::isolate::{MemoKey, DIRECTORY_ORGS};
use crate::app::Services;
use crate::directory::views::directory_view;
use crate::events::{kind, EventDraft};
use crate::scim::ScimError;
use crate::storage::directories::{self, DirectoryRecord, ScimAccess, Secret};
use crate::storage::events::insert_events;
use crate::storage::guard::always;
use crate::storage::{Db, DbError, Stmt, StmtResult};
use crate::support::crypto::sha256_hex;
use crate::support::time::Millis;

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
    /// The directory's own pull reconciliation applying what the pushes
    /// missed (never set from a request: see `scim::handle_as_pull`).
    pub pull: bool,
}

/// What storage matches the credential on: a bearer token by its hash, an
/// access token by its OAuth client.
fn access<'a>(c: &Credential<'a>) -> ScimAccess<'a> {
    let secret = match &c.oauth_client {
        _ if c.pull => Secret::Pull,
        Some(client) => Secret::OauthClient { client_id: client.clone() },
        None => Secret::Bearer { hash: sha256_hex(c.token.as_bytes()) },
    };
    ScimAccess { directory_id: c.directory_id, secret, host: c.host, default_host: c.default_host }
}

/// `last_used_at` is refreshed when older than this instant.
fn touch_before<D: Db>(svc: &Services<'_, D>) -> String {
    svc.now.plus_seconds(-TOUCH_EVERY_SECONDS).to_rfc3339()
}

/// The credential check as a precondition of a write batch: aborts it
/// unless the token, hostname and a linked directory all match. Used when
/// the directory's organisation is already known (see [`known_org`]), so a
/// create needs one D1 round trip; on any failure the caller falls back to
/// [`read`], which says precisely what is wrong.
///
/// The check reads control tables, so it can only front a write on the
/// same database: callers must use it only when `svc.shared()`. On separate
/// databases it is a guard that always aborts (the write is refused, never
/// run unchecked), so a caller that did not ask pays a wasted round trip
/// and takes the [`read`] path.
pub fn guard_statements<D: Db>(svc: &Services<'_, D>, c: &Credential) -> Vec<Stmt> {
    if !svc.shared() {
        return vec![always("auth_elsewhere")];
    }
    directories::write_guard(&access(c), &svc.now_text(), &touch_before(svc))
}

/// The organisation of a directory this isolate has authenticated before.
pub fn known_org(directory_id: &str) -> Option<String> {
    DIRECTORY_ORGS.get(directory_id, Millis(0))
}

fn remember_org(directory_id: &str, organization_id: &str) {
    DIRECTORY_ORGS.put(directory_id.to_string(), organization_id.to_string(), Millis(0));
}

/// Whether a presented token can be one of ours at all: bearer tokens are
/// `rcs_` + 43 base64url characters, access tokens `rca_…` and verified by
/// their MAC before this is asked. Anything else is refused without a D1 call.
pub fn plausible(c: &Credential) -> bool {
    c.pull
        || c.oauth_client.as_deref().is_some_and(|id| !id.is_empty())
        || (c.oauth_client.is_none()
            && c.token.len() <= 128
            && c.token.strip_prefix("rcs_").is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')))
}

/// The answer to a credential that did not pass. On a default hostname an
/// unknown directory and a wrong token are the same 401, so a caller cannot
/// probe which directories exist; on a whitelabel hostname another
/// organisation's directory (or none) is a 404 (docs/PRODUCT.md § Who talks to it).
pub async fn refusal<D: Db>(svc: &Services<'_, D>, c: &Credential<'_>) -> ScimError {
    if c.default_host {
        return ScimError::unauthorized();
    }
    if !crate::support::ids::has_prefix(c.directory_id, "directory") {
        return ScimError::not_found("Directory not found");
    }
    match directories::served_on_host(svc.control(), c.directory_id, c.host).await {
        Ok(true) => ScimError::unauthorized(),
        Ok(false) => ScimError::not_found("Directory not found"),
        Err(e) => ScimError::from(e),
    }
}

/// Runs `reads` (statements over the directory's data) behind the
/// credential check; returns their results. A credential that fails costs
/// the guard's few index lookups: the batch stops there and none of `reads`
/// runs. On one database that is one batch; on separate control and data
/// databases the reads run on the data database after the check passed.
pub async fn read<D: Db>(svc: &Services<'_, D>, c: &Credential<'_>, reads: Vec<Stmt>) -> Result<(Authed, Vec<StmtResult>), ScimError> {
    if !plausible(c) || !crate::support::ids::has_prefix(c.directory_id, "directory") {
        return Err(refusal(svc, c).await);
    }
    let (dir, reads) = match directories::authenticate(svc.control(), svc.data(c.directory_id), &access(c), &svc.now_text(), &touch_before(svc), reads).await {
        Ok(r) => r,
        Err(DbError::Precondition) => {
            verified::forget(c);
            return Err(refusal(svc, c).await);
        }
        Err(e) => return Err(ScimError::from(e)),
    };
    let dir = dir.ok_or_else(ScimError::unauthorized)?;
    let mut authed = Authed { directory_id: dir.id.clone(), organization_id: dir.organization_id.clone(), activated: None };
    remember_org(&authed.directory_id, &authed.organization_id);
    verified::remember(c, svc.now);
    if dir.is_pending() {
        authed.activated = activate(svc, &dir).await?;
    }
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
        format!("{}\u{1}{}\u{1}{}\u{1}{}", sha256_hex(c.token.as_bytes()), c.directory_id, c.host, c.pull)
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
async fn activate<D: Db>(svc: &Services<'_, D>, dir: &DirectoryRecord) -> Result<Option<String>, ScimError> {
    let now = svc.now_text();
    let view = directory_view(&dir.in_state("linked", &now));
    let event_id = svc.ids().make("event");
    let draft = EventDraft { id: event_id.clone(), event: kind::ACTIVATED, data: view };
    let events = insert_events(&dir.id, &[draft], &now);
    let linked = directories::activate(svc.control(), svc.data(&dir.id), &dir.id, events, &now).await?;
    Ok(linked.then_some(event_id))
}
