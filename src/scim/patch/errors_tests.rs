//! PATCH request errors and their RFC 7644 §3.12 `scimType`s.

use serde_json::{json, Map, Value};

use super::*;
use crate::scim::resource::normalize;
use crate::scim::ScimType;

fn parse_err(body: Value) -> ScimError {
    parse_patch(&body).unwrap_err()
}

fn user_err(ops: Value) -> ScimError {
    let mut r: Map<String, Value> = normalize(ResourceKind::User, &json!({"userName": "u", "name": {"givenName": "A"}})).unwrap().resource;
    let before = r.clone();
    let e = apply_user_patch(&mut r, &parse_patch(&json!({"Operations": ops})).unwrap()).unwrap_err();
    assert_eq!(r, before);
    e
}

#[test]
fn malformed_bodies_are_invalid_syntax() {
    for body in [
        json!([]),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
        json!({"schemas": [PATCH_SCHEMA]}),
        json!({"schemas": [PATCH_SCHEMA], "Operations": []}),
        json!({"Operations": {"op": "add"}}),
        json!({"Operations": ["add"]}),
        json!({"Operations": [{"op": "move", "path": "title", "value": "x"}]}),
        json!({"Operations": [{"path": "title", "value": "x"}]}),
        json!({"Operations": [{"op": "add", "path": "title"}]}),
        json!({"Operations": [{"op": "replace"}]}),
    ] {
        assert_eq!(parse_err(body.clone()).scim_type, Some(ScimType::InvalidSyntax), "{body}");
    }
}

#[test]
fn op_names_and_keys_are_case_insensitive_and_an_empty_path_is_no_path() {
    let ops = parse_patch(&json!({"SCHEMAS": [PATCH_SCHEMA], "operations": [
        {"OP": "Add", "Path": "", "Value": {"title": "x"}}, {"op": "REPLACE", "path": "title", "value": "y"}, {"op": "remove", "path": "title"}
    ]}))
    .unwrap();
    let kinds: Vec<OpKind> = ops.iter().map(|o| o.op).collect();
    assert_eq!(kinds, [OpKind::Add, OpKind::Replace, OpKind::Remove]);
    assert!(ops[0].path.is_none());
    assert_eq!(ops[1].path.as_ref().map(|p| p.attr.name.as_str()), Some("title"));
}

#[test]
fn an_unparsable_path_is_invalid_path_and_remove_without_path_is_no_target() {
    assert_eq!(parse_err(json!({"Operations": [{"op": "add", "path": "emails[type eq", "value": "x"}]})).scim_type, Some(ScimType::InvalidPath));
    assert_eq!(parse_err(json!({"Operations": [{"op": "add", "path": 3, "value": "x"}]})).scim_type, Some(ScimType::InvalidPath));
    assert_eq!(parse_err(json!({"Operations": [{"op": "remove"}]})).scim_type, Some(ScimType::NoTarget));
}

#[test]
fn read_only_paths_are_mutability_errors() {
    for path in ["id", "meta.created", "meta", "groups", "urn:ietf:params:scim:schemas:core:2.0:User:groups"] {
        assert_eq!(user_err(json!([{"op": "replace", "path": path, "value": "x"}])).scim_type, Some(ScimType::Mutability), "{path}");
    }
}

#[test]
fn structurally_wrong_or_unknown_paths_are_invalid_path() {
    for path in ["favouriteColour", "title.foo", "name.nickname", "name[givenName eq \"A\"]", "userName[value eq \"u\"]", "urn:acme:ext:x[a eq 1]"] {
        assert_eq!(user_err(json!([{"op": "replace", "path": path, "value": "x"}])).scim_type, Some(ScimType::InvalidPath), "{path}");
    }
}

#[test]
fn a_pathless_value_must_be_an_object() {
    assert_eq!(user_err(json!([{"op": "replace", "value": "x"}])).scim_type, Some(ScimType::InvalidValue));
    assert_eq!(
        user_err(json!([{"op": "add", "path": "emails[type eq \"work\"]", "value": [{"value": "a"}, {"value": "b"}]}])).scim_type,
        Some(ScimType::InvalidValue)
    );
}

#[test]
fn a_password_path_is_accepted_and_never_stored() {
    let mut r = normalize(ResourceKind::User, &json!({"userName": "u"})).unwrap().resource;
    let ops = parse_patch(&json!({"Operations": [{"op": "replace", "path": "password", "value": "s3cret"}]})).unwrap();
    apply_user_patch(&mut r, &ops).unwrap();
    assert!(!Value::Object(r).to_string().contains("s3cret"));
}
