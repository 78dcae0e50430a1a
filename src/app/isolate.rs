//! Per-isolate state: everything Rollcall remembers between requests
//! outside D1, in one place.
//!
//! A Worker isolate serves many requests one after another (and, across
//! awaits, interleaved); a new isolate starts empty and an isolate may be
//! evicted at any time. So every entry here is only a hint that saves D1
//! work: a request that finds nothing does the full work, and correctness
//! never depends on what is here. Each memo is bounded (cleared when full,
//! it refills from the next requests) and entries expire.
//!
//! | memo | key → value | saves | lifetime |
//! |---|---|---|---|
//! | [`DIRECTORY_ORGS`] | directory → organisation | a read before a one-round-trip create | never stale: a directory never changes organisation |
//! | [`VERIFIED`] | (token hash, directory, host) → passed | authenticating a body request alone before parsing it (the guard still fronts every read) | 5 minutes; a refusal forgets it |
//! | [`PAGE_ENDS`] | (directory, kind, filter, startIndex) → last id of the page before | OFFSET scans when an IdP pages through a directory | 10 minutes |
//! | [`AUTH_FAILURES_SEEN`] | directory → a refused credential was counted | a row write per refused SCIM request (a flood of bad tokens writes once per directory per isolate every 10 s) | 10 seconds |

use crate::support::time::Millis;
use std::cell::RefCell;
use std::collections::HashMap;
use std::thread::LocalKey;

/// A bounded map whose entries expire.
pub struct Memo<V> {
    entries: RefCell<HashMap<String, (V, i64)>>,
    max_entries: usize,
    ttl_ms: i64,
}

impl<V: Clone> Memo<V> {
    pub fn new(max_entries: usize, ttl_ms: i64) -> Self {
        Memo { entries: RefCell::new(HashMap::new()), max_entries, ttl_ms }
    }
}

/// Reads and writes a memo of this isolate.
pub trait MemoKey<V> {
    fn get(&'static self, key: &str, now: Millis) -> Option<V>;
    fn put(&'static self, key: String, value: V, now: Millis);
    fn forget(&'static self, key: &str);
}

impl<V: Clone + 'static> MemoKey<V> for LocalKey<Memo<V>> {
    fn get(&'static self, key: &str, now: Millis) -> Option<V> {
        self.with(|m| m.entries.borrow().get(key).filter(|(_, exp)| *exp > now.0).map(|(v, _)| v.clone()))
    }
    fn put(&'static self, key: String, value: V, now: Millis) {
        self.with(|m| {
            let mut e = m.entries.borrow_mut();
            if e.len() >= m.max_entries {
                e.clear();
            }
            e.insert(key, (value, now.0.saturating_add(m.ttl_ms)));
        });
    }
    fn forget(&'static self, key: &str) {
        self.with(|m| m.entries.borrow_mut().remove(key));
    }
}

thread_local! {
    /// Directory → organisation, learnt from successful credential checks.
    pub static DIRECTORY_ORGS: Memo<String> = Memo::new(10_000, i64::MAX / 4);
    /// Credentials seen to pass recently (see `app::scim::auth::verified`).
    pub static VERIFIED: Memo<()> = Memo::new(10_000, 5 * 60 * 1000);
    /// Where the next page of an id-ordered SCIM list starts (see `app::scim::paging`).
    pub static PAGE_ENDS: Memo<String> = Memo::new(1000, 10 * 60 * 1000);
    /// Directories whose refused credentials this isolate counted moments ago (see `app::portal::debugger`).
    pub static AUTH_FAILURES_SEEN: Memo<()> = Memo::new(1000, crate::app::portal::debugger::AUTH_FAILURE_EVERY_MS);
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static TEST: Memo<u32> = Memo::new(2, 100);
    }

    #[test]
    fn entries_expire_and_the_memo_stays_bounded() {
        TEST.put("a".into(), 1, Millis(0));
        assert_eq!(TEST.get("a", Millis(99)), Some(1));
        assert_eq!(TEST.get("a", Millis(100)), None);
        TEST.put("b".into(), 2, Millis(0));
        TEST.put("c".into(), 3, Millis(0));
        assert_eq!(TEST.get("a", Millis(1)), None, "cleared when full");
        assert_eq!(TEST.get("c", Millis(1)), Some(3));
        TEST.forget("c");
        assert_eq!(TEST.get("c", Millis(1)), None);
    }
}
