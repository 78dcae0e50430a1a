//! PATCH on Users: every docs/IDP-QUIRKS.md example and the RFC 7644 §3.5.2 ones.

use serde_json::{json, Map, Value};

use super::*;
use crate::scim::resource::normalize;
use crate::scim::schema::{ENTERPRISE_SCHEMA as ENT, USER_SCHEMA};
use crate::scim::ScimType;

fn stored(body: Value) -> Map<String, Value> {
    normalize(ResourceKind::User, &body).unwrap().resource
}

fn base() -> Map<String, Value> {
    stored(json!({
        "userName": "bjensen@example.com", "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
        ENT: {"employeeNumber": "1"}
    }))
}

fn patch(res: &mut Map<String, Value>, ops: Value) -> Result<(), ScimError> {
    let ops = parse_patch(&json!({"schemas": [PATCH_SCHEMA], "Operations": ops}))?;
    apply_user_patch(res, &ops)
}

fn patched(ops: Value) -> Map<String, Value> {
    let mut r = base();
    patch(&mut r, ops).unwrap();
    r
}

#[test]
fn okta_deactivates_and_reactivates_with_a_pathless_replace() {
    let mut r = patched(json!([{"op": "replace", "value": {"active": false}}]));
    assert_eq!(r["active"], json!(false));
    assert_eq!(r["userName"], json!("bjensen@example.com"));
    patch(&mut r, json!([{"op": "replace", "value": {"active": true}}])).unwrap();
    assert_eq!(r["active"], json!(true));
}

