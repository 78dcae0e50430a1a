//! The request debugger: what is kept of each SCIM request for the portal
//! (never a body, a header other than the User-Agent, a token or a
//! password), which IdP sent it, and what an error means to an IT admin.

use crate::app::isolate::{MemoKey, AUTH_FAILURES_SEEN};
use crate::app::{HttpRequest, HttpResponse, Services};
use crate::scim::ScimError;
use crate::storage::scim_requests::{self, RequestRecord};
use crate::storage::{Db, DbError};
use crate::support::time::Millis;

/// What the shell stores after answering a SCIM request (`ctx.wait_until`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimLog {
    /// An authenticated request, whatever its answer.
    Request(Box<RequestRecord>),
    /// A refused credential against a directory id.
    AuthFailure { directory_id: String, at: String, reason: &'static str, idp: Option<&'static str>, user_agent: Option<String> },
}

/// Stores a [`ScimLog`]; a refused credential is written at most once per
/// directory per isolate every [`AUTH_FAILURE_EVERY_MS`], so a flood of bad
/// tokens costs at most that.
pub async fn store<D: Db>(svc: &Services<'_, D>, log: &ScimLog) -> Result<(), DbError> {
    match log {
        ScimLog::Request(r) => scim_requests::record(svc.data(&r.directory_id), r).await,
        ScimLog::AuthFailure { directory_id, at, reason, idp, user_agent } => {
            if AUTH_FAILURES_SEEN.get(directory_id, svc.now).is_some() {
                return Ok(());
            }
            AUTH_FAILURES_SEEN.put(directory_id.clone(), (), svc.now);
            scim_requests::record_auth_failure(svc.data(directory_id), directory_id, at, reason, *idp, user_agent.as_deref()).await
        }
    }
}

/// How often one isolate writes a directory's refused credentials, at most.
pub const AUTH_FAILURE_EVERY_MS: i64 = 10_000;

/// Longest User-Agent kept.
const USER_AGENT_CHARS: usize = 120;
/// Longest masked query or error detail kept.
const TEXT_CHARS: usize = 300;
/// Event ids kept per request (a larger change lists its first ones).
pub const EVENT_IDS_KEPT: usize = 20;

/// The answer to a SCIM request, as the debugger reads it.
pub struct Answered<'a> {
    pub response: &'a HttpResponse,
    pub error: Option<&'a ScimError>,
    pub event_ids: &'a [String],
}

/// What is kept of an authenticated SCIM request and its answer.
pub fn request_record(req: &HttpRequest, directory_id: &str, rest: &[&str], now: Millis, answer: &Answered<'_>) -> ScimLog {
    let (route, resource_id) = route_and_id(rest);
    let status = answer.response.status;
    ScimLog::Request(Box::new(RequestRecord {
        directory_id: directory_id.to_string(),
        n: 0,
        at: now.to_rfc3339(),
        method: req.method.chars().take(10).collect(),
        route,
        resource_id,
        query: masked_query(req),
        status: i64::from(status),
        scim_type: answer.error.and_then(|e| e.scim_type).map(|t| t.as_str().to_string()),
        detail: answer.error.map(|e| cut(&mask_quoted(&e.detail), TEXT_CHARS)),
        idp: recognise(req, rest).map(str::to_string),
        user_agent: user_agent(req),
        results: if status == 200 { total_results(&answer.response.body) } else { None },
        event_ids: answer.event_ids.iter().take(EVENT_IDS_KEPT).cloned().collect(),
        ms: None,
    }))
}

