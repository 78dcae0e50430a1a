//! Hashes, HMAC signatures and the sealing of stored secrets.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
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

/// Seals secrets that must be recovered later (webhook signing secrets) with
/// ChaCha20-Poly1305 under a key derived from the `ENCRYPTION_KEY` secret.
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl SecretBox {
    /// Any passphrase: the key is its SHA-256 under a fixed label.
    pub fn new(passphrase: &str) -> Self {
        let key = Sha256::digest([b"rollcall secret box v1:".as_slice(), passphrase.as_bytes()].concat());
        SecretBox { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)) }
    }

    /// `v1.<base64 nonce>.<base64 ciphertext>`; the nonce is 12 random bytes.
    pub fn seal(&self, plaintext: &[u8], nonce: &[u8; 12]) -> Option<String> {
        let ct = self.cipher.encrypt(Nonce::from_slice(nonce), plaintext).ok()?;
        Some(format!("v1.{}.{}", b64(nonce), b64(&ct)))
    }

    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let mut parts = sealed.split('.');
        if parts.next()? != "v1" {
            return None;
        }
        let nonce = b64_decode(parts.next()?)?;
        let ct = b64_decode(parts.next()?)?;
        if nonce.len() != 12 || parts.next().is_some() {
            return None;
        }
        self.cipher.decrypt(Nonce::from_slice(&nonce), ct.as_slice()).ok()
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
    fn sealed_secrets_open_only_with_the_same_key() {
        let sealed = SecretBox::new("k1").seal(b"whsec_abc", &[7; 12]).unwrap();
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(SecretBox::new("k1").open(&sealed).as_deref(), Some(b"whsec_abc".as_slice()));
        assert_eq!(SecretBox::new("k2").open(&sealed), None);
        assert_eq!(SecretBox::new("k1").open("v1.garbage"), None);
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
