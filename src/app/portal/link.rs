//! One-time links: made by the application with the admin key, redeemed
//! once by the IT admin's browser for a session cookie.

use super::{message_page, set_cookie, SESSION_HOURS};
use crate::app::api::{body, optional_str, ApiError, ApiResult};
use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::storage::portal;
use crate::storage::{organizations, Db, DbError};
use crate::support::crypto::{b64url, sha256_hex};

/// WorkOS's intents; Rollcall's portal sets up Directory Sync only.
const WORKOS_INTENTS: &[&str] = &["sso", "audit_logs", "log_streams", "domain_verification", "certificate_renewal"];

/// `POST /portal/generate_link {organization, intent: "dsync"}` → `{link}`.
/// The link is on the organisation's whitelabel hostname when it has one
/// (the first in name order), else on the hostname the request came to.
/// `return_url` and `success_url` are accepted and not used.
pub async fn generate<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> ApiResult {
    let b = body(req)?;
    let organization = match (optional_str(&b, "organization")?, optional_str(&b, "organization_id")?) {
        (Some(o), _) | (None, Some(o)) if !o.is_empty() => o,
        _ => return Err(ApiError::invalid("organization is required")),
    };
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
    portal::create_link(svc.control(), &sha256_hex(secret.as_bytes()), &org.id, host.as_deref(), &svc.now_text(), &expires).await.map_err(|e| match e {
        DbError::Precondition => ApiError::not_found("Organization not found"),
        e => ApiError::from(e),
    })?;
    let origin = match &host {
        // The port of the request's authority carries over (local runs).
        Some(h) => {
            let port = req.authority.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map(|(_, p)| format!(":{p}"));
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
