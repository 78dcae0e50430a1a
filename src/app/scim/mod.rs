//! `/scim/v2/{directory_id}/…`: RFC 7644 over the directory's users and groups.

pub mod auth;
pub mod discovery;
pub mod group_fanout;
pub mod groups;
pub mod list;
pub mod members;
pub mod oauth;
pub mod paging;
pub mod render;
pub mod users;
pub mod write;

use super::portal::debugger;
use super::{HttpRequest, HttpResponse, Outcome, Services};
use crate::scim::filter::{parse_attr_list, AttrPath};
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;
use crate::storage::{Batch, Db, DbError, Results};
use auth::{Authed, Credential};
use serde_json::Value;
use std::cell::{Cell, RefCell};

/// One SCIM request in progress.
pub struct Ctx<'a, 'b, D: Db> {
    pub svc: &'a Services<'b, D>,
    pub req: &'a HttpRequest,
    pub cred: Credential<'a>,
    /// `https://host/scim/v2/{directory_id}`.
    pub base: String,
    publish: RefCell<Vec<String>>,
    /// Whether this request's credential has passed (a read ran).
    authenticated: Cell<bool>,
    /// Whether it was refused (the answer is already decided).
    refused: Cell<bool>,
    /// Whether it left group removals to be told in chunks.
    removals: Cell<bool>,
}

impl<D: Db> Ctx<'_, '_, D> {
    /// Asks the shell to tell pending group removals after answering
    /// ([`crate::app::fanout`]).
    pub fn run_removals(&self) {
        self.removals.set(true);
    }

    /// Runs `reads` (data reads) behind the credential check; their
    /// results are read through the slots `reads` handed out.
    pub async fn read(&self, reads: Batch) -> Result<(Authed, Results), ScimError> {
        let (authed, results) = match auth::read(self.svc, &self.cred, reads.into_stmts()).await {
            Ok(r) => r,
            Err(e) => {
                self.refused.set(matches!(e.status, 401 | 404));
                return Err(e);
            }
        };
        self.authenticated.set(true);
        if let Some(id) = &authed.activated {
            self.publish.borrow_mut().push(id.clone());
        }
        Ok((authed, Results::from_vec(results)))
    }

    /// A create in one round trip: the credential check travels as guards in
    /// the write batch. Ok(None) when it cannot be used or did not pass (the
    /// caller then takes the read-then-write path, which reports the cause).
    /// The guards read control tables and the write goes to the data
    /// database, so one batch can carry both only when they are one database.
    pub async fn fast_create(&self, build: impl Fn(&Authed) -> write::Write, unique: &str) -> Result<Option<Authed>, ScimError> {
        if !self.svc.shared() {
            return Ok(None);
        }
        let Some(org) = auth::known_org(self.cred.directory_id) else {
            return Ok(None);
        };
        let authed = Authed { directory_id: self.cred.directory_id.to_string(), organization_id: org, activated: None };
        let mut w = build(&authed);
        let mut stmts = auth::guard_statements(self.svc, &self.cred);
        stmts.append(&mut w.stmts);
        w.stmts = stmts;
        match write::commit(self.svc, &authed, w).await {
            Ok(c) => {
                // The credential guards ran in the batch and passed.
                self.authenticated.set(true);
                self.publish.borrow_mut().extend(c.event_ids);
                Ok(Some(authed))
            }
            Err(DbError::Precondition) => {
                // The credential may have been revoked: check it afresh.
                auth::verified::forget(&self.cred);
                Ok(None)
            }
            Err(DbError::Unique(_)) => Err(ScimError::uniqueness(unique.to_string())),
            Err(e) => Err(ScimError::from(e)),
        }
    }

    /// Commits a write; Ok(None) means a concurrent change: read again.
    /// Ok(Some) holds the results of the write's tail reads.
    pub async fn commit(&self, authed: &Authed, w: write::Write, unique: &str) -> Result<Option<Results>, ScimError> {
        match write::commit(self.svc, authed, w).await {
            Ok(c) => {
                self.publish.borrow_mut().extend(c.event_ids);
                Ok(Some(c.tail))
            }
            Err(DbError::Precondition) => Ok(None),
            Err(DbError::Unique(_)) => Err(ScimError::uniqueness(unique.to_string())),
            Err(e) => Err(ScimError::from(e)),
        }
    }

    /// `attributes` / `excludedAttributes` of the query (RFC 7644 §3.9).
    pub fn projection(&self) -> Result<(Vec<AttrPath>, Vec<AttrPath>), ScimError> {
        let parse = |name: &str| -> Result<Vec<AttrPath>, ScimError> {
            match self.req.param(name) {
                Some(v) => {
                    crate::scim::limits::check_attribute_names(name, v)?;
                    parse_attr_list(v).map_err(|e| ScimError::invalid_value(format!("{name}: {e}")))
                }
                None => Ok(Vec::new()),
            }
        };
        Ok((parse("attributes")?, parse("excludedAttributes")?))
    }

