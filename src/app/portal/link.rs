//! One-time links: made by the application with the admin key, redeemed
//! once by the IT admin's browser for a session cookie.

use super::{message_page, set_cookie, SESSION_HOURS};
use crate::app::api::{body, optional_str, ApiError, ApiResult};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::storage::portal::{self, NewLink};
use crate::storage::{organizations, Db, DbError};
use crate::support::crypto::{b64url, sha256_hex};

/// WorkOS's intents; Rollcall's portal sets up Directory Sync only.
const WORKOS_INTENTS: &[&str] = &["sso", "audit_logs", "log_streams", "domain_verification", "certificate_renewal", "bring_your_own_key"];

/// Longest `external_user_id` kept.
const EXTERNAL_USER_ID_CHARS: usize = 256;

/// `organization` (WorkOS's name; `organization_id` also taken) of a body.
fn organization_of(b: &serde_json::Map<String, serde_json::Value>) -> Result<String, ApiError> {
    match (optional_str(b, "organization")?, optional_str(b, "organization_id")?) {
        (Some(o), _) | (None, Some(o)) if !o.is_empty() => Ok(o),
        _ => Err(ApiError::invalid("organization is required")),
    }
}

fn external_user_id(b: &serde_json::Map<String, serde_json::Value>) -> Result<Option<String>, ApiError> {
    match optional_str(b, "external_user_id")? {
        Some(id) if id.chars().count() > EXTERNAL_USER_ID_CHARS => {
            Err(ApiError::invalid(format!("external_user_id is at most {EXTERNAL_USER_ID_CHARS} characters")))
        }
        id => Ok(id.filter(|i| !i.is_empty())),
    }
}

/// `POST /portal/generate_link {organization, intent: "dsync"}` → `{link}`.
/// The link is on the organisation's whitelabel hostname when it has one
/// (the first in name order), else on the hostname the request came to.
/// `external_user_id` names the admin it is for ([`revoke`]); `return_url`
/// and `success_url` are checked and not used, `it_contact_emails`,
/// `admin_emails` and `intent_options` ignored.
pub async fn generate<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let b = body(req)?;
    let organization = organization_of(&b)?;
    let admin = external_user_id(&b)?;
    match optional_str(&b, "intent")?.as_deref() {
        Some("dsync") => {}
        Some(i) if WORKOS_INTENTS.contains(&i) => {
            return Err(ApiError::invalid(format!("intent {i} is not offered: Rollcall's portal sets up directory sync (intent dsync)")))
        }
        _ => return Err(ApiError::invalid("intent must be dsync")),
    }
    for url in ["return_url", "success_url"] {
        if optional_str(&b, url)?.is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://"))) {
            return Err(ApiError::invalid(format!("{url} must be an http(s) URL")));
        }
    }
    let org = organizations::get(svc.control(), &organization).await?.ok_or_else(|| ApiError::not_found("Organization not found"))?;
    let host = org.domains.iter().min().cloned();
    let secret = b64url(&svc.ids().random_bytes(32).map_err(|_| crate::app::api::entropy_unavailable())?);
    let expires = svc.now.plus_seconds(svc.cfg.portal_link_seconds).to_rfc3339();
    let token_hash = sha256_hex(secret.as_bytes());
    let link = NewLink { token_hash: &token_hash, organization_id: &org.id, host: host.as_deref(), external_user_id: admin.as_deref(), expires_at: &expires };
    portal::create_link(svc.control(), &link, &svc.now_text()).await.map_err(|e| match e {
        DbError::Precondition => ApiError::not_found("Organization not found"),
        e => ApiError::from(e),
    })?;
    let origin = match &host {
        // The port of the request's authority carries over (local runs).
        Some(h) => {
            let port = req.port().map(|p| format!(":{p}"));
            format!("{}://{h}{}", req.scheme, port.unwrap_or_default())
        }
        None => req.origin(),
    };
    crate::app::api::ok(201, &serde_json::json!({ "link": format!("{origin}/portal/launch?secret={secret}") }))
}

/// `GET /portal/launch?secret=…`: redeems the link on the hostname it was
/// made for and sets the session cookie; an unknown, expired or used link
/// (or one for another hostname) gets a page saying so.
pub async fn launch<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> Outcome {
    let refused = || {
        Outcome::respond(message_page(
            403,
            "This set-up link has expired",
            "Set-up links work once and for a few minutes. Open the set-up page again from your application to get a new link.",
        ))
    };
    let Some(secret) = req.param("secret").filter(|s| !s.is_empty() && s.len() <= 128) else { return refused() };
    let host = (!svc.cfg.is_default_host(&req.host)).then(|| req.host.clone());
    let Ok(session_secret) = svc.ids().random_bytes(32).map(|b| b64url(&b)) else {
        return Outcome::respond(message_page(503, "Try again in a moment", "No secure randomness is available right now."));
    };
    let expires = svc.now.plus_seconds(SESSION_HOURS * 3600).to_rfc3339();
    match portal::redeem_link(svc.control(), &sha256_hex(secret.as_bytes()), host.as_deref(), &sha256_hex(session_secret.as_bytes()), &svc.now_text(), &expires)
        .await
    {
        Ok(Some(_)) => Outcome::respond(
            HttpResponse::empty(303)
                .header("location", "/portal")
                .header("set-cookie", set_cookie(req, &session_secret, SESSION_HOURS * 3600))
                .header("cache-control", "no-store")
                .header("referrer-policy", "no-referrer"),
        ),
        Ok(None) => refused(),
        Err(e) => {
            Outcome::failed(message_page(500, "Something went wrong", "Rollcall could not open the set-up session; try the link again."), Some(e.to_string()))
        }
    }
}

/// `POST /portal/revoke_link {organization, external_user_id}` → 204: every
/// link made for that admin stops working and their sessions end at once.
pub async fn revoke<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let b = body(req)?;
    let organization = organization_of(&b)?;
    let admin = external_user_id(&b)?.ok_or_else(|| ApiError::invalid("external_user_id is required"))?;
    if !portal::revoke(svc.control(), &organization, &admin).await? {
        return Err(ApiError::not_found("Organization not found"));
    }
    Ok(Outcome::respond(HttpResponse::empty(204)))
}
