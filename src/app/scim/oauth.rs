//! OAuth 2.0 client credentials (RFC 6749 §4.4) for IdPs that fetch their
//! SCIM bearer token themselves (PingFederate, CyberArk). The client secret
//! is stored hashed like a bearer token; the access token is stateless: the
//! directory, client and expiry under an HMAC keyed from `ENCRYPTION_KEY`,
//! so checking it costs no more than checking a bearer token (the client row
//! is still looked up, so deleting the client revokes its tokens at once).

use super::auth::internal;
use crate::app::{HttpRequest, HttpResponse, Services};
use crate::stmt;
use crate::storage::db::first;
use crate::storage::{Db, RowExt};
use crate::support::crypto::{b64_decode, b64url, b64url_decode, constant_time_eq, hmac_sha256, sha256_hex};
use crate::support::time::Millis;
use crate::support::url::parse_query;
use serde_json::json;

/// Access tokens start with this; bearer tokens with `rcs_`.
pub const ACCESS_PREFIX: &str = "rca_";
/// Lifetime of an access token.
pub const TTL_SECONDS: i64 = 3600;

fn key(encryption_key: &str) -> Vec<u8> {
    hmac_sha256(encryption_key.as_bytes(), b"rollcall oauth access token v1")
}

/// `rca_<directory>.<client>.<expiry>.<mac>`.
pub fn mint(encryption_key: &str, directory_id: &str, client_id: &str, expires: i64) -> String {
    let body = format!("{directory_id}.{client_id}.{expires}");
    format!("{ACCESS_PREFIX}{body}.{}", b64url(&hmac_sha256(&key(encryption_key), body.as_bytes())))
}

/// The client id of a valid, unexpired access token for this directory.
pub fn verify(encryption_key: &str, token: &str, directory_id: &str, now: Millis) -> Option<String> {
    if encryption_key.is_empty() {
        return None;
    }
    let rest = token.strip_prefix(ACCESS_PREFIX)?;
    let (body, mac) = rest.rsplit_once('.')?;
    let expected = hmac_sha256(&key(encryption_key), body.as_bytes());
    if !constant_time_eq(&b64url_decode(mac)?, &expected) {
        return None;
    }
    let mut parts = body.split('.');
    let (dir, client, exp) = (parts.next()?, parts.next()?, parts.next()?.parse::<i64>().ok()?);
    (dir == directory_id && exp > now.seconds() && parts.next().is_none()).then(|| client.to_string())
}

fn error(status: u16, code: &str, description: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({ "error": code, "error_description": description }))
        .header("cache-control", "no-store")
}

/// `POST /scim/v2/{directory_id}/oauth/token` with `grant_type=client_credentials`
/// and the client's id and secret in HTTP Basic auth or the form body.
pub async fn token<D: Db>(svc: &Services<'_, D>, req: &HttpRequest, directory_id: &str) -> HttpResponse {
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
    if svc.cfg.encryption_key.is_empty() {
        return error(500, "server_error", "ENCRYPTION_KEY is not set");
    }
    let r = svc
        .db
        .batch(vec![stmt!(
            "SELECT t.id FROM directory_tokens t JOIN directories d ON d.id = t.directory_id \
             WHERE t.id = ?1 AND t.directory_id = ?2 AND t.kind = 'oauth_client' AND t.token_hash = ?3 AND d.state <> 'deleting'",
            client_id.as_str(),
            directory_id,
            sha256_hex(secret.as_bytes())
        )])
        .await;
    let found = match r {
        Ok(r) => first(&r, 0).and_then(|row| row.str("id").map(str::to_string)),
        Err(e) => {
            internal(e);
            return error(500, "server_error", "Internal server error");
        }
    };
    if found.is_none() {
        return error(401, "invalid_client", "Client authentication failed");
    }
    let expires = svc.now.seconds() + TTL_SECONDS;
    let access = mint(&svc.cfg.encryption_key, directory_id, &client_id, expires);
    HttpResponse::json(200, &json!({ "access_token": access, "token_type": "Bearer", "expires_in": TTL_SECONDS })).header("cache-control", "no-store")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_verify_only_for_their_directory_key_and_lifetime() {
        let t = mint("k", "directory_1", "token_1", 1_000);
        assert_eq!(verify("k", &t, "directory_1", Millis(999_000)), Some("token_1".into()));
        assert_eq!(verify("k", &t, "directory_1", Millis(1_000_000)), None);
        assert_eq!(verify("k", &t, "directory_2", Millis(0)), None);
        assert_eq!(verify("other", &t, "directory_1", Millis(0)), None);
        assert_eq!(verify("", &t, "directory_1", Millis(0)), None);
        let forged = t.replace("token_1", "token_2");
        assert_eq!(verify("k", &forged, "directory_1", Millis(0)), None);
        assert_eq!(verify("k", "rca_garbage", "directory_1", Millis(0)), None);
    }
}
