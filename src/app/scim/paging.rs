//! Continuing id-ordered pages where the previous one ended.
//!
//! SCIM pages by position (`startIndex`), which SQL answers with OFFSET:
//! page k of an import reads every row before it, so paging through a
//! directory costs its size squared. When this isolate served the previous
//! page of the same id-ordered query, the next page starts after that page's
//! last id instead. That is the same page as long as no earlier row went
//! away meanwhile (new rows get larger ids, UUID v7); if one did, it is the
//! page a stable cursor gives, which is what an importing IdP wants anyway.

use crate::app::isolate::{MemoKey, PAGE_ENDS};
use crate::support::time::Millis;

/// The key of a query's page starting at `start_index`.
pub fn key(directory_id: &str, kind: &str, filter: &str, start_index: u64) -> String {
    format!("{directory_id}\u{1}{kind}\u{1}{filter}\u{1}{start_index}")
}

/// The id after which the page at `key` starts, if known and fresh.
pub fn after(key: &str, now: Millis) -> Option<String> {
    PAGE_ENDS.get(key, now)
}

/// Remembers that the page at `key` starts after `last_id`.
pub fn remember(key: String, last_id: String, now: Millis) {
    PAGE_ENDS.put(key, last_id, now);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_end_is_found_until_it_expires() {
        let k = key("d", "User", "", 101);
        remember(k.clone(), "user_9".into(), Millis(0));
        assert_eq!(after(&k, Millis(1)), Some("user_9".into()));
        assert_eq!(after(&k, Millis(10 * 60 * 1000)), None);
        assert_eq!(after(&key("d", "User", "x", 101), Millis(1)), None);
    }
}
