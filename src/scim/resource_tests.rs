//! Normalisation of POST/PUT bodies, from real IdP payloads.
use super::*;
use crate::scim::schema::{ENTERPRISE_SCHEMA as ENT, GROUP_SCHEMA, USER_SCHEMA};
use crate::scim::ScimType;
use serde_json::json;

fn user(body: Value) -> Map<String, Value> {
    normalize(ResourceKind::User, &body).unwrap().resource
}

fn user_err(body: Value) -> ScimError {
    normalize(ResourceKind::User, &body).unwrap_err()
}

fn manager(m: Value) -> Option<Value> {
    user(json!({"userName": "a", ENT: {"manager": m}})).get(ENT).and_then(|e| e.get("manager")).cloned()
}

#[test]
fn an_okta_create_body_is_stored_without_password_or_groups() {
    let r = user(json!({
        "schemas": [USER_SCHEMA], "userName": "ann@x.io",
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"primary": true, "value": "ann@x.io", "type": "work"}],
        "displayName": "Ann Lee", "locale": "en-US", "externalId": "00u1",
        "groups": [], "password": "hunter2", "active": true
    }));
    assert_eq!(
        Value::Object(r),
        json!({
            "schemas": [USER_SCHEMA], "externalId": "00u1", "userName": "ann@x.io",
            "name": {"familyName": "Lee", "givenName": "Ann"}, "displayName": "Ann Lee", "locale": "en-US",
            "active": true, "emails": [{"value": "ann@x.io", "type": "work", "primary": true}]
        })
    );
}

#[test]
fn the_stored_key_order_is_schemas_external_id_registry_order_then_extensions() {
    let r = user(json!({"urn:x:custom": {"a": 1}, ENT: {"department": "R&D"}, "active": false, "externalId": "e", "userName": "u"}));
    let keys: Vec<&str> = r.keys().map(String::as_str).collect();
    assert_eq!(keys, ["schemas", "externalId", "userName", "active", ENT, "urn:x:custom"]);
    assert_eq!(r["schemas"], json!([USER_SCHEMA, ENT, "urn:x:custom"]));
}

#[test]
fn an_entra_create_with_explicit_nulls_and_string_booleans_is_accepted() {
    let r = user(json!({
        "schemas": [USER_SCHEMA, ENT], "externalId": "x", "userName": "b@x.io", "active": "False",
        "meta": {"resourceType": "User"}, "name": {"formatted": "B", "familyName": null, "givenName": "B"},
        "roles": [], "title": null, ENT: {"manager": null, "department": null}
    }));
    assert_eq!(r["active"], json!(false));
    assert_eq!(r["name"], json!({"formatted": "B", "givenName": "B"}));
    assert!(r.get("title").is_none() && r.get("roles").is_none() && r.get("meta").is_none() && r.get(ENT).is_none());
    assert_eq!(r["schemas"], json!([USER_SCHEMA, ENT]));
}

#[test]
fn a_onelogin_body_with_null_id_string_active_and_number_employee_number_is_accepted() {
    let r = user(json!({"id": null, "userName": "c", "active": "TRUE", ENT: {"employeeNumber": 42}}));
    assert_eq!(r["active"], json!(true));
    assert_eq!(r[ENT], json!({"employeeNumber": "42"}));
    assert!(r.get("id").is_none());
}

#[test]
fn manager_is_accepted_in_every_form_idps_send() {
    assert_eq!(manager(json!("m1")), Some(json!({"value": "m1"})));
    assert_eq!(
        manager(json!({"value": "m1", "$ref": "../Users/m1", "displayName": "M"})),
        Some(json!({"value": "m1", "$ref": "../Users/m1", "displayName": "M"}))
    );
    assert_eq!(manager(json!([{"$ref": "r", "value": "m1"}])), Some(json!({"value": "m1", "$ref": "r"})));
    assert_eq!(manager(json!({"managerId": 7, "displayName": "M"})), Some(json!({"value": "7", "displayName": "M"})));
    assert_eq!(manager(json!({"value": "", "displayName": "M"})), None);
    assert_eq!(manager(json!({"value": "m1", "$ref": null})), Some(json!({"value": "m1"})));
    assert_eq!(manager(json!([])), None);
}

