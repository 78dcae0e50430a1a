//! Group membership changes decided against only the memberships a request
//! names: a PATCH that adds one member to a 10,000-member group reads one
//! membership row, not 10,000. Only full replacement, bare removal and
//! value filters other than `value eq` need the whole member list.

use crate::directory::UserRecord;
use crate::scim::filter::matches;
use crate::scim::patch::{apply_group_patch, MemberOp, PatchOp};
use crate::scim::schema::GROUP_SCHEMA;
use crate::scim::ScimError;
use serde_json::{json, Map};
use std::collections::{BTreeMap, BTreeSet};

/// Which memberships a PATCH must see: every member (`all`) or only those
/// among `ids`; users named by `ids` are read either way (adds need them).
#[derive(Debug, Clone, PartialEq)]
pub struct Needs {
    pub all: bool,
    pub ids: Vec<String>,
}

/// Decides what to read before the group itself is read: member ops do not
/// depend on the group's other attributes, so they are extracted from the
/// ops applied to a stand-in group. If that fails, read everything (the real
/// apply will report the error).
pub fn needs(ops: &[PatchOp]) -> Needs {
    let mut stand_in = Map::new();
    stand_in.insert("schemas".into(), json!([GROUP_SCHEMA]));
    stand_in.insert("displayName".into(), json!("stand-in"));
    let Ok(mops) = apply_group_patch(&mut stand_in, ops) else {
        return Needs { all: true, ids: Vec::new() };
    };
    let mut ids = BTreeSet::new();
    let mut all = false;
    for op in &mops {
        match op {
            MemberOp::Add(v) | MemberOp::Remove(v) => ids.extend(v.iter().cloned()),
            MemberOp::ReplaceAll(v) => {
                all = true;
                ids.extend(v.iter().cloned());
            }
            MemberOp::RemoveAll | MemberOp::RemoveWhere(_) => all = true,
        }
    }
    Needs { all, ids: ids.into_iter().collect() }
}

/// Applies member ops in order to `members` (which holds the current
/// members among the ids read, or all of them). Adding a user that is not in
/// the directory is `invalidValue`; adding a member twice or removing a
/// non-member changes nothing (docs/IDP-QUIRKS.md § Required server behaviour 7).
pub fn apply(members: &mut BTreeSet<String>, mops: &[MemberOp], users: &BTreeMap<String, UserRecord>) -> Result<(), ScimError> {
    let known = |id: &String| -> Result<(), ScimError> {
        if users.contains_key(id) {
            Ok(())
        } else {
            Err(ScimError::invalid_value(format!("members: there is no user {id} in this directory")))
        }
    };
    for op in mops {
        match op {
            MemberOp::Add(ids) => {
                for id in ids {
                    known(id)?;
                    members.insert(id.clone());
                }
            }
            MemberOp::Remove(ids) => {
                for id in ids {
                    members.remove(id);
                }
            }
            MemberOp::RemoveAll => members.clear(),
            MemberOp::ReplaceAll(ids) => {
                ids.iter().try_for_each(known)?;
                *members = ids.iter().cloned().collect();
            }
            MemberOp::RemoveWhere(filter) => {
                members.retain(|id| {
                    let display = users.get(id).map(|u| u.member_display().to_string()).unwrap_or_default();
                    let element = json!({ "value": id, "display": display, "type": "User" });
                    !matches(filter, &element, &|p| p.name.eq_ignore_ascii_case("value"))
                });
            }
        }
    }
    Ok(())
}

/// The members after `mops` without knowing the members before, for a
/// group too large to read whole: possible when the ops replace or clear
/// the members (ops after the last reset apply to what it left; ops before
/// it are still checked). A filter removal with no reset after it would
/// need every member: `tooMany`.
pub fn apply_without_before(mops: &[MemberOp], users: &BTreeMap<String, UserRecord>) -> Result<BTreeSet<String>, ScimError> {
    let Some(reset) = mops.iter().rposition(|op| matches!(op, MemberOp::ReplaceAll(_) | MemberOp::RemoveAll)) else {
        return Err(ScimError::bad_request(
            crate::scim::ScimType::TooMany,
            format!("members: this group has more than {} members; remove members by value, or replace them", crate::storage::users_groups::removals::CHUNK),
        ));
    };
    let (earlier, later) = mops.split_at(reset);
    apply(&mut BTreeSet::new(), earlier, users)?;
    let mut after = BTreeSet::new();
    apply(&mut after, later, users)?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::patch::parse_patch;
    use serde_json::Value;

    fn ops(v: Value) -> Vec<PatchOp> {
        parse_patch(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": v})).unwrap()
    }

    fn users(ids: &[&str]) -> BTreeMap<String, UserRecord> {
        ids.iter()
            .map(|id| {
                let u = UserRecord {
                    id: id.to_string(),
                    directory_id: "d".into(),
                    resource: json!({"userName": format!("{id}@x")}).as_object().unwrap().clone(),
                    version: 1,
                    created_at: String::new(),
                    updated_at: String::new(),
                };
                (id.to_string(), u)
            })
            .collect()
    }

    #[test]
    fn okta_remove_and_add_in_one_request_reads_only_the_named_members() {
        let o = ops(json!([
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "add", "path": "members", "value": [{"value": "u2", "display": "u2@x"}]}
        ]));
        assert_eq!(needs(&o), Needs { all: false, ids: vec!["u1".into(), "u2".into()] });
    }

    #[test]
    fn full_replacement_needs_every_member() {
        assert!(needs(&ops(json!([{"op": "replace", "path": "members", "value": []}]))).all);
        assert!(needs(&ops(json!([{"op": "remove", "path": "members"}]))).all);
        // The new members of a full replacement are read too (they must exist).
        let n = needs(&ops(json!([{"op": "replace", "path": "members", "value": [{"value": "u7"}]}])));
        assert_eq!(n, Needs { all: true, ids: vec!["u7".into()] });
    }

    #[test]
    fn a_rename_needs_no_members_and_keeps_them() {
        let o = ops(json!([{"op": "replace", "value": {"id": "g", "displayName": "New"}}]));
        assert_eq!(needs(&o), Needs { all: false, ids: vec![] });
        let mut m: BTreeSet<String> = ["u1".to_string()].into();
        let mut g = Map::new();
        g.insert("displayName".into(), json!("Old"));
        let mops = apply_group_patch(&mut g, &o).unwrap();
        apply(&mut m, &mops, &users(&["u1"])).unwrap();
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn adding_twice_and_removing_a_stranger_change_nothing() {
        let mut m: BTreeSet<String> = ["u1".to_string()].into();
        apply(&mut m, &[MemberOp::Add(vec!["u1".into()]), MemberOp::Remove(vec!["u9".into()])], &users(&["u1"])).unwrap();
        assert_eq!(m, ["u1".to_string()].into());
    }

    #[test]
    fn adding_an_unknown_user_is_invalid_value() {
        let mut m = BTreeSet::new();
        let e = apply(&mut m, &[MemberOp::Add(vec!["ghost".into()])], &users(&[])).unwrap_err();
        assert_eq!(e.scim_type, Some(crate::scim::ScimType::InvalidValue));
    }

    #[test]
    fn remove_where_matches_on_display() {
        let mut m: BTreeSet<String> = ["u1".to_string(), "u2".to_string()].into();
        let f = crate::scim::filter::parse_filter("display eq \"U2@X\"").unwrap();
        apply(&mut m, &[MemberOp::RemoveWhere(f)], &users(&["u1", "u2"])).unwrap();
        assert_eq!(m, ["u1".to_string()].into());
    }
}
