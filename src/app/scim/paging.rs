//! Continuing id-ordered pages where the previous one ended.
//!
//! SCIM pages by position (`startIndex`), which SQL answers with OFFSET:
//! page k of an import reads every row before it, so paging through a
//! directory costs its size squared. When this isolate served the previous
//! page of the same id-ordered query, the next page starts after that page's
//! last id instead. That is the same page as long as no earlier row went
//! away meanwhile (new rows get larger ids, UUID v7); if one did, it is the
//! page a stable cursor gives, which is what an importing IdP wants anyway.

use crate::support::time::Millis;
use std::cell::RefCell;
use std::collections::HashMap;

/// How long a page's end is remembered.
const TTL_MS: i64 = 10 * 60 * 1000;
/// Remembered ends at most (cleared when full).
const MAX_ENTRIES: usize = 1000;

thread_local! {
    static ENDS: RefCell<HashMap<String, (String, i64)>> = RefCell::new(HashMap::new());
}

/// The key of a query's page starting at `start_index`.
pub fn key(directory_id: &str, kind: &str, filter: &str, start_index: u64) -> String {
    format!("{directory_id}\u{1}{kind}\u{1}{filter}\u{1}{start_index}")
}

/// The id after which the page at `key` starts, if known and fresh.
pub fn after(key: &str, now: Millis) -> Option<String> {
    ENDS.with(|m| m.borrow().get(key).filter(|(_, exp)| *exp > now.0).map(|(id, _)| id.clone()))
}

/// Remembers that the page at `key` starts after `last_id`.
pub fn remember(key: String, last_id: String, now: Millis) {
    ENDS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_ENTRIES {
            m.clear();
        }
        m.insert(key, (last_id, now.0 + TTL_MS));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_end_is_found_until_it_expires() {
        let k = key("d", "User", "", 101);
        remember(k.clone(), "user_9".into(), Millis(0));
        assert_eq!(after(&k, Millis(1)), Some("user_9".into()));
        assert_eq!(after(&k, Millis(TTL_MS)), None);
        assert_eq!(after(&key("d", "User", "x", 101), Millis(1)), None);
    }
}
