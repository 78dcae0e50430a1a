//! The app's own request and response: what the shell hands in and gets back.

use crate::support::url::parse_query;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// `https` or `http`, for the URLs we answer (SCIM `meta.location`).
    pub scheme: String,
    /// Host without port, lower-case.
    pub host: String,
    /// Host with port as the client sent it, for URLs.
    pub authority: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Header names lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body went past the largest size the shell reads (counted on the
    /// bytes received, chunked or not); `body` then holds only a prefix.
    pub body_too_large: bool,
}

impl HttpRequest {
    /// Builds a request from a URL's parts; used by the shell and by tests.
    pub fn new(method: &str, url: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
        let (authority, path_query) = match rest.find('/') {
            Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("/")),
            None => (rest, "/"),
        };
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let headers: Vec<(String, String)> = headers.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        // The Host header wins over the URL's authority (whitelabel hostnames).
        let authority = headers.iter().find(|(k, _)| k == "host").map(|(_, v)| v.clone()).unwrap_or_else(|| authority.to_string());
        let (host, _) = split_port(&authority);
        HttpRequest {
            method: method.to_ascii_uppercase(),
            scheme: scheme.to_ascii_lowercase(),
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            authority: authority.clone(),
            path: path.to_string(),
            query: parse_query(query),
            headers,
            body,
            body_too_large: false,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A query parameter, matched case-insensitively (SCIM parameter names
    /// are case-insensitive in practice: `startindex`, `Count`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated query parameter, in order.
    pub fn params<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The port the client named in the authority, if any.
    pub fn port(&self) -> Option<&str> {
        split_port(&self.authority).1
    }

    /// `scheme://authority`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// The bearer token of `Authorization: Bearer …` (scheme case-insensitive).
    pub fn bearer(&self) -> Option<&str> {
        let v = self.header("authorization")?.trim();
        let (scheme, token) = v.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }
}

/// `host:port` → (host, Some(port)); an authority without a numeric port
/// is all host.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (authority, None),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(status: u16, body: &Value) -> Self {
        Self::with_type(status, "application/json", body)
    }

    pub fn scim(status: u16, body: &Value) -> Self {
        Self::with_type(status, "application/scim+json; charset=utf-8", body)
    }

    fn with_type(status: u16, content_type: &str, body: &Value) -> Self {
        HttpResponse { status, headers: vec![("content-type".into(), content_type.into())], body: serde_json::to_vec(body).unwrap_or_default() }
    }

    pub fn empty(status: u16) -> Self {
        HttpResponse { status, headers: Vec::new(), body: Vec::new() }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON (tests and logs).
    pub fn json_body(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Path segments that name a route rather than a resource.
const ROUTE_WORDS: &[&str] = &[
    "scim",
    "v2",
    "v1",
    "Users",
    "Groups",
    "ServiceProviderConfig",
    "ResourceTypes",
    "Schemas",
    ".search",
    "oauth",
    "token",
    "health",
    "openapi.json",
    "organizations",
    "domains",
    "directories",
    "tokens",
    "directory_users",
    "directory_groups",
    "events",
    "redeliver",
    "webhook_endpoints",
    "rotate_secret",
    "deliveries",
    "portal",
    "generate_link",
    "revoke_link",
    "launch",
    "api",
    "assets",
    "session",
    "sign_out",
];

/// A request's route pattern for logs, such as `/scim/v2/{directory}/Users/{id}`,
/// and the directory it names. Every segment that is not a route word is
/// replaced, so no caller-chosen text reaches the log line; at most 8
/// segments are kept.
pub fn route_of(path: &str) -> (String, Option<String>) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let scim = segments.first().is_some_and(|s| s.eq_ignore_ascii_case("scim"));
    let directory = scim.then(|| segments.get(2).map(|d| d.chars().take(64).collect::<String>())).flatten();
    let mut out = String::new();
    for (i, seg) in segments.iter().take(8).enumerate() {
        out.push('/');
        match ROUTE_WORDS.iter().find(|w| w.eq_ignore_ascii_case(seg)) {
            Some(w) if !(scim && i == 2) => out.push_str(w),
            _ if scim && i == 2 => out.push_str("{directory}"),
            _ => out.push_str("{id}"),
        }
    }
    if segments.len() > 8 {
        out.push_str("/…");
    }
    if out.is_empty() {
        out.push('/');
    }
    (out, directory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_wins_and_loses_its_port() {
        let r = HttpRequest::new("get", "http://127.0.0.1:8787/scim/v2/d/Users?count=2", vec![("Host".into(), "SCIM.Acme.test:8787".into())], vec![]);
        assert_eq!(r.host, "scim.acme.test");
        assert_eq!(r.authority, "SCIM.Acme.test:8787");
        assert_eq!(r.path, "/scim/v2/d/Users");
        assert_eq!(r.param("COUNT"), Some("2"));
        assert_eq!(r.method, "GET");
    }

    #[test]
    fn routes_are_logged_as_patterns_without_caller_text() {
        assert_eq!(route_of("/scim/v2/directory_1/users/u%20x"), ("/scim/v2/{directory}/Users/{id}".into(), Some("directory_1".into())));
        assert_eq!(route_of("/v1/directories/d1/tokens"), ("/v1/directories/{id}/tokens".into(), None));
        assert_eq!(route_of("/"), ("/".into(), None));
        assert_eq!(route_of("/a/b/c/d/e/f/g/h/i").0, "/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}/…");
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let r = HttpRequest::new("GET", "http://h/", vec![("authorization".into(), "bearer abc".into())], vec![]);
        assert_eq!(r.bearer(), Some("abc"));
        let r = HttpRequest::new("GET", "http://h/", vec![("authorization".into(), "Basic abc".into())], vec![]);
        assert_eq!(r.bearer(), None);
    }
}