/// Why a credential was refused, from what was presented (nothing stored
/// of the credential itself).
pub fn auth_failure(req: &HttpRequest, directory_id: &str, now: Millis) -> ScimLog {
    let reason = match req.header("authorization").map(str::trim) {
        None | Some("") => "missing",
        Some(v) if v.eq_ignore_ascii_case("bearer") => "missing",
        Some(_) => match req.bearer() {
            None => "not_bearer",
            Some(t) if t.starts_with(crate::app::scim::oauth::ACCESS_PREFIX) => "access_token",
            Some(t) if !t.starts_with("rcs_") => "malformed",
            Some(_) => "unknown_token",
        },
    };
    ScimLog::AuthFailure { directory_id: directory_id.to_string(), at: now.to_rfc3339(), reason, idp: recognise(req, &[]), user_agent: user_agent(req) }
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.header("user-agent").map(|ua| cut(ua.trim(), USER_AGENT_CHARS)).filter(|ua| !ua.is_empty())
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}

/// The SCIM route (`/Users/{id}`) and the resource id it names.
fn route_and_id(rest: &[&str]) -> (String, Option<String>) {
    let (pattern, _) = crate::app::http::route_of(&format!("/scim/v2/d/{}", rest.join("/")));
    let route = pattern.strip_prefix("/scim/v2/{directory}").filter(|r| !r.is_empty()).unwrap_or("/").to_string();
    let id = match rest {
        [kind, id, ..] if kind.eq_ignore_ascii_case("Users") || kind.eq_ignore_ascii_case("Groups") => Some(cut(id, 64)),
        _ => None,
    };
    (route, id.filter(|i| *i != ".search"))
}

/// The query as the debugger shows it: `filter` with every value masked,
/// then the other parameter names with their values when they are numbers
/// (`startIndex=1&count=100`), else the name alone.
fn masked_query(req: &HttpRequest) -> Option<String> {
    let mut parts = Vec::new();
    for (k, v) in req.query.iter().take(10) {
        let k = cut(k, 40);
        if k.eq_ignore_ascii_case("filter") {
            parts.push(format!("filter={}", mask_filter(v)));
        } else if k.eq_ignore_ascii_case("attributes") || k.eq_ignore_ascii_case("excludedAttributes") {
            parts.push(format!("{k}={}", cut(v, 80)));
        } else if !v.is_empty() && v.len() <= 12 && v.bytes().all(|b| b.is_ascii_digit()) {
            parts.push(format!("{k}={v}"));
        } else {
            parts.push(k);
        }
    }
    (!parts.is_empty()).then(|| cut(&parts.join("&"), TEXT_CHARS))
}

/// Masks every quoted string (`"…"` or `'…'`) of a text.
fn mask_quoted(s: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
        }
    }
    if quote.is_some() {
        out.push('…');
    }
    out
}

/// A filter with its values masked: quoted strings, and the bare word after
/// a comparison operator (Entra sends some values unquoted).
fn mask_filter(f: &str) -> String {
    const OPS: [&str; 9] = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];
    let quoted = mask_quoted(f);
    let mut out: Vec<String> = Vec::new();
    let mut after_op = false;
    for word in quoted.split(' ') {
        if after_op && !word.starts_with('"') && !word.is_empty() {
            let tail: String = word.chars().rev().take_while(|c| *c == ')' || *c == ']').collect();
            out.push(format!("…{tail}"));
        } else {
            out.push(word.to_string());
        }
        after_op = OPS.iter().any(|o| o.eq_ignore_ascii_case(word));
    }
    cut(&out.join(" "), TEXT_CHARS)
}

/// `totalResults` of a list response, read without parsing the whole body.
fn total_results(body: &[u8]) -> Option<i64> {
    let key = b"\"totalResults\":";
    let at = body.windows(key.len()).take(4096).position(|w| w == key)? + key.len();
    let digits: String = body.get(at..)?.iter().skip_while(|b| b.is_ascii_whitespace()).take_while(|b| b.is_ascii_digit()).map(|b| *b as char).collect();
    digits.parse().ok()
}

