//! Small pure helpers shared by the core: time, identifiers, cryptography.

pub mod crypto;
pub mod ids;
pub mod time;
pub mod url;

/// Test helper for inputs that once took quadratic time: runs `f` and fails
/// when it takes longer than `secs` seconds. Callers size their input so
/// that the quadratic version took many times the budget on a debug build.
#[cfg(test)]
pub(crate) fn assert_fast<T>(secs: u64, f: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(secs), "took {took:?}, budget {secs}s");
    out
}
