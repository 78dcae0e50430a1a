//! The IdP's side of a run: an OAuth2 client-credentials token (RFC 6749
//! §4.4), renewed when it expires or is refused, and SCIM reads of the
//! IdP's `/Users` and `/Groups` (RFC 7644 §3.4.2). Every failure becomes a
//! [`RunError`] in plain words; no secret or token is ever part of one.

use super::diff::{IdpGroup, IdpUser};
use super::{Fetch, OutRequest, RunError};
use crate::support::time::Millis;
use crate::support::url::encode_component;
use base64::Engine;
use serde_json::Value;

/// What the run asks per page; the IdP may answer fewer.
pub const PAGE_COUNT: u64 = 100;
/// A token is renewed this long before the expiry it was given.
const EXPIRY_MARGIN_SECONDS: i64 = 30;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuth {
    /// `Authorization: Basic` (RFC 6749 §2.3.1's default).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// The IdP to read and the credentials to read it with.
pub struct Idp<'a, H: Fetch> {
    pub http: &'a H,
    pub scim_url: &'a str,
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub scope: Option<&'a str>,
    pub auth: TokenAuth,
    token: Option<(String, Option<Millis>)>,
    /// Tokens obtained in this invocation.
    pub tokens: u32,
}

/// One page of a list.
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: Option<u64>,
}

fn host_of(url: &str) -> &str {
    url.split("://").nth(1).unwrap_or(url).split(['/', '?', '#']).next().unwrap_or_default()
}

fn error_code(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("error").and_then(Value::as_str).map(|s| s.chars().filter(|c| c.is_ascii_graphic()).take(64).collect())
}