/// The IdP that sent a request, from its User-Agent or its shape
/// (docs/IDP-QUIRKS.md): `None` when nothing tells.
pub fn recognise(req: &HttpRequest, rest: &[&str]) -> Option<&'static str> {
    const AGENTS: [(&str, &str); 12] = [
        ("okta", "okta"),
        ("azure", "entra_id"),
        ("microsoft", "entra_id"),
        ("entra", "entra_id"),
        ("cyberark", "cyberark"),
        ("idaptive", "cyberark"),
        ("centrify", "cyberark"),
        ("pingfederate", "pingfederate"),
        ("ping identity", "pingfederate"),
        ("onelogin", "onelogin"),
        ("jumpcloud", "jumpcloud"),
        ("rippling", "rippling"),
    ];
    let ua = req.header("user-agent").unwrap_or_default().to_ascii_lowercase();
    if let Some((_, idp)) = AGENTS.iter().find(|(needle, _)| ua.contains(needle)) {
        return Some(idp);
    }
    let body = std::str::from_utf8(&req.body).unwrap_or_default();
    let compact: String = body.chars().take(4096).filter(|c| !c.is_whitespace()).collect();
    let filter = req.param("filter").unwrap_or_default().to_ascii_lowercase();
    if req.query.iter().any(|(k, _)| k.eq_ignore_ascii_case("aadOptscim062020"))
        || ["\"op\":\"Replace\"", "\"op\":\"Add\"", "\"op\":\"Remove\""].iter().any(|op| compact.contains(op))
    {
        return Some("entra_id");
    }
    if filter.starts_with("emails eq") || (req.method == "GET" && matches!(rest, [u, "0"] if u.eq_ignore_ascii_case("Users"))) {
        return Some("pingfederate");
    }
    if compact.contains("\"active\":\"true\"") && compact.contains("\"id\":null") {
        return Some("onelogin");
    }
    None
}

/// An error an IdP hit, in plain words, and the fix.
pub struct Explanation {
    pub what: &'static str,
    pub fix: &'static str,
}

/// What an answer means to an IT admin (`None` for a success).
pub fn explain(status: i64, scim_type: Option<&str>, route: &str) -> Option<Explanation> {
    let e = |what, fix| Some(Explanation { what, fix });
    match (status, scim_type) {
        (200..=299, _) => None,
        (401, _) => e(
            "Rollcall refused the IdP's credentials.",
            "Generate a new bearer token on the Set up tab and paste it into the IdP's token field (the whole value, starting with rcs_, without spaces or the word Bearer), then test the connection again.",
        ),
        (404, _) if route.contains("{id}") => e(
            "The IdP asked for a user or group that this directory does not have (it was deleted here, or the IdP kept an id from another directory).",
            "In the IdP, push the user or group again (Okta: 'Push now'; Entra ID: 'Provision on demand'), so that it is created afresh.",
        ),
        (404, _) => e("The IdP called an address that is not a SCIM endpoint.", "Check the SCIM base URL in the IdP: it must be exactly the one on the Set up tab, with nothing after the directory id."),
        (409, _) => e(
            "The IdP tried to create a user or group that already exists here (same userName or group name).",
            "Let the IdP match existing users on userName (Okta: import, then assign; Entra ID: matching on userName), or remove the duplicate in the IdP and push again.",
        ),
        (400, Some("invalidFilter")) => e(
            "Rollcall could not read a search filter the IdP sent.",
            "Rollcall supports the SCIM operators eq, ne, co, sw, ew, gt, ge, lt, le, pr with and/or/not; check the IdP's matching attribute (userName, externalId or emails) in its attribute mapping.",
        ),
        (400, Some("tooMany")) | (413, _) => e(
            "The request was over one of Rollcall's caps (body size, members per request, results per page).",
            "Most IdPs split large changes on their own and retry: if this repeats, lower the IdP's batch size, or ask your application's team to raise the cap.",
        ),
        (400, _) => e(
            "The IdP sent a user or group Rollcall could not accept (an attribute of the wrong type or a missing userName).",
            "Check the IdP's attribute mapping for the attribute the detail names; userName must be mapped and unique.",
        ),
        (412, _) => e("The IdP sent a version (If-Match) that was out of date.", "Nothing to do: the IdP reads the resource again and retries."),
        (429, _) | (503, _) => e("Rollcall asked the IdP to slow down.", "Nothing to do: IdPs retry after the Retry-After delay."),
        (500..=599, _) => e("Rollcall failed on its side.", "Nothing to change in the IdP: it retries. If this repeats, tell your application's team the time of the request."),
        _ => e("The IdP's request was refused.", "Check the IdP's SCIM settings against the Set up tab."),
    }
}

