//! Prefixed, sortable, opaque identifiers (`user_…`): a UUID v7 underneath,
//! so ids sort by creation time and cursor pagination can use them.

use super::time::Millis;

/// The source of randomness, handed in by the shell (Web Crypto) or a test.
pub trait Entropy {
    /// Fills `buf` with random bytes; false when the source failed (then
    /// `buf` must not be used for anything secret).
    fn fill(&self, buf: &mut [u8]) -> bool;
}

/// The entropy source failed: nothing secret can be made (answered 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntropyUnavailable;

/// Makes ids from the request's clock and entropy.
pub struct IdGen<'a> {
    pub now: Millis,
    pub entropy: &'a dyn Entropy,
}

impl IdGen<'_> {
    /// `{prefix}_{uuid v7 in simple hex}`, e.g. `user_01936f…`.
    pub fn make(&self, prefix: &str) -> String {
        // An id needs to be unique, not secret: on an entropy failure the
        // clock still orders it, and the request is refused by the shell's
        // entropy check before any secret is made.
        let mut random = [0u8; 10];
        let _ = self.entropy.fill(&mut random);
        let millis = u64::try_from(self.now.0).unwrap_or(0);
        let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        format!("{prefix}_{}", id.simple())
    }

    /// `len` random bytes, for secrets; never predictable bytes.
    pub fn random_bytes(&self, len: usize) -> Result<Vec<u8>, EntropyUnavailable> {
        let mut buf = vec![0u8; len];
        if self.entropy.fill(&mut buf) {
            Ok(buf)
        } else {
            Err(EntropyUnavailable)
        }
    }
}

/// True when `id` looks like an id of ours with this prefix; rejects anything
/// else before it reaches SQL (and keeps error messages predictable).
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('_')).is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::Cell;

    /// Deterministic entropy for tests.
    pub struct Counter(pub Cell<u64>);
    impl Entropy for Counter {
        fn fill(&self, buf: &mut [u8]) -> bool {
            for b in buf.iter_mut() {
                let n = self.0.get().wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                self.0.set(n);
                *b = (n >> 33) as u8;
            }
            true
        }
    }

    #[test]
    fn ids_carry_their_prefix_and_sort_by_time() {
        let e = Counter(Cell::new(1));
        let a = IdGen { now: Millis(1_000), entropy: &e }.make("user");
        let b = IdGen { now: Millis(2_000), entropy: &e }.make("user");
        assert!(has_prefix(&a, "user"));
        assert!(a < b);
        assert!(!has_prefix(&a, "group"));
        assert!(!has_prefix("user_xyz", "user"));
    }
}
