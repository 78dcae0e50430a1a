//! Small pure helpers shared by the core: time, identifiers, cryptography.

pub mod crypto;
pub mod ids;
pub mod time;
pub mod url;
