//! SCIM PATCH (RFC 7644 §3.5.2): parsing, and applying operations to a
//! stored User or Group.
//!
//! Everything real IdPs send is accepted (docs/IDP-QUIRKS.md § Required
//! server behaviour 2–7): PascalCase `op`s, path-less ops whose value holds
//! plain, dotted and URN-qualified keys, value-filter paths that create the
//! element they name, string booleans, every `manager` form, and the three
//! member-removal forms. A request's ops apply in order and atomically.

mod apply;
mod ext;
mod members;
mod parse;
mod paths;

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{Filter, PatchPath};
use super::schema::ResourceKind;

pub use parse::parse_patch;

/// The PatchOp message schema URN (RFC 7644 §3.5.2).
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// An operation name (RFC 7644 §3.5.2), matched case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// RFC 7644 §3.5.2.1.
    Add,
    /// RFC 7644 §3.5.2.3.
    Replace,
    /// RFC 7644 §3.5.2.2.
    Remove,
}

/// One parsed PATCH operation (RFC 7644 §3.5.2).
#[derive(Debug, Clone)]
pub struct PatchOp {
    pub op: OpKind,
    /// `None` for a path-less add/replace (the value is an object of attributes).
    pub path: Option<PatchPath>,
    /// Required for add and replace; optional for remove (a value array on
    /// `members` or another multi-valued attribute names what to remove).
    pub value: Option<Value>,
}

/// A change to a Group's membership, in terms of user ids, for the caller to
/// resolve against storage. Applying one is idempotent: adding a present
/// member or removing an absent one changes nothing (docs/IDP-QUIRKS.md § Required server behaviour 7).
#[derive(Debug, Clone, PartialEq)]
pub enum MemberOp {
    /// Add these users (RFC 7644 §3.5.2.1).
    Add(Vec<String>),
    /// Remove these users (value array or `members[value eq "x"]`).
    Remove(Vec<String>),
    /// Remove the members matching a filter over `{value, display, type,
    /// $ref}` (RFC 7644 §3.5.2.2 with a value filter).
    RemoveWhere(Filter),
    /// Remove every member (bare remove of `members`, RFC 7644 §3.5.2.2).
    RemoveAll,
    /// Make these the members (replace of `members`, RFC 7644 §3.5.2.3; `[]` empties).
    ReplaceAll(Vec<String>),
}

/// Applies `ops` to a stored User (RFC 7644 §3.5.2). All or nothing: on error
/// `resource` is unchanged. Afterwards `userName` must be present; a
/// removed `active` stays unassigned (which counts as active).
pub fn apply_user_patch(resource: &mut Map<String, Value>, ops: &[PatchOp]) -> Result<(), ScimError> {
    apply::apply_all(ResourceKind::User, resource, ops).map(|_| ())
}

/// Applies non-member ops to the group resource (which never contains
/// members) and returns the member ops, in request order, for the caller to
/// resolve against storage. All or nothing: on error `resource` is unchanged
/// and no member op is returned. A path-less rename (Okta's
/// `{"op":"replace","value":{"id":…,"displayName":…}}`) yields no member op,
/// so it never touches members (docs/IDP-QUIRKS.md § Required server behaviour 7).
pub fn apply_group_patch(resource: &mut Map<String, Value>, ops: &[PatchOp]) -> Result<Vec<MemberOp>, ScimError> {
    apply::apply_all(ResourceKind::Group, resource, ops)
}

#[cfg(test)]
mod errors_tests;
#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod user_tests;