#[test]
fn entra_disables_and_enables_with_string_booleans_in_any_case() {
    let mut r = patched(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(r["active"], json!(false));
    patch(&mut r, json!([{"op": "Replace", "path": "active", "value": "True"}])).unwrap();
    assert_eq!(r["active"], json!(true));
    let e = patch(&mut r, json!([{"op": "Replace", "path": "active", "value": "nope"}])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn entra_default_mode_pascal_case_ops_update_each_path() {
    let r = patched(json!([
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Jensen-Smith"},
        {"op": "Replace", "path": "userName", "value": "barbara@example.com"},
        {"op": "Replace", "path": format!("{ENT}:employeeNumber"), "value": "42"},
        {"op": "Add", "path": "nickName", "value": "Babs"}
    ]));
    assert_eq!(r["emails"][0], json!({"value": "barbara@example.com", "type": "work", "primary": true}));
    assert_eq!(r["emails"][1]["value"], json!("babs@jensen.org"));
    assert_eq!(r["name"], json!({"familyName": "Jensen-Smith", "givenName": "Barbara"}));
    assert_eq!(r["userName"], json!("barbara@example.com"));
    assert_eq!(r[ENT], json!({"employeeNumber": "42"}));
    assert_eq!(r["nickName"], json!("Babs"));
}

#[test]
fn entra_add_to_a_missing_work_email_creates_it() {
    let mut r = stored(json!({"userName": "u"}));
    patch(&mut r, json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@y"}])).unwrap();
    assert_eq!(r["emails"], json!([{"value": "x@y", "type": "work"}]));
    // A second add through the same filter updates the element it now matches.
    patch(&mut r, json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "z@y"}])).unwrap();
    assert_eq!(r["emails"], json!([{"value": "z@y", "type": "work"}]));
}

#[test]
fn entra_aad_opt_scim_062020_merges_dotted_and_urn_keys_in_one_pathless_replace() {
    let r = patched(json!([{"op": "replace", "value": {
        "displayName": "Babs J", "name.givenName": "Babs",
        format!("{ENT}:employeeNumber"): "7", format!("{ENT}:manager.value"): "m1",
        "emails[type eq \"work\"].value": "new@example.com"
    }}]));
    assert_eq!(r["displayName"], json!("Babs J"));
    assert_eq!(r["name"]["givenName"], json!("Babs"));
    assert_eq!(r["name"]["familyName"], json!("Jensen"));
    assert_eq!(r[ENT], json!({"employeeNumber": "7", "manager": {"value": "m1"}}));
    assert_eq!(r["emails"][0]["value"], json!("new@example.com"));
}

#[test]
fn entra_manager_is_set_from_an_array_a_string_or_a_urn_path() {
    let r = patched(json!([{"op": "Add", "path": "manager", "value": [{"$ref": "../Users/m1", "value": "m1"}]}]));
    assert_eq!(r[ENT]["manager"], json!({"value": "m1", "$ref": "../Users/m1"}));
    let r = patched(json!([{"op": "Replace", "path": format!("{ENT}:manager"), "value": "m2"}]));
    assert_eq!(r[ENT]["manager"], json!({"value": "m2"}));
    let mut r = patched(json!([{"op": "add", "path": format!("{ENT}:manager"), "value": {"value": "m3", "displayName": "Boss"}}]));
    patch(&mut r, json!([{"op": "add", "path": format!("{ENT}:manager"), "value": "m4"}])).unwrap();
    assert_eq!(r[ENT]["manager"], json!({"value": "m4"}), "a new manager does not keep the old displayName");
    patch(&mut r, json!([{"op": "remove", "path": format!("{ENT}:manager")}])).unwrap();
    assert_eq!(r[ENT], json!({"employeeNumber": "1"}));
    assert_eq!(r["schemas"], json!([USER_SCHEMA, ENT]));
}

#[test]
fn onelogin_pathless_values_with_null_id_string_active_and_manager_id_are_accepted() {
    let r = patched(json!([{"op": "replace", "value": {
        "id": null, "active": "false", "title": 5, format!("{ENT}"): {"manager": {"managerId": "m9", "displayName": "M"}}
    }}]));
    assert_eq!(r["active"], json!(false));
    assert_eq!(r["title"], json!("5"));
    assert_eq!(r[ENT], json!({"employeeNumber": "1", "manager": {"value": "m9", "displayName": "M"}}));
    assert!(r.get("id").is_none());
}

#[test]
fn rfc_7644_add_without_path_appends_emails_and_sets_nick_name() {
    let r = patched(json!([{"op": "add", "value": {
        "emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "b@new.org", "type": "other"}], "nickName": "Babs"
    }}]));
    assert_eq!(r["emails"].as_array().unwrap().len(), 3, "an equal element is not added twice");
    assert_eq!(r["emails"][2]["value"], json!("b@new.org"));
    assert_eq!(r["nickName"], json!("Babs"));
}

#[test]
fn adding_a_primary_email_demotes_the_previous_primary() {
    let r = patched(json!([{"op": "add", "path": "emails", "value": [{"value": "n@x", "primary": true}]}]));
    assert_eq!(r["emails"][0]["primary"], json!(false));
    assert_eq!(r["emails"][2], json!({"value": "n@x", "primary": true}));
}

#[test]
fn rfc_7644_remove_examples() {
    let r = patched(json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]));
    assert_eq!(r["emails"], json!([{"value": "babs@jensen.org", "type": "home"}]));
    let r = patched(json!([{"op": "remove", "path": "emails"}, {"op": "remove", "path": "name.familyName"}]));
    assert!(r.get("emails").is_none());
    assert_eq!(r["name"], json!({"givenName": "Barbara"}));
    let r = patched(json!([{"op": "remove", "path": "emails[type eq \"home\"].type"}]));
    assert_eq!(r["emails"][1], json!({"value": "babs@jensen.org"}));
}

#[test]
fn removing_with_a_value_array_removes_every_listed_value() {
    let mut r = base();
    patch(&mut r, json!([{"op": "add", "path": "emails", "value": [{"value": "BABS@jensen.org", "type": "other"}]}])).unwrap();
    patch(&mut r, json!([{"op": "remove", "path": "emails", "value": [{"value": "babs@jensen.org"}, "nobody@x"]}])).unwrap();
    patch(&mut r, json!([{"op": "remove", "path": "emails", "value": []}])).unwrap();
    assert_eq!(r["emails"], json!([{"value": "bjensen@example.com", "type": "work", "primary": true}]));
}

