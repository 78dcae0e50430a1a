//! RFC 7643 / RFC 7644 wire format.

pub mod error;
pub mod filter;
pub mod limits;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod values;

pub use error::{ScimError, ScimType};
