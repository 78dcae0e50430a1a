//! SCIM filters, PATCH paths and attribute lists.
//!
//! - [`parse_filter`]: the `filter` grammar of RFC 7644 §3.4.2.2, with
//!   leniencies needed by real identity providers (unquoted values, Entra
//!   ID's `emails[type eq "work"].value eq "x"`).
//! - [`parse_patch_path`]: the PATCH `path` of RFC 7644 §3.5.2.
//! - [`parse_attr_path`] / [`parse_attr_list`]: `sortBy` (RFC 7644 §3.4.2.3)
//!   and `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5).
//! - [`matches()`]: in-memory evaluation with RFC 7644 §3.4.2.2 semantics.
//! - `Display` for [`Filter`] and [`CompValue`]: filter text that parses
//!   back to the same tree.
//!
//! All entry points reject inputs longer than [`MAX_FILTER_LEN`] bytes and
//! nesting deeper than [`MAX_FILTER_DEPTH`], report errors as
//! [`FilterError`] with a byte offset, and never panic.

mod ast;
mod eval;
mod lexer;
mod parser;
mod path;
mod print;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, FilterError};
pub use eval::matches;
pub use parser::{parse_filter, MAX_FILTER_DEPTH, MAX_FILTER_LEN};
pub use path::{parse_attr_list, parse_attr_path, parse_patch_path, PatchPath};

#[cfg(test)]
mod compat_tests;