#[test]
fn rfc_7644_replace_examples() {
    let mut r = base();
    patch(&mut r, json!([{"op": "add", "path": "addresses", "value": [{"type": "work", "locality": "Hollywood", "region": "CA"}]}])).unwrap();
    patch(&mut r, json!([{"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Burbank"}])).unwrap();
    assert_eq!(r["addresses"], json!([{"locality": "Burbank", "region": "CA", "type": "work"}]));
    patch(
        &mut r,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]",
        "value": {"streetAddress": "911 Universal City Plaza", "primary": true}}]),
    )
    .unwrap();
    assert_eq!(r["addresses"], json!([{"streetAddress": "911 Universal City Plaza", "type": "work", "primary": true}]));
    patch(&mut r, json!([{"op": "replace", "value": {"emails": [{"value": "only@x", "type": "work"}], "nickName": "B"}}])).unwrap();
    assert_eq!(r["emails"], json!([{"value": "only@x", "type": "work"}]));
}

#[test]
fn filtered_paths_without_a_match_create_for_eq_filters_and_otherwise_fail_or_do_nothing() {
    let r = patched(json!([{"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Paris"}]));
    assert_eq!(r["addresses"], json!([{"locality": "Paris", "type": "work"}]));
    let mut r = base();
    let e = patch(&mut r, json!([{"op": "replace", "path": "emails[value co \"nothing\"].type", "value": "x"}])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    patch(&mut r, json!([{"op": "remove", "path": "emails[type eq \"fax\"]"}])).unwrap();
    assert_eq!(r, base());
}

#[test]
fn enterprise_extension_object_paths_merge_and_update_schemas() {
    let mut r = stored(json!({"userName": "u"}));
    patch(&mut r, json!([{"op": "add", "path": ENT, "value": {"department": "R&D", "costCenter": 12}}])).unwrap();
    assert_eq!(r[ENT], json!({"costCenter": "12", "department": "R&D"}));
    assert_eq!(r["schemas"], json!([USER_SCHEMA, ENT]));
    patch(&mut r, json!([{"op": "replace", "path": "department", "value": "Ops"}])).unwrap();
    assert_eq!(r[ENT]["department"], json!("Ops"));
    patch(&mut r, json!([{"op": "remove", "path": ENT}])).unwrap();
    assert!(r.get(ENT).is_none());
}

#[test]
fn unknown_extensions_are_stored_under_their_urn() {
    let mut r = stored(json!({"userName": "u"}));
    patch(
        &mut r,
        json!([
            {"op": "add", "path": "urn:acme:params:ext:1.0:User:badge", "value": 7},
            {"op": "add", "value": {"urn:other:ext:2.0:User": {"tier": "gold"}}}
        ]),
    )
    .unwrap();
    assert_eq!(r["urn:acme:params:ext:1.0:User"], json!({"badge": 7}));
    assert_eq!(r["urn:other:ext:2.0:User"], json!({"tier": "gold"}));
    patch(&mut r, json!([{"op": "remove", "path": "urn:acme:params:ext:1.0:User:badge"}])).unwrap();
    assert!(r.get("urn:acme:params:ext:1.0:User").is_none());
    patch(&mut r, json!([{"op": "remove", "path": "urn:other:ext:2.0:User"}])).unwrap();
    assert!(r.get("urn:other:ext:2.0:User").is_none());
}

#[test]
fn a_failing_later_op_leaves_the_resource_unchanged() {
    let mut r = base();
    let e = patch(
        &mut r,
        json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "sometimes"}
        ]),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert_eq!(r, base());
}

