//! OAuth 2.0 client credentials (RFC 6749 §4.4) for IdPs that fetch their
//! SCIM bearer token themselves (PingFederate, CyberArk). The client secret
//! is stored hashed like a bearer token; the access token is stateless: the
//! directory, client and expiry under an HMAC keyed from `ENCRYPTION_KEY`,
//! so checking it costs no more than checking a bearer token (the client row
//! is still looked up, so deleting the client revokes its tokens at once).

use crate::app::{HttpRequest, HttpResponse, Outcome, Services};
use crate::storage::directories::oauth_client_matches;
use crate::storage::Db;
use crate::support::crypto::{b64_decode, b64url, b64url_decode, constant_time_eq, hmac_sha256, sha256_hex};
use crate::support::ids::has_prefix;
use crate::support::time::Millis;
use crate::support::url::parse_query;
use serde_json::json;

/// Access tokens start with this; bearer tokens with `rcs_`.
pub const ACCESS_PREFIX: &str = "rca_";
/// Lifetime of an access token.
pub const TTL_SECONDS: i64 = 3600;

/// The largest token request read: a client id, a secret and a grant type
/// fit in a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16_384;
/// Access tokens longer than this are not ours (they are about 130 bytes).
const MAX_TOKEN_BYTES: usize = 512;

/// `rca_<directory>.<client>.<expiry>.<mac>`; `key` is the HKDF-derived
/// access-token key ([`crate::app::Config::oauth_key`]).
pub fn mint(key: &[u8], directory_id: &str, client_id: &str, expires: i64) -> String {
    let body = format!("{directory_id}.{client_id}.{expires}");
    format!("{ACCESS_PREFIX}{body}.{}", b64url(&hmac_sha256(key, body.as_bytes())))
}

/// The client id of a valid, unexpired access token for this directory.
pub fn verify(key: Option<&[u8]>, token: &str, directory_id: &str, now: Millis) -> Option<String> {
    let key = key?;
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let rest = token.strip_prefix(ACCESS_PREFIX)?;
    let (body, mac) = rest.rsplit_once('.')?;
    let expected = hmac_sha256(key, body.as_bytes());
    if !constant_time_eq(&b64url_decode(mac)?, &expected) {
        return None;
    }
    let mut parts = body.split('.');
    let (dir, client, exp) = (parts.next()?, parts.next()?, parts.next()?.parse::<i64>().ok()?);
    (dir == directory_id && exp > now.seconds() && parts.next().is_none()).then(|| client.to_string())
}

fn error(status: u16, code: &str, description: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({ "error": code, "error_description": description })).header("cache-control", "no-store")
}

/// `POST /scim/v2/{directory_id}/oauth/token` with `grant_type=client_credentials`
/// and the client's id and secret in HTTP Basic auth or the form body.
pub async fn token<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, directory_id: &str) -> Outcome {
    let mut cause = None;
    let response = answer(svc, req, directory_id, &mut cause).await;
    Outcome::failed(response, cause)
}

/// The token endpoint's answer; `cause` gets what went wrong inside, if anything.
async fn answer<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, directory_id: &str, cause: &mut Option<String>) -> HttpResponse {
    if req.body_too_large || req.body.len() > MAX_BODY_BYTES {
        return error(413, "invalid_request", &format!("The request body exceeds {MAX_BODY_BYTES} bytes"));
    }
    let form = parse_query(&String::from_utf8_lossy(&req.body));
    let field = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    if field("grant_type").as_deref() != Some("client_credentials") {
        return error(400, "unsupported_grant_type", "Only grant_type=client_credentials is supported");
    }
    let basic = req.header("authorization").and_then(|h| {
        let (scheme, creds) = h.trim().split_once(' ')?;
        let decoded = String::from_utf8(b64_decode(creds)?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        scheme.eq_ignore_ascii_case("basic").then(|| (crate::support::url::percent_decode(id, false), crate::support::url::percent_decode(secret, false)))
    });
    let Some((client_id, secret)) = basic.or_else(|| Some((field("client_id")?, field("client_secret")?))) else {
        return error(401, "invalid_client", "Client authentication failed");
    };
    let Some(key) = svc.cfg.oauth_key() else {
        let why = svc.cfg.encryption_key_problem().unwrap_or_default();
        *cause = Some(why.clone());
        return error(500, "server_error", &why);
    };
    let default_host = svc.cfg.is_default_host(&req.host);
    if !has_prefix(directory_id, "directory") || !has_prefix(&client_id, "token") || secret.len() > MAX_TOKEN_BYTES {
        return refused(svc, req, directory_id, default_host).await;
    }
    // Scoped by hostname exactly like the SCIM paths (see `auth::read`).
    match oauth_client_matches(svc.control(), directory_id, &client_id, &sha256_hex(secret.as_bytes()), &req.host, default_host).await {
        Ok(true) => {}
        Ok(false) => return refused(svc, req, directory_id, default_host).await,
        Err(e) => {
            *cause = Some(format!("storage: {e}"));
            return error(500, "server_error", "Internal server error");
        }
    }
    let expires = svc.now.seconds() + TTL_SECONDS;
    let access = mint(&key, directory_id, &client_id, expires);
    HttpResponse::json(200, &json!({ "access_token": access, "token_type": "Bearer", "expires_in": TTL_SECONDS })).header("cache-control", "no-store")
}

/// Wrong credentials: 401 `invalid_client`; on a whitelabel hostname, a
/// directory of another organisation (or none) is a 404 like on SCIM paths.
async fn refused<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, directory_id: &str, default_host: bool) -> HttpResponse {
    let c = super::auth::Credential { directory_id, token: "", host: &req.host, default_host, oauth_client: None, pull: false };
    match super::auth::refusal(svc, &c).await.status {
        404 => error(404, "invalid_request", "Directory not found"),
        500 => error(500, "server_error", "Internal server error"),
        _ => error(401, "invalid_client", "Client authentication failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_verify_only_for_their_directory_key_and_lifetime() {
        let k = Some(b"k".as_slice());
        let t = mint(b"k", "directory_1", "token_1", 1_000);
        assert_eq!(verify(k, &t, "directory_1", Millis(999_000)), Some("token_1".into()));
        assert_eq!(verify(k, &t, "directory_1", Millis(1_000_000)), None);
        assert_eq!(verify(k, &t, "directory_2", Millis(0)), None);
        assert_eq!(verify(Some(b"other".as_slice()), &t, "directory_1", Millis(0)), None);
        assert_eq!(verify(None, &t, "directory_1", Millis(0)), None);
        let forged = t.replace("token_1", "token_2");
        assert_eq!(verify(k, &forged, "directory_1", Millis(0)), None);
        assert_eq!(verify(k, "rca_garbage", "directory_1", Millis(0)), None);
        assert_eq!(verify(k, &format!("{t}{}", "x".repeat(600)), "directory_1", Millis(0)), None);
    }
}