    /// The `If-Match` precondition (RFC 7644 §3.14).
    pub fn check_if_match(&self, version: i64) -> Result<(), ScimError> {
        match self.req.header("if-match") {
            Some(h) if !crate::directory::records::if_match_admits(h, version) => Err(ScimError::precondition_failed()),
            _ => Ok(()),
        }
    }

    /// The request body as JSON (RFC 7644 §3.12 `invalidSyntax` otherwise).
    pub fn body(&self) -> Result<Value, ScimError> {
        if self.req.body.is_empty() {
            return Err(ScimError::invalid_syntax("The request body is empty"));
        }
        serde_json::from_slice(&self.req.body).map_err(|e| ScimError::invalid_syntax(format!("The request body is not valid JSON: {e}")))
    }
}

impl<D: Db> Ctx<'_, '_, D> {
    /// A group body (POST, PUT), its `members` capped.
    pub fn group_body(&self) -> Result<Value, ScimError> {
        let body = self.body()?;
        crate::scim::limits::check_group(&body)?;
        Ok(body)
    }

    /// A PATCH body, its operations and member values capped.
    pub fn patch_body(&self) -> Result<Value, ScimError> {
        let body = self.body()?;
        crate::scim::limits::check_patch(&body)?;
        Ok(body)
    }
}

/// Whether a member list must be loaded, given the projection.
pub fn wants(kind: ResourceKind, attr: &str, attributes: &[AttrPath], excluded: &[AttrPath]) -> bool {
    let named = |list: &[AttrPath]| {
        list.iter().any(|p| p.name.eq_ignore_ascii_case(attr) && p.uri.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(kind.core_schema())))
    };
    if !attributes.is_empty() {
        return named(attributes);
    }
    !named(excluded)
}

/// The answer to a SCIM error (RFC 7644 §3.12).
pub fn error_response(e: &ScimError) -> HttpResponse {
    let mut r = HttpResponse::scim(e.status, &e.to_json());
    if let Some(s) = e.retry_after {
        r = r.header("retry-after", s.to_string());
    }
    if e.status == 401 {
        r = r.header("www-authenticate", "Bearer realm=\"rollcall\"");
    }
    r
}

pub async fn handle<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, directory_id: &str, rest: &[&str]) -> Outcome {
    if rest.len() == 2 && rest.first().is_some_and(|s| s.eq_ignore_ascii_case("oauth")) && rest.get(1).is_some_and(|s| s.eq_ignore_ascii_case("token")) {
        return if req.method == "POST" {
            oauth::token(svc, req, directory_id).await
        } else {
            Outcome::respond(error_response(&ScimError::method_not_allowed()))
        };
    }
    // A missing token is a wrong one: refused by `auth::read` like any other.
    let token = req.bearer().unwrap_or_default();
    let cred = Credential {
        directory_id,
        token,
        host: &req.host,
        default_host: svc.cfg.is_default_host(&req.host),
        oauth_client: if token.starts_with(oauth::ACCESS_PREFIX) {
            // A forged or expired access token matches no client: refused.
            Some(oauth::verify(svc.cfg.oauth_key().as_ref().map(|k| k.as_slice()), token, directory_id, svc.now).unwrap_or_default())
        } else {
            None
        },
        pull: false,
    };
    run(svc, req, directory_id, rest, cred).await
}

/// A request of the directory's own pull reconciliation (src/app/pull):
/// the same use cases, events and sequence numbers as an IdP's request,
/// allowed while the directory has pull settings. Not recorded by the
/// portal's request debugger (it shows what the IdP sent).
pub async fn handle_as_pull<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, directory_id: &str, rest: &[&str]) -> Outcome {
    let cred = Credential { directory_id, token: "", host: &req.host, default_host: true, oauth_client: None, pull: true };
    let mut out = run(svc, req, directory_id, rest, cred).await;
    out.scim_log = None;
    out
}

async fn run<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, directory_id: &str, rest: &[&str], cred: Credential<'_>) -> Outcome {
    let ctx = Ctx {
        svc,
        req,
        cred,
        base: format!("{}/scim/v2/{directory_id}", req.origin()),
        publish: RefCell::new(Vec::new()),
        authenticated: Cell::new(false),
        refused: Cell::new(false),
        removals: Cell::new(false),
    };
    let (response, error) = match authenticate_then_dispatch(&ctx, rest).await {
        Ok(r) => (r, None),
        Err(e) => (error_response(&e), Some(e)),
    };
    let events = ctx.publish.into_inner();
    // For the portal's request debugger (stored after answering).
    let log = if ctx.authenticated.get() {
        let answered = debugger::Answered { response: &response, error: error.as_ref(), event_ids: &events };
        Some(debugger::request_record(req, directory_id, rest, svc.now, &answered))
    } else if response.status == 401 && crate::support::ids::has_prefix(directory_id, "directory") {
        Some(debugger::auth_failure(req, directory_id, svc.now))
    } else {
        None
    };
    let mut out = Outcome::with_events(response, events);
    out.error = error.and_then(|e| e.cause);
    out.run_removals = ctx.removals.get();
    out.scim_log = log;
    out
}