/// The same for a refused credential's reason.
pub fn explain_auth_failure(reason: &str) -> &'static str {
    match reason {
        "missing" => {
            "The IdP sent no credentials. Choose 'Bearer token' (or 'OAuth 2 bearer token' / 'HTTP Header') authentication in the IdP and paste the token."
        }
        "not_bearer" => {
            "The IdP sent credentials that are not a bearer token (for example Basic authentication). Choose bearer-token authentication and paste the token."
        }
        "access_token" => {
            "The IdP's OAuth access token has expired or is not one Rollcall issued. Check the client id, client secret and token URL in the IdP."
        }
        "malformed" => "The IdP sent a token that is not a Rollcall token (they start with rcs_). Paste the whole token from the Set up tab, without 'Bearer'.",
        _ => "The IdP sent a token this directory does not have: it was revoked, or it belongs to another directory. Generate a new token on the Set up tab.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> HttpRequest {
        HttpRequest::new(method, url, headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), body.as_bytes().to_vec())
    }

    #[test]
    fn filters_keep_their_shape_and_lose_their_values() {
        let r = req(
            "GET",
            "http://h/scim/v2/d/Users?filter=userName%20eq%20%22alice%40x.io%22%20and%20externalId%20eq%2042&startIndex=1&count=100&x=secret",
            &[],
            "",
        );
        assert_eq!(masked_query(&r).as_deref(), Some("filter=userName eq \"…\" and externalId eq …&startIndex=1&count=100&x"));
        assert_eq!(mask_quoted("Attribute 'password' with \"hunter2"), "Attribute '…' with \"…");
    }

    #[test]
    fn routes_name_the_resource_but_not_the_directory() {
        assert_eq!(route_and_id(&["Users", "u1"]), ("/Users/{id}".into(), Some("u1".into())));
        assert_eq!(route_and_id(&["Groups", ".search"]), ("/Groups/.search".into(), None));
        assert_eq!(route_and_id(&[]), ("/".into(), None));
    }

    #[test]
    fn idps_are_recognised_from_their_agent_or_shape() {
        assert_eq!(recognise(&req("GET", "http://h/x", &[("user-agent", "Okta SCIM Client 1.0.0")], ""), &[]), Some("okta"));
        let patch = r#"{"Operations":[{"op":"Replace","path":"active","value":"False"}]}"#;
        assert_eq!(recognise(&req("PATCH", "http://h/x", &[], patch), &[]), Some("entra_id"));
        assert_eq!(recognise(&req("GET", "http://h/x?filter=emails%20eq%20a%40b", &[], ""), &[]), Some("pingfederate"));
        assert_eq!(recognise(&req("GET", "http://h/x", &[], ""), &["Users", "0"]), Some("pingfederate"));
        assert_eq!(recognise(&req("GET", "http://h/x", &[("user-agent", "curl/8")], ""), &["Users"]), None);
    }

    #[test]
    fn totals_are_read_from_list_bodies() {
        assert_eq!(total_results(br#"{"schemas":[],"totalResults": 17,"Resources":[]}"#), Some(17));
        assert_eq!(total_results(br#"{"id":"x"}"#), None);
    }

    #[test]
    fn every_failure_is_explained() {
        for (status, t) in
            [(401, None), (404, None), (409, Some("uniqueness")), (400, Some("invalidFilter")), (413, None), (400, Some("invalidValue")), (500, None)]
        {
            assert!(explain(status, t, "/Users").is_some(), "{status}");
        }
        assert!(explain(201, None, "/Users").is_none());
    }
}