/// A SCIM string literal for a filter (RFC 7644 §3.4.2.2: JSON string rules).
fn literal(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl<'a, H: Fetch> Idp<'a, H> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        http: &'a H,
        scim_url: &'a str,
        token_url: &'a str,
        client_id: &'a str,
        client_secret: &'a str,
        scope: Option<&'a str>,
        auth: TokenAuth,
    ) -> Self {
        Idp { http, scim_url: scim_url.trim_end_matches('/'), token_url, client_id, client_secret, scope, auth, token: None, tokens: 0 }
    }

    async fn fetch_token(&mut self) -> Result<String, RunError> {
        let mut form = String::from("grant_type=client_credentials");
        if let Some(s) = self.scope.filter(|s| !s.is_empty()) {
            form.push_str(&format!("&scope={}", encode_component(s)));
        }
        let mut headers = vec![("content-type".to_string(), "application/x-www-form-urlencoded".to_string()), ("accept".into(), "application/json".into())];
        match self.auth {
            TokenAuth::Basic => {
                let pair = format!("{}:{}", encode_component(self.client_id), encode_component(self.client_secret));
                headers.push(("authorization".into(), format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))));
            }
            TokenAuth::Body => {
                form.push_str(&format!("&client_id={}&client_secret={}", encode_component(self.client_id), encode_component(self.client_secret)));
            }
        }
        let host = host_of(self.token_url);
        let res = self
            .http
            .fetch(OutRequest { method: "POST", url: self.token_url.to_string(), headers, body: form.into_bytes() })
            .await
            .map_err(|e| RunError::new("idp_unreachable", format!("Could not reach the token endpoint at {host}: {e}")))?;
        if !(200..300).contains(&res.status) {
            let code = error_code(&res.body);
            let named = code.as_deref().map(|c| format!(", {c}")).unwrap_or_default();
            if code.as_deref() == Some("invalid_scope") {
                return Err(RunError::new(
                    "scope_missing",
                    format!("The token endpoint at {host} refused the scope (HTTP {}{named}): give the OAuth client a scope that allows SCIM reads, and set it here", res.status),
                ));
            }
            return Err(RunError::new(
                "token_refused",
                format!("The token endpoint at {host} refused the client credentials (HTTP {}{named}): check client_id and client_secret, and whether the IdP expects them as HTTP Basic or in the form body (token_auth)", res.status),
            ));
        }
        let v: Value = serde_json::from_slice(&res.body)
            .map_err(|_| RunError::new("token_refused", format!("The token endpoint at {host} answered {} without a JSON token", res.status)))?;
        let token = v
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty() && t.len() <= 8192)
            .ok_or_else(|| RunError::new("token_refused", format!("The token endpoint at {host} answered without an access_token")))?;
        let expires_in = v.get("expires_in").and_then(|e| e.as_i64().or_else(|| e.as_str().and_then(|s| s.parse().ok())));
        let now = self.http.now();
        let expiry = expires_in.map(|s| now.plus_seconds(s.saturating_sub(EXPIRY_MARGIN_SECONDS).max(0)));
        self.token = Some((token.to_string(), expiry));
        self.tokens += 1;
        Ok(token.to_string())
    }

    async fn token(&mut self) -> Result<String, RunError> {
        let now = self.http.now();
        match &self.token {
            Some((t, expiry)) if expiry.is_none_or(|e| e > now) => Ok(t.clone()),
            _ => self.fetch_token().await,
        }
    }

    /// GET `{scim_url}{path}`: the status and JSON body. A 401 renews the
    /// token once; 403 is a missing scope; an unreachable IdP is told.
    async fn get(&mut self, path: &str) -> Result<(u16, Value), RunError> {
        let url = format!("{}{path}", self.scim_url);
        let resource = path.split('?').next().unwrap_or(path);
        let host = host_of(self.scim_url);
        for renewed in [false, true] {
            let token = if renewed { self.fetch_token().await? } else { self.token().await? };
            let headers = vec![("authorization".to_string(), format!("Bearer {token}")), ("accept".into(), "application/scim+json, application/json".into())];
            let res = self
                .http
                .fetch(OutRequest { method: "GET", url: url.clone(), headers, body: Vec::new() })
                .await
                .map_err(|e| RunError::new("idp_unreachable", format!("Could not reach the IdP's SCIM API at {host}: {e}")))?;
            match res.status {
                401 if !renewed => continue,
                401 => {
                    return Err(RunError::new("token_refused", format!("The IdP's SCIM API at {host} refused a fresh access token on {resource} (HTTP 401)")));
                }
                403 => {
                    return Err(RunError::new(
                        "scope_missing",
                        format!(
                        "The IdP's SCIM API at {host} refused to let this client read {resource} (HTTP 403): the OAuth client's scope must allow SCIM reads"
                    ),
                    ))
                }
                s => {
                    let body = serde_json::from_slice(&res.body).unwrap_or(Value::Null);
                    return Ok((s, body));
                }
            }
        }
        Err(RunError::new("token_refused", format!("The IdP's SCIM API at {host} refused the access token")))
    }

    fn unexpected(&self, resource: &str, status: u16) -> RunError {
        RunError::new("idp_error", format!("The IdP's SCIM API at {} answered HTTP {status} to {resource}; the next run tries again", host_of(self.scim_url)))
    }

    /// A page of a list (`/Users` or `/Groups`) from `start_index`.
    async fn list(&mut self, resource: &str, start_index: u64) -> Result<(Vec<Value>, Option<u64>), RunError> {
        let (status, body) = self.get(&format!("/{resource}?startIndex={start_index}&count={PAGE_COUNT}")).await?;
        if !(200..300).contains(&status) {
            return Err(self.unexpected(&format!("/{resource}"), status));
        }
        let unreadable = || RunError::new("idp_answer_unreadable", format!("The IdP's answer to /{resource} is not a SCIM ListResponse"));
        let total = body.get("totalResults").and_then(Value::as_u64);
        let items = match body.get("Resources") {
            Some(Value::Array(a)) => a.clone(),
            None | Some(Value::Null) if body.is_object() && total.is_some() => Vec::new(),
            _ => return Err(unreadable()),
        };
        Ok((items, total))
    }

    pub async fn users(&mut self, start_index: u64) -> Result<Page<IdpUser>, RunError> {
        let (items, total) = self.list("Users", start_index).await?;
        let items = items
            .iter()
            .map(|u| match (u.get("id").and_then(Value::as_str), u.get("userName").and_then(Value::as_str)) {
                (Some(id), Some(name)) => Ok(IdpUser { id: id.to_string(), user_name: name.to_string(), active: is_active(u) }),
                _ => Err(RunError::new("idp_answer_unreadable", "A user in the IdP's /Users answer has no id or userName")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { items, total })
    }

    pub async fn groups(&mut self, start_index: u64) -> Result<Page<IdpGroup>, RunError> {
        let (items, total) = self.list("Groups", start_index).await?;
        let items = items.iter().map(group_of).collect::<Result<_, _>>()?;
        Ok(Page { items, total })
    }

    /// Whether the IdP has an active user with this userName or IdP id now;
    /// None when it cannot say (it does not support the filter).
    pub async fn has_user(&mut self, user_name: &str, idp_id: Option<&str>) -> Result<Option<bool>, RunError> {
        self.confirm("Users", &format!("userName eq {}", literal(user_name)), idp_id).await
    }

    /// Whether the IdP has a group with this displayName or IdP id now.
    pub async fn has_group(&mut self, display_name: &str, idp_id: Option<&str>) -> Result<Option<bool>, RunError> {
        self.confirm("Groups", &format!("displayName eq {}", literal(display_name)), idp_id).await
    }

    async fn confirm(&mut self, resource: &str, filter: &str, idp_id: Option<&str>) -> Result<Option<bool>, RunError> {
        if let Some(id) = idp_id {
            let (status, body) = self.get(&format!("/{resource}/{}", encode_component(id))).await?;
            match status {
                200..=299 if is_active(&body) => return Ok(Some(true)),
                // Not there by that id (or the id is not one of this IdP's).
                200..=299 | 400 | 404 => {}
                s => return Err(self.unexpected(&format!("/{resource}/{{id}}"), s)),
            }
        }
        let path = format!("/{resource}?filter={}", encode_component(filter));
        let (status, body) = self.get(&path).await?;
        match status {
            200..=299 => Ok(Some(match body.get("Resources") {
                Some(Value::Array(found)) => found.iter().any(is_active),
                _ => body.get("totalResults").and_then(Value::as_u64).unwrap_or(0) > 0,
            })),
            // The filter is not supported: the listing is all there is to go by.
            400 | 501 => Ok(None),
            s => Err(self.unexpected(&format!("/{resource}?filter"), s)),
        }
    }

    /// The group at the IdP now (None when it is gone).
    pub async fn group(&mut self, idp_id: &str) -> Result<Option<IdpGroup>, RunError> {
        let (status, body) = self.get(&format!("/Groups/{}", encode_component(idp_id))).await?;
        match status {
            200..=299 => group_of(&body).map(Some),
            404 => Ok(None),
            s => Err(self.unexpected("/Groups/{id}", s)),
        }
    }
}

/// Whether a user resource is active: anything but `false` (or OneLogin's `"false"`).
fn is_active(u: &Value) -> bool {
    !matches!(u.get("active"), Some(Value::Bool(false))) && !u.get("active").and_then(Value::as_str).is_some_and(|s| s.eq_ignore_ascii_case("false"))
}

fn group_of(g: &Value) -> Result<IdpGroup, RunError> {
    let (Some(id), Some(name)) = (g.get("id").and_then(Value::as_str), g.get("displayName").and_then(Value::as_str)) else {
        return Err(RunError::new("idp_answer_unreadable", "A group in the IdP's /Groups answer has no id or displayName"));
    };
    // Only an array says who the members are; an IdP that leaves them out
    // of an answer has not said that there are none.
    let members = match g.get("members") {
        Some(Value::Array(a)) => Some(a.iter().filter_map(|m| m.get("value").and_then(Value::as_str)).map(str::to_string).collect()),
        _ => None,
    };
    Ok(IdpGroup { id: id.to_string(), display_name: name.to_string(), members })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_literals_are_json_strings() {
        assert_eq!(literal(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn hosts_are_named_without_paths() {
        assert_eq!(host_of("https://tenant.my.idaptive.app/oauth2/token/app?x=1"), "tenant.my.idaptive.app");
    }
}
