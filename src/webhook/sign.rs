//! Standard Webhooks signing (<https://www.standardwebhooks.com/>):
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//! several space-separated while a secret rotates; and WorkOS's
//! `WorkOS-Signature: t=<ms>, v1=<hex HMAC-SHA256 of "{ms}.{body}">`, keyed
//! by the whole secret string (prefix included) as UTF-8, as WorkOS's SDKs
//! verify it.

use crate::support::crypto::{b64, b64_decode, hex, hmac_sha256};

/// Secrets look like `whsec_<base64 of 32 random bytes>`.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret from 32 random bytes.
pub fn new_secret(random: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", b64(random))
}

/// The key bytes of a `whsec_` secret; None if it is not one of ours.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    b64_decode(secret.strip_prefix(SECRET_PREFIX)?)
}

/// One `v1,<sig>` entry for this message.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = secret_key(secret)?;
    let mut data = Vec::with_capacity(msg_id.len() + body.len() + 24);
    data.extend_from_slice(msg_id.as_bytes());
    data.push(b'.');
    data.extend_from_slice(timestamp.to_string().as_bytes());
    data.push(b'.');
    data.extend_from_slice(body);
    Some(format!("v1,{}", b64(&hmac_sha256(&key, &data))))
}

/// The `webhook-signature` header value: one signature per live secret.
pub fn signature_header(secrets: &[&str], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().filter_map(|s| sign(s, msg_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// The `WorkOS-Signature` header value for a body sent at `timestamp_ms`
/// (milliseconds since the epoch), signed with one secret: the SDKs split
/// the header on `", "` into exactly a `t=` and a `v1=` part, so it carries
/// one signature only (the current secret's).
pub fn workos_signature(secret: &str, timestamp_ms: i64, body: &[u8]) -> String {
    let t = timestamp_ms.to_string();
    let mut data = Vec::with_capacity(t.len() + 1 + body.len());
    data.extend_from_slice(t.as_bytes());
    data.push(b'.');
    data.extend_from_slice(body);
    format!("t={t}, v1={}", hex(&hmac_sha256(secret.as_bytes(), &data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks specification.
    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotating_secrets_give_two_signatures() {
        let a = new_secret(&[1; 32]);
        let b = new_secret(&[2; 32]);
        let h = signature_header(&[&a, &b], "msg", 1, b"{}");
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn foreign_secrets_do_not_sign() {
        assert_eq!(sign("nope", "m", 1, b""), None);
    }

    /// Computed independently, as the WorkOS Python SDK's verify_header does:
    /// `hmac.new(secret.encode("utf-8"), f"{t}.{body}".encode("utf-8"),
    /// hashlib.sha256).hexdigest()` with t = "1614265330000".
    #[test]
    fn workos_signature_matches_an_independent_hmac() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let h = workos_signature(secret, 1_614_265_330_000, br#"{"test": 2432232314}"#);
        assert_eq!(h, "t=1614265330000, v1=38dcd345d12a163975f2a8484af858926bb995e425f50d05a5aaeaacf2178698");
    }
}
