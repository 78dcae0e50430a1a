//! PATCH on Groups: member ops in every form IdPs send, renames, atomicity.

use serde_json::{json, Map, Value};

use super::*;
use crate::scim::filter::parse_filter;
use crate::scim::resource::normalize;
use crate::scim::schema::GROUP_SCHEMA;
use crate::scim::ScimType;

const MS: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

fn group() -> Map<String, Value> {
    normalize(ResourceKind::Group, &json!({"schemas": [GROUP_SCHEMA, MS], "displayName": "Eng", "externalId": "g-ext"})).unwrap().resource
}

fn patch(res: &mut Map<String, Value>, ops: Value) -> Result<Vec<MemberOp>, ScimError> {
    let ops = parse_patch(&json!({"schemas": [PATCH_SCHEMA], "Operations": ops}))?;
    apply_group_patch(res, &ops)
}

fn member_ops(ops: Value) -> Vec<MemberOp> {
    let mut g = group();
    let out = patch(&mut g, ops).unwrap();
    assert!(g.get("members").is_none(), "members never enter the group resource");
    out
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn okta_membership_patch_removes_by_filter_and_adds_in_one_request() {
    let ops = member_ops(json!([
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "add", "path": "members", "value": [{"value": "u2", "display": "b@x.io"}]}
    ]));
    assert_eq!(ops, [MemberOp::Remove(ids(&["u1"])), MemberOp::Add(ids(&["u2"]))]);
}

#[test]
fn okta_full_push_replaces_members_and_an_empty_list_empties() {
    assert_eq!(
        member_ops(json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}])),
        [MemberOp::ReplaceAll(ids(&["u1", "u2"]))]
    );
    assert_eq!(member_ops(json!([{"op": "replace", "path": "members", "value": []}])), [MemberOp::ReplaceAll(vec![])]);
}

#[test]
fn okta_rename_with_id_in_the_value_never_touches_members() {
    let mut g = group();
    let ops = patch(&mut g, json!([{"op": "replace", "value": {"id": "group_1", "displayName": "New"}}])).unwrap();
    assert!(ops.is_empty());
    assert_eq!(g["displayName"], json!("New"));
    assert!(g.get("id").is_none());
}

#[test]
fn entra_adds_several_members_with_null_refs_in_one_op() {
    let ops = member_ops(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u1"}, {"$ref": null, "value": "u2"}]}]));
    assert_eq!(ops, [MemberOp::Add(ids(&["u1", "u2"]))]);
}

#[test]
fn entra_removes_with_a_value_array_or_a_filter_and_renames() {
    let mut g = group();
    let ops = patch(
        &mut g,
        json!([
            {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u1"}, {"$ref": null, "value": "u2"}]},
            {"op": "remove", "path": "members[value eq \"u3\"]"},
            {"op": "Replace", "path": "displayName", "value": "Engineering"}
        ]),
    )
    .unwrap();
    assert_eq!(ops, [MemberOp::Remove(ids(&["u1", "u2"])), MemberOp::Remove(ids(&["u3"]))]);
    assert_eq!(g["displayName"], json!("Engineering"));
    assert_eq!(g["schemas"], json!([GROUP_SCHEMA, MS]), "Entra's extra schema URN survives");
}

#[test]
fn jumpcloud_value_array_form_without_filter_adds_and_removes() {
    assert_eq!(
        member_ops(json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
            {"op": "remove", "path": "members", "value": [{"value": "u2"}]}
        ])),
        [MemberOp::Add(ids(&["u1", "u2"])), MemberOp::Remove(ids(&["u2"]))]
    );
}

#[test]
fn a_bare_remove_of_members_removes_all() {
    assert_eq!(member_ops(json!([{"op": "remove", "path": "members"}])), [MemberOp::RemoveAll]);
}

#[test]
fn member_filters_on_value_eq_joined_by_or_become_id_lists_others_remove_where() {
    assert_eq!(member_ops(json!([{"op": "remove", "path": "members[value eq \"a\" or VALUE eq \"b\"]"}])), [MemberOp::Remove(ids(&["a", "b"]))]);
    let filter = "display sw \"contractor\"";
    assert_eq!(member_ops(json!([{"op": "remove", "path": format!("members[{filter}]")}])), [MemberOp::RemoveWhere(parse_filter(filter).unwrap())]);
}