#[test]
fn a_wrong_or_malformed_schemas_list_is_invalid_syntax() {
    for body in [
        json!({"schemas": [GROUP_SCHEMA], "userName": "u"}),
        json!({"schemas": USER_SCHEMA, "userName": "u"}),
        json!({"schemas": [1], "userName": "u"}),
        json!([]),
    ] {
        assert_eq!(user_err(body).scim_type, Some(ScimType::InvalidSyntax));
    }
    assert!(normalize(ResourceKind::User, &json!({"userName": "u", "schemas": null})).is_ok());
}

#[test]
fn a_missing_or_blank_user_name_is_invalid_value() {
    for body in [json!({}), json!({"userName": "  "}), json!({"userName": null})] {
        let e = user_err(body);
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert!(e.detail.contains("userName"));
    }
    assert_eq!(user(json!({"userName": " u "}))["userName"], json!("u"));
}

#[test]
fn values_of_the_wrong_type_are_invalid_value_naming_the_attribute() {
    for (body, name) in [
        (json!({"userName": "u", "active": "yes"}), "active"),
        (json!({"userName": "u", "title": {"a": 1}}), "title"),
        (json!({"userName": ["u"]}), "userName"),
        (json!({"userName": "u", "name": "Ann"}), "name"),
        (json!({"userName": "u", "emails": [{"primary": "maybe"}]}), "emails.primary"),
        (json!({"userName": "u", "emails": [["x"]]}), "emails"),
        (json!({"userName": "u", "addresses": ["x"]}), "addresses"),
        (json!({"userName": "u", ENT: "x"}), ENT),
        (json!({"userName": "u", "urn:x:custom": 1}), "urn:x:custom"),
    ] {
        let e = user_err(body);
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{name}");
        assert!(e.detail.contains(name), "{} lacks {name}", e.detail);
    }
}

#[test]
fn keys_are_canonicalised_case_insensitively() {
    let r = user(json!({"USERNAME": "u", "Name": {"GivenName": "A"}, "EMAILS": {"VALUE": "a@x", "Primary": "true"},
                       "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User": {"DEPARTMENT": "D"}}));
    assert_eq!(r["userName"], json!("u"));
    assert_eq!(r["name"], json!({"givenName": "A"}));
    assert_eq!(r["emails"], json!([{"value": "a@x", "primary": true}]));
    assert_eq!(r[ENT], json!({"department": "D"}));
}

#[test]
fn flattened_dotted_and_core_qualified_keys_are_folded_in() {
    let r = user(json!({
        "userName": "u", "name.givenName": "A", format!("{ENT}:department"): "D",
        format!("{ENT}:manager.value"): "m", format!("{USER_SCHEMA}:title"): "T", USER_SCHEMA: {"nickName": "N"}
    }));
    assert_eq!(r["nickName"], json!("N"));
    assert_eq!(r["name"], json!({"givenName": "A"}));
    assert_eq!(r["title"], json!("T"));
    assert_eq!(r[ENT], json!({"department": "D", "manager": {"value": "m"}}));
}

#[test]
fn unknown_extensions_are_kept_verbatim_and_unknown_plain_keys_dropped() {
    let r = user(json!({"userName": "u", "foo": 1, "urn:acme:ext:1.0:User": {"badge": 7, "x": null}}));
    assert!(r.get("foo").is_none());
    assert_eq!(r["urn:acme:ext:1.0:User"], json!({"badge": 7, "x": null}));
}

#[test]
fn multi_valued_elements_are_normalised_and_only_the_first_primary_kept() {
    let r = user(json!({"userName": "u", "emails": ["a@x", {"value": "b@x", "primary": "True", "$ref": null, "extra": 1},
                                                    {"value": "c@x", "primary": true}]}));
    assert_eq!(r["emails"], json!([{"value": "a@x"}, {"value": "b@x", "primary": true, "extra": 1}, {"value": "c@x", "primary": false}]));
    // `active` is not invented here: an absent value means active (the creation use case sets it).
    assert!(r.get("active").is_none());
}

