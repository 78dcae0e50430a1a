//! Turns PATCH operations on a Group's `members` into [`MemberOp`]s for the
//! caller to resolve against storage (RFC 7644 §3.5.2; docs/IDP-QUIRKS.md
//! § Required server behaviour 6 and 7).

use serde_json::Value;

use super::paths::value_eq_ids;
use super::{MemberOp, OpKind};
use crate::scim::error::ScimError;
use crate::scim::filter::Filter;
use crate::scim::resource::member_ids;
use crate::scim::schema::AttrDef;

/// The member ops for one operation on `members` (with its filter and
/// sub-attribute, if any). Empty add/remove lists produce no op.
///
/// - add `members` → `Add` (Okta, Entra several-at-once, JumpCloud);
/// - remove `members` with a value array → `Remove` (Entra, JumpCloud);
///   without a value → `RemoveAll` (RFC 7644 §3.5.2.2);
/// - replace `members` → `ReplaceAll` (`[]` empties: Okta full push);
/// - remove `members[value eq "x" or …]` → `Remove`, any other filter →
///   `RemoveWhere`;
/// - replace with a filter → `RemoveWhere` then `Add` of the value;
/// - add with a filter → `Add` of the ids named by a `value eq` filter, or
///   else of the value;
/// - `members[…].display` and other sub-attribute paths change nothing
///   (`display` is readOnly, `value`/`type`/`$ref` identify the member).
pub(super) fn member_ops(op: OpKind, filter: Option<&Filter>, sub: Option<&'static AttrDef>, value: &Value) -> Result<Vec<MemberOp>, ScimError> {
    if sub.is_some() {
        return Ok(Vec::new());
    }
    let non_empty = |ops: Vec<MemberOp>| -> Vec<MemberOp> {
        ops.into_iter().filter(|o| !matches!(o, MemberOp::Add(ids) | MemberOp::Remove(ids) if ids.is_empty())).collect()
    };
    let ops = match (op, filter) {
        (OpKind::Add, None) => vec![MemberOp::Add(member_ids(value)?)],
        (OpKind::Replace, None) => vec![MemberOp::ReplaceAll(member_ids(value)?)],
        (OpKind::Remove, None) if value.is_null() => vec![MemberOp::RemoveAll],
        (OpKind::Remove, None) => vec![MemberOp::Remove(member_ids(value)?)],
        (OpKind::Remove, Some(f)) => match value_eq_ids(f) {
            Some(ids) => vec![MemberOp::Remove(ids)],
            None => vec![MemberOp::RemoveWhere(f.clone())],
        },
        (OpKind::Replace, Some(f)) => vec![MemberOp::RemoveWhere(f.clone()), MemberOp::Add(member_ids(value)?)],
        (OpKind::Add, Some(f)) => match value_eq_ids(f) {
            Some(ids) => vec![MemberOp::Add(ids)],
            None => vec![MemberOp::Add(member_ids(value)?)],
        },
    };
    Ok(non_empty(ops))
}