#[test]
fn replace_through_a_members_filter_removes_matches_then_adds_the_value() {
    assert_eq!(
        member_ops(json!([{"op": "replace", "path": "members[value eq \"u1\"]", "value": [{"value": "u9"}]}])),
        [MemberOp::RemoveWhere(parse_filter("value eq \"u1\"").unwrap()), MemberOp::Add(ids(&["u9"]))]
    );
}

#[test]
fn pathless_add_and_replace_with_members_become_add_and_replace_all() {
    let mut g = group();
    let ops = patch(
        &mut g,
        json!([
            {"op": "add", "value": {"members": [{"value": "u1"}, "u2"]}},
            {"op": "replace", "value": {"displayName": "Ops", "members": [{"value": "u3"}]}}
        ]),
    )
    .unwrap();
    assert_eq!(ops, [MemberOp::Add(ids(&["u1", "u2"])), MemberOp::ReplaceAll(ids(&["u3"]))]);
    assert_eq!(g["displayName"], json!("Ops"));
    assert!(g.get("members").is_none());
}

#[test]
fn member_sub_attribute_paths_and_empty_lists_change_nothing() {
    assert!(member_ops(json!([
        {"op": "replace", "path": "members[value eq \"u1\"].display", "value": "x"},
        {"op": "add", "path": "members", "value": []},
        {"op": "remove", "path": "members", "value": []}
    ]))
    .is_empty());
}

#[test]
fn duplicate_ids_collapse_so_member_ops_stay_idempotent() {
    assert_eq!(
        member_ops(json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u1"}, "u1"]},
            {"op": "remove", "path": "members[value eq \"u2\" or value eq \"u2\"]"}
        ])),
        [MemberOp::Add(ids(&["u1"])), MemberOp::Remove(ids(&["u2"]))]
    );
}

#[test]
fn nested_groups_and_members_without_value_are_invalid_value() {
    let mut g = group();
    let e = patch(&mut g, json!([{"op": "add", "path": "members", "value": [{"value": "g2", "type": "Group"}]}])).unwrap_err();
    assert!(e.detail.contains("nested groups"));
    let e = patch(&mut g, json!([{"op": "add", "path": "members", "value": [{"display": "x"}]}])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn a_failing_op_after_member_ops_returns_an_error_and_leaves_the_group_unchanged() {
    let mut g = group();
    let e = patch(
        &mut g,
        json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "add", "path": "members", "value": [{"value": "u1"}]},
            {"op": "replace", "path": "meta.version", "value": "x"}
        ]),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    assert_eq!(g, group());
}

#[test]
fn removing_the_display_name_is_invalid_value() {
    let mut g = group();
    let e = patch(&mut g, json!([{"op": "remove", "path": "displayName"}])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    let e = patch(&mut g, json!([{"op": "replace", "path": "displayName", "value": " "}])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert_eq!(g, group());
}

#[test]
fn external_id_can_be_replaced_and_removed() {
    let mut g = group();
    patch(&mut g, json!([{"op": "replace", "path": "externalId", "value": "new"}])).unwrap();
    assert_eq!(g["externalId"], json!("new"));
    patch(&mut g, json!([{"op": "remove", "path": "externalId"}])).unwrap();
    assert!(g.get("externalId").is_none());
}

#[test]
fn rfc_7644_member_examples_remove_all_then_add_and_replace() {
    let id = "2819c223-7f76-453a-919d-413861904646";
    assert_eq!(
        member_ops(json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{id}"), "value": id}]}
        ])),
        [MemberOp::RemoveAll, MemberOp::Add(ids(&[id]))]
    );
    assert_eq!(member_ops(json!([{"op": "add", "path": "members", "value": {"value": id}}])), [MemberOp::Add(ids(&[id]))]);
    assert_eq!(
        member_ops(json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members", "value": [{"value": id}]}])),
        [MemberOp::ReplaceAll(ids(&[id]))]
    );
}