/// Authentication comes first. A request with a body is authenticated alone
/// before the body is looked at, unless this isolate saw the same
/// credential pass moments ago (then every read is still guarded by it, see
/// [`auth::read`]). A request that fails before its first read (a bad
/// filter, a wrong method) is authenticated before that failure is told, so
/// a caller without a valid token learns nothing but 401.
async fn authenticate_then_dispatch<D: Db>(ctx: &Ctx<'_, '_, D>, rest: &[&str]) -> Result<HttpResponse, ScimError> {
    let has_body = !ctx.req.body.is_empty() || ctx.req.body_too_large;
    if has_body && !auth::verified::is_recent(&ctx.cred, ctx.svc.now) {
        ctx.read(Batch::new()).await?;
    }
    match dispatch(ctx, rest).await {
        Err(e) if !ctx.authenticated.get() && !ctx.refused.get() => {
            ctx.read(Batch::new()).await?;
            Err(e)
        }
        other => other,
    }
}

async fn dispatch<D: Db>(ctx: &Ctx<'_, '_, D>, rest: &[&str]) -> Result<HttpResponse, ScimError> {
    let req = ctx.req;
    if req.body_too_large || req.body.len() > ctx.svc.cfg.max_payload {
        return Err(ScimError::too_large(ctx.svc.cfg.max_payload));
    }
    let method = req.method.as_str();
    if matches!(method, "POST" | "PUT" | "PATCH") {
        if let Some(ct) = req.header("content-type") {
            if !ct.to_ascii_lowercase().contains("json") {
                return Err(ScimError::new(415, None, "Send application/scim+json or application/json"));
            }
        }
    }
    use ResourceKind::{Group, User};
    // Endpoint names in their RFC 7644 §3.2 spelling, whatever case was sent.
    const ENDPOINTS: [&str; 5] = ["ServiceProviderConfig", "ResourceTypes", "Schemas", "Users", "Groups"];
    let first = rest.first().map(|s| ENDPOINTS.iter().copied().find(|e| e.eq_ignore_ascii_case(s)).unwrap_or(s));
    let canonical: Vec<&str> = first.into_iter().chain(rest.iter().skip(1).copied()).collect();
    match (method, canonical.as_slice()) {
        ("GET", ["ServiceProviderConfig"]) => discovery::service_provider_config(ctx).await,
        ("GET", ["ResourceTypes"]) => discovery::resource_types(ctx, None).await,
        ("GET", ["ResourceTypes", id]) => discovery::resource_types(ctx, Some(id)).await,
        ("GET", ["Schemas"]) => discovery::schemas(ctx, None).await,
        ("GET", ["Schemas", id]) => discovery::schemas(ctx, Some(id)).await,
        ("GET", ["Users"]) => list::from_query(ctx, User).await,
        ("GET", ["Groups"]) => list::from_query(ctx, Group).await,
        ("POST", ["Users", ".search"]) => list::from_body(ctx, Some(User)).await,
        ("POST", ["Groups", ".search"]) => list::from_body(ctx, Some(Group)).await,
        ("POST", [".search"]) => list::from_body(ctx, None).await,
        ("POST", ["Users"]) => users::create(ctx).await,
        ("GET", ["Users", id]) => users::get(ctx, id).await,
        ("PUT", ["Users", id]) => users::replace(ctx, id).await,
        ("PATCH", ["Users", id]) => users::patch(ctx, id).await,
        ("DELETE", ["Users", id]) => users::delete(ctx, id).await,
        ("POST", ["Groups"]) => groups::create(ctx).await,
        ("GET", ["Groups", id]) => groups::get(ctx, id).await,
        ("PUT", ["Groups", id]) => groups::replace(ctx, id).await,
        ("PATCH", ["Groups", id]) => groups::patch(ctx, id).await,
        ("DELETE", ["Groups", id]) => groups::delete(ctx, id).await,
        (_, ["ServiceProviderConfig" | "ResourceTypes" | "Schemas" | "Users" | "Groups" | ".search", ..]) => Err(ScimError::method_not_allowed()),
        _ => Err(ScimError::not_found("No such SCIM endpoint")),
    }
}