#[test]
fn required_attributes_are_enforced_and_removed_ones_stay_removed() {
    let mut r = base();
    let e = patch(&mut r, json!([{"op": "remove", "path": "userName"}])).unwrap_err();
    assert_eq!((e.scim_type, e.detail.contains("userName")), (Some(ScimType::InvalidValue), true));
    patch(&mut r, json!([{"op": "remove", "path": "active"}, {"op": "remove", "path": "title"}])).unwrap();
    // Removed means unassigned (scim2-tester checks it is gone); the app counts it as active.
    assert!(r.get("active").is_none());
}

#[test]
fn pathless_ops_ignore_read_only_write_only_and_unknown_keys() {
    let r = patched(json!([{"op": "replace", "value": {
        "id": "x", "schemas": ["bogus"], "meta": {"version": "1"}, "groups": [{"value": "g"}],
        "password": "p", "favouriteColour": "blue", "displayName": "B"
    }}]));
    let mut expected = base();
    expected.insert("displayName".into(), json!("B"));
    assert_eq!(Value::Object(r), Value::Object(sort_like(&expected)));
}

fn sort_like(m: &Map<String, Value>) -> Map<String, Value> {
    normalize(ResourceKind::User, &Value::Object(m.clone())).unwrap().resource
}

#[test]
fn server_owned_keys_of_the_input_are_kept() {
    let mut r = base();
    r.insert("id".into(), json!("user_1"));
    r.insert("meta".into(), json!({"version": "W/\"1\""}));
    patch(&mut r, json!([{"op": "add", "path": "title", "value": "Boss"}])).unwrap();
    assert_eq!(r.keys().nth(1).map(String::as_str), Some("id"));
    assert_eq!(r["meta"], json!({"version": "W/\"1\""}));
    assert_eq!(r["title"], json!("Boss"));
}

#[test]
fn entra_adds_a_custom_extension_attribute_the_user_did_not_have() {
    let ext = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    let r = patched(json!([{"op": "Add", "path": format!("{ext}:CustomAttribute"), "value": "Blue"}]));
    assert_eq!(r[ext], json!({"CustomAttribute": "Blue"}));
    assert!(r["schemas"].as_array().unwrap().iter().any(|s| s == ext));
}

fn many_emails(range: std::ops::Range<usize>) -> Vec<Value> {
    range.map(|i| json!({"value": format!("user{i}@example.com"), "type": "other"})).collect()
}

#[test]
fn adding_ten_thousand_emails_deduplicates_in_linear_time() {
    let mut values = many_emails(0..10_000);
    values.push(json!({"value": "user7@example.com", "type": "other"}));
    let r = crate::support::assert_fast(3, || patched(json!([{"op": "add", "path": "emails", "value": values}])));
    assert_eq!(r.get("emails").and_then(Value::as_array).map(Vec::len), Some(10_002));
}

#[test]
fn adding_ten_thousand_values_to_an_unknown_extension_deduplicates_in_linear_time() {
    let values: Vec<Value> = (0..10_000).map(|i| json!({"n": i})).chain([json!({"n": 7})]).collect();
    let r = crate::support::assert_fast(3, || {
        patched(json!([
            {"op": "add", "path": "urn:acme:ext:2.0:User:tags", "value": [{"n": 7}]},
            {"op": "add", "path": "urn:acme:ext:2.0:User:tags", "value": values}
        ]))
    });
    let tags = r.get("urn:acme:ext:2.0:User").and_then(|e| e.get("tags")).and_then(Value::as_array).map(Vec::len);
    assert_eq!(tags, Some(10_000));
}

#[test]
fn removing_five_thousand_of_ten_thousand_emails_by_value_takes_linear_time() {
    let mut r = base();
    patch(&mut r, json!([{"op": "replace", "path": "emails", "value": many_emails(0..10_000)}])).unwrap();
    let mut targets = many_emails(0..5_000);
    targets.push(json!({"value": "USER9999@EXAMPLE.COM"}));
    crate::support::assert_fast(3, || patch(&mut r, json!([{"op": "remove", "path": "emails", "value": targets}]))).unwrap();
    assert_eq!(r.get("emails").and_then(Value::as_array).map(Vec::len), Some(4_999));
}
