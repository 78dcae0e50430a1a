//! The directory's domain: users, groups and memberships as stored, and the
//! views the application sees (docs/PRODUCT.md § The application's view).

pub mod records;
pub mod views;

pub use records::{GroupRecord, UserRecord};
