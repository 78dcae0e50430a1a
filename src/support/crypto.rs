//! Hashes, HMAC signatures and the sealing of stored secrets.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256: bearer tokens and client secrets are stored this
/// way (they are 256-bit random, so a fast hash is enough).
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s.trim()).ok()
}

/// URL-safe base64 without padding, for tokens shown to users.
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()
}

/// HMAC-SHA256.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Compares secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The least length, in bytes, of `ADMIN_API_KEY` and `ENCRYPTION_KEY`: 256
/// bits, what an HMAC-SHA256 or ChaCha20 key holds.
pub const MIN_KEY_BYTES: usize = 32;

/// What each key derived from `ENCRYPTION_KEY` is for (HKDF `info`, RFC 5869
/// §3.2): one key per use, so no use can be turned against another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Seals webhook signing secrets at rest ([`SecretBox`]).
    WebhookSecrets,
    /// MACs the OAuth access tokens (`rca_…`).
    OauthAccessTokens,
}

impl KeyUse {
    fn info(self) -> &'static [u8] {
        match self {
            KeyUse::WebhookSecrets => b"rollcall/v2/webhook-secret-box",
            KeyUse::OauthAccessTokens => b"rollcall/v2/oauth-access-token",
        }
    }
}

/// HKDF-SHA256 (RFC 5869) of the `ENCRYPTION_KEY` secret for one use.
pub fn derive_key(master: &[u8], key_use: KeyUse) -> [u8; 32] {
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 255 * 32 byte limit: expand cannot fail.
    let _ = hkdf::Hkdf::<Sha256>::new(Some(b"rollcall"), master).expand(key_use.info(), &mut okm);
    okm
}

/// Seals secrets that must be recovered later (webhook signing secrets) with
/// ChaCha20-Poly1305 under the HKDF-derived [`KeyUse::WebhookSecrets`] key,
/// bound to the row that holds them (the endpoint id is the associated data,
/// so a sealed secret copied onto another endpoint does not open).
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    /// The format of the first release (`v1.`): key = SHA-256 of a label and
    /// the passphrase, no associated data. Opened, never written.
    legacy: ChaCha20Poly1305,
}

impl SecretBox {
    pub fn new(master: &str) -> Self {
        let key = derive_key(master.as_bytes(), KeyUse::WebhookSecrets);
        let legacy = Sha256::digest([b"rollcall secret box v1:".as_slice(), master.as_bytes()].concat());
        SecretBox { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)), legacy: ChaCha20Poly1305::new(Key::from_slice(&legacy)) }
    }

    /// `v2.<base64 nonce>.<base64 ciphertext>`; the nonce is 12 random bytes
    /// and `bound_to` (the endpoint id) the associated data.
    pub fn seal(&self, plaintext: &[u8], nonce: &[u8; 12], bound_to: &str) -> Option<String> {
        let ct = self.cipher.encrypt(Nonce::from_slice(nonce), Payload { msg: plaintext, aad: bound_to.as_bytes() }).ok()?;
        Some(format!("v2.{}.{}", b64(nonce), b64(&ct)))
    }

    pub fn open(&self, sealed: &str, bound_to: &str) -> Option<Vec<u8>> {
        let mut parts = sealed.split('.');
        let version = parts.next()?;
        let nonce = b64_decode(parts.next()?)?;
        let ct = b64_decode(parts.next()?)?;
        if nonce.len() != 12 || parts.next().is_some() {
            return None;
        }
        let nonce = Nonce::from_slice(&nonce);
        match version {
            "v2" => self.cipher.decrypt(nonce, Payload { msg: ct.as_slice(), aad: bound_to.as_bytes() }).ok(),
            "v1" => self.legacy.decrypt(nonce, ct.as_slice()).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_endpoint() {
        let sealed = SecretBox::new("k1").seal(b"whsec_abc", &[7; 12], "endpoint_a").unwrap();
        assert!(sealed.starts_with("v2.") && !sealed.contains("whsec_abc"));
        assert_eq!(SecretBox::new("k1").open(&sealed, "endpoint_a").as_deref(), Some(b"whsec_abc".as_slice()));
        assert_eq!(SecretBox::new("k2").open(&sealed, "endpoint_a"), None);
        assert_eq!(SecretBox::new("k1").open(&sealed, "endpoint_b"), None, "a secret moved to another endpoint does not open");
        assert_eq!(SecretBox::new("k1").open("v1.garbage", "endpoint_a"), None);
    }

    #[test]
    fn secrets_sealed_by_the_first_release_still_open() {
        let key = Sha256::digest(b"rollcall secret box v1:k1");
        let ct = ChaCha20Poly1305::new(Key::from_slice(&key)).encrypt(Nonce::from_slice(&[3; 12]), b"whsec_old".as_slice()).unwrap();
        let sealed = format!("v1.{}.{}", b64(&[3; 12]), b64(&ct));
        assert_eq!(SecretBox::new("k1").open(&sealed, "endpoint_a").as_deref(), Some(b"whsec_old".as_slice()));
    }

    #[test]
    fn each_use_gets_its_own_derived_key() {
        let a = derive_key(b"0123456789abcdef0123456789abcdef", KeyUse::WebhookSecrets);
        let b = derive_key(b"0123456789abcdef0123456789abcdef", KeyUse::OauthAccessTokens);
        assert_ne!(a, b);
        assert_ne!(a, derive_key(b"0123456789abcdef0123456789abcdeF", KeyUse::WebhookSecrets));
        // RFC 5869 A.1's construction, checked through the hkdf crate: same input, same key.
        assert_eq!(a, derive_key(b"0123456789abcdef0123456789abcdef", KeyUse::WebhookSecrets));
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
