//! The IT admin's set-up portal (docs/PRODUCT.md § Set-up portal): a
//! one-time link from the application (`POST /portal/generate_link`,
//! WorkOS's shape), exchanged for a session cookie scoped to one
//! organisation on one hostname, and pages served by the Worker itself
//! (assets embedded, no external request) on that hostname.
//!
//! - `GET /portal/launch?secret=…` redeems a link (once, within
//!   `PORTAL_LINK_SECONDS`, 5 minutes by default) and sets the session cookie;
//! - `GET /portal` is the page; `/portal/assets/…` its script and styles;
//! - `/portal/api/…` is what the page reads and does, as the session's
//!   organisation only (another organisation's directory is a 404).

pub mod debugger;
pub mod link;
pub mod page_api;

use super::{HttpRequest, HttpResponse, Outcome, Services};
use crate::storage::portal::{self, Session};
use crate::storage::Db;
use crate::support::crypto::sha256_hex;

/// How long a session lasts.
pub const SESSION_HOURS: i64 = 8;
/// The session cookie.
pub const COOKIE: &str = "rollcall_portal";
/// The header every state-changing call of the page carries (a cross-site
/// form cannot set it, and a cross-site script would need a CORS
/// preflight that is never granted).
pub const CSRF_HEADER: &str = "x-rollcall-portal";

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const GUIDES_JS: &str = include_str!("assets/guides.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Security headers of every portal answer: nothing external may load,
/// nothing may frame it, and the launch URL's secret never leaves in a Referer.
fn secured(r: HttpResponse) -> HttpResponse {
    r.header(
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    .header("referrer-policy", "no-referrer")
    .header("x-content-type-options", "nosniff")
    .header("x-frame-options", "DENY")
}

fn text(status: u16, content_type: &str, body: &str, cache: &str) -> HttpResponse {
    secured(HttpResponse {
        status,
        headers: vec![("content-type".into(), content_type.into()), ("cache-control".into(), cache.into())],
        body: body.as_bytes().to_vec(),
    })
}

/// A page of its own for a refusal (an expired link, no session), in plain words.
pub fn message_page(status: u16, title: &str, message: &str) -> HttpResponse {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · Rollcall</title><link rel=\"stylesheet\" href=\"/portal/assets/app.css\"></head>\
         <body><main class=\"narrow\"><h1>{t}</h1><p>{m}</p></main></body></html>",
        t = esc(title),
        m = esc(message)
    );
    text(status, "text/html; charset=utf-8", &body, "no-store")
}

fn session_expired() -> HttpResponse {
    message_page(
        401,
        "This set-up session has ended",
        "Set-up links work once and for a few minutes, and a session lasts a few hours. Open the set-up link again from your application to get a new one.",
    )
}

/// The session cookie's value, if the request carries one.
fn cookie(req: &HttpRequest) -> Option<&str> {
    req.headers
        .iter()
        .filter(|(k, _)| k == "cookie")
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The `Set-Cookie` value of a session (or of its end, with `max_age` 0).
pub fn set_cookie(req: &HttpRequest, value: &str, max_age: i64) -> String {
    let secure = if req.scheme == "https" { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/portal; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// The session of a request, when its cookie names a live one made for
/// this hostname (a session from a default hostname is not valid on a
/// whitelabel one, nor the reverse).
pub async fn session<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> Result<Option<Session>, crate::storage::DbError> {
    let Some(c) = cookie(req) else { return Ok(None) };
    let Some(s) = portal::session(svc.control(), &sha256_hex(c.as_bytes()), &svc.now_text()).await? else { return Ok(None) };
    let on_its_host = match &s.host {
        Some(h) => *h == req.host,
        None => svc.cfg.is_default_host(&req.host),
    };
    Ok(on_its_host.then_some(s))
}

/// `/portal/…` on any hostname.
pub async fn handle<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, rest: &[&str]) -> Outcome {
    let page = |r: HttpResponse| Outcome::respond(r);
    match (req.method.as_str(), rest) {
        ("GET", ["launch"]) => link::launch(svc, req).await,
        ("GET", ["assets", "app.js"]) => page(text(200, "text/javascript; charset=utf-8", APP_JS, "public, max-age=300")),
        ("GET", ["assets", "guides.js"]) => page(text(200, "text/javascript; charset=utf-8", GUIDES_JS, "public, max-age=300")),
        ("GET", ["assets", "app.css"]) => page(text(200, "text/css; charset=utf-8", APP_CSS, "public, max-age=300")),
        ("GET", []) => match session(svc, req).await {
            Ok(Some(_)) => page(text(200, "text/html; charset=utf-8", INDEX_HTML, "no-store")),
            Ok(None) => page(session_expired()),
            Err(e) => {
                Outcome::failed(message_page(500, "Something went wrong", "Rollcall could not read your session; try again in a moment."), Some(e.to_string()))
            }
        },
        (_, ["api", rest @ ..]) => page_api::handle(svc, req, rest).await,
        _ => page(message_page(404, "Not found", "There is no such page in the set-up portal.")),
    }
}
