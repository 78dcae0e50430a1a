//! Webhooks: Standard Webhooks signatures over the exact body bytes, and the
//! retry policy.

pub mod circuit;
pub mod retry;
pub mod sign;