#[test]
fn a_group_keeps_listed_unknown_schemas_and_returns_members_apart() {
    let n = normalize(
        ResourceKind::Group,
        &json!({
            "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "Eng", "externalId": "g1",
            "members": [{"$ref": null, "value": "u1"}, {"value": "u1", "display": "A"}, "u2"]
        }),
    )
    .unwrap();
    assert_eq!(n.members, Some(vec!["u1".to_string(), "u2".to_string()]));
    assert!(n.resource.get("members").is_none());
    assert_eq!(n.resource["schemas"][1], json!("http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"));
    assert_eq!(normalize(ResourceKind::Group, &json!({"displayName": "E", "members": []})).unwrap().members, Some(vec![]));
    assert_eq!(normalize(ResourceKind::Group, &json!({"displayName": "E"})).unwrap().members, None);
    assert_eq!(normalize(ResourceKind::User, &json!({"userName": "u", "members": ["x"]})).unwrap().members, None);
}

#[test]
fn group_errors_are_invalid_value() {
    let g = |b: Value| normalize(ResourceKind::Group, &b).unwrap_err();
    assert!(g(json!({"displayName": ""})).detail.contains("displayName"));
    assert!(g(json!({"displayName": "E", "members": [{"value": "g2", "type": "Group"}]})).detail.contains("nested groups"));
    assert_eq!(g(json!({"displayName": "E", "members": [{"display": "x"}]})).scim_type, Some(ScimType::InvalidValue));
    assert_eq!(g(json!({"schemas": [USER_SCHEMA], "displayName": "E"})).scim_type, Some(ScimType::InvalidSyntax));
}

#[test]
fn normalising_the_stored_form_again_changes_nothing() {
    let body = json!({"userName": "u", "emails": [{"value": "a", "primary": true}], ENT: {"manager": "m"}, "urn:x:y": {"a": 1}});
    let once = user(body);
    assert_eq!(user(Value::Object(once.clone())), once);
}

#[test]
fn normalize_attr_value_reports_unassigned_as_none() {
    let active = schema::find(schema::USER_ATTRS, "active").unwrap();
    assert_eq!(normalize_attr_value(active, &json!(null)).unwrap(), None);
    assert_eq!(normalize_attr_value(active, &json!("false")).unwrap(), Some(json!(false)));
    let emails = schema::find(schema::USER_ATTRS, "emails").unwrap();
    assert_eq!(normalize_attr_value(emails, &json!([])).unwrap(), None);
    assert_eq!(normalize_attr_value(emails, &json!({"value": "a"})).unwrap(), Some(json!([{"value": "a"}])));
}

#[test]
fn a_flattened_attribute_of_an_unknown_extension_folds_into_it() {
    let ext = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    let r = user(json!({"userName": "u", format!("{ext}:CustomAttribute"): "Blue", format!("{ext}:Size"): 42}));
    assert_eq!(r[ext], json!({"CustomAttribute": "Blue", "Size": 42}));
    assert!(r["schemas"].as_array().unwrap().iter().any(|s| s == ext));
}

#[test]
fn a_member_list_of_twenty_thousand_ids_is_deduplicated_in_linear_time() {
    let mut members: Vec<Value> = (0..20_000).map(|i| json!({"value": format!("user-{i:06}")})).collect();
    members.push(json!("user-000007"));
    let ids = crate::support::assert_fast(3, || member_ids(&Value::Array(members)).unwrap());
    assert_eq!(ids.len(), 20_000);
    assert_eq!(ids.get(7).map(String::as_str), Some("user-000007"));
}

#[test]
fn a_schemas_list_of_ten_thousand_urns_is_deduplicated_in_linear_time() {
    let mut schemas: Vec<String> = (0..10_000).map(|i| format!("urn:acme:ext{i}:2.0:User")).collect();
    schemas.push(USER_SCHEMA.to_string());
    schemas.push("URN:ACME:EXT7:2.0:USER".to_string());
    let body = json!({"schemas": schemas, "userName": "u"});
    let stored = crate::support::assert_fast(3, || user(body));
    assert_eq!(stored.get("schemas").and_then(Value::as_array).map(Vec::len), Some(10_001));
}
