//! Standard Webhooks signing (<https://www.standardwebhooks.com/>):
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//! several space-separated while a secret rotates.

use crate::support::crypto::{b64, b64_decode, hmac_sha256};

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
}
