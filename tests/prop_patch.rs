//! Property tests for PATCH (RFC 7644 §3.5.2): parsing any body and
//! applying it to any User or Group never panics, and a failed request
//! leaves the resource untouched (the request is atomic).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod prop_support;

use prop_support::{bracket_filter, config, json_object, json_value, mutated, name, urn, ENT, PATCH_SCHEMA};
use proptest::prelude::*;
use rollcall::scim::patch::{apply_group_patch, apply_user_patch, parse_patch, MemberOp};
use rollcall::scim::resource::normalize;
use rollcall::scim::schema::ResourceKind;
use serde_json::{json, Map, Value};

/// PATCH paths IdPs send, plus generated value-filter paths.
fn patch_path() -> impl Strategy<Value = String> {
    let known = proptest::sample::select(vec![
        "userName".to_string(),
        "displayName".to_string(),
        "active".to_string(),
        "name".to_string(),
        "name.givenName".to_string(),
        "name.familyName".to_string(),
        "emails".to_string(),
        "emails.value".to_string(),
        r#"emails[type eq "work"]"#.to_string(),
        r#"emails[type eq "work"].value"#.to_string(),
        r#"emails[type eq "work" and primary eq true].value"#.to_string(),
        r#"emails[value co "@"]"#.to_string(),
        r#"phoneNumbers[type eq "mobile"].value"#.to_string(),
        r#"addresses[type eq "work"].locality"#.to_string(),
        "members".to_string(),
        r#"members[value eq "u1"]"#.to_string(),
        r#"members[value eq "u1" or value eq "u2"]"#.to_string(),
        r#"members[display eq "x"]"#.to_string(),
        "members.display".to_string(),
        "members.value".to_string(),
        "externalId".to_string(),
        "title".to_string(),
        "roles".to_string(),
        "id".to_string(),
        "meta".to_string(),
        "groups".to_string(),
        "password".to_string(),
        ENT.to_string(),
        format!("{ENT}:manager"),
        format!("{ENT}:manager.value"),
        format!("{ENT}:employeeNumber"),
        format!("{ENT}:department"),
        "urn:ietf:params:scim:schemas:core:2.0:User:userName".to_string(),
        "urn:ietf:params:scim:schemas:core:2.0:Group:displayName".to_string(),
        "urn:acme:ext:2.0:User".to_string(),
        "urn:acme:ext:2.0:User:shoeSize".to_string(),
        "urn:acme:ext:2.0:User:shoe.size".to_string(),
        "".to_string(),
    ]);
    let attr = proptest::sample::select(vec!["emails", "members", "addresses", "roles", "phoneNumbers", "name", "userName"]);
    let filtered =
        (attr, bracket_filter(), proptest::option::of(name())).prop_map(|(a, f, s)| format!("{a}[{f}]{}", s.map(|s| format!(".{s}")).unwrap_or_default()));
    let dotted = (proptest::option::of(urn()), name(), proptest::option::of(name()))
        .prop_map(|(u, n, s)| format!("{}{n}{}", u.map(|u| format!("{u}:")).unwrap_or_default(), s.map(|s| format!(".{s}")).unwrap_or_default()));
    prop_oneof![6 => known, 2 => filtered, 2 => dotted, 1 => mutated(prop_support::filter_text())]
}

/// Values shaped like what IdPs send for those paths, plus anything.
fn patch_value() -> BoxedStrategy<Value> {
    let member = prop_oneof![
        "u[0-9]{1,2}".prop_map(|id| json!({"value": id})),
        "u[0-9]{1,2}".prop_map(|id| json!({"value": id, "display": "X", "$ref": null})),
        "u[0-9]{1,2}".prop_map(Value::String),
        Just(json!({"value": "g1", "type": "Group"})),
        Just(json!({"value": ""})),
    ];
    let email = (prop_oneof![Just("work"), Just("home")], "[a-c]@x\\.org", proptest::option::of(any::<bool>()))
        .prop_map(|(t, v, p)| json!({"type": t, "value": v, "primary": p}));
    prop_oneof![
        2 => proptest::collection::vec(member, 0..5).prop_map(Value::Array),
        2 => proptest::collection::vec(email, 0..4).prop_map(Value::Array),
        1 => proptest::sample::select(vec![
            json!("True"), json!(false), json!(null), json!([]), json!({}), json!("mgr-1"),
            json!({"managerId": "m1", "displayName": "M"}), json!([{"value": "m2", "$ref": null}]),
            json!({"givenName": "Ann", "familyName": null}), json!({"userName": "renamed", "displayName": "R"}),
            json!({"id": "x", "displayName": "Renamed"}), json!({ENT: {"employeeNumber": 7, "manager": "m3"}}),
            json!({"urn:acme:ext:2.0:User": {"shoeSize": 44}}), json!({"name.givenName": "G", "active": "False"}),
        ]),
        3 => json_value(3),
    ]
    .boxed()
}

/// Mostly well-formed operations (so that most requests get as far as
/// applying), and now and then anything at all.
fn operation() -> impl Strategy<Value = Value> {
    let kind = proptest::sample::select(vec!["add", "Add", "replace", "Replace", "REMOVE", "remove"]);
    let pathless = prop_oneof![
        proptest::sample::select(vec![
            json!({"givenName": "Ann", "familyName": null}),
            json!({"userName": "renamed", "displayName": "R"}),
            json!({"id": "x", "displayName": "Renamed"}),
            json!({ENT: {"employeeNumber": 7, "manager": "m3"}}),
            json!({"urn:acme:ext:2.0:User": {"shoeSize": 44}}),
            json!({"name.givenName": "G", "active": "False"}),
            json!({"members": [{"value": "u1"}], "emails": [{"value": "c@x.org", "primary": true}]}),
            json!({"urn:ietf:params:scim:schemas:core:2.0:User:title": "T", "urn:acme:ext:2.0:User:shoeSize": 1}),
        ]),
        json_object(2).prop_map(Value::Object),
    ];
    let well_formed = (kind, proptest::option::weighted(0.8, patch_path()), patch_value(), pathless).prop_map(|(op, path, value, object)| match path {
        Some(path) if op.eq_ignore_ascii_case("remove") => json!({"op": op, "path": path}),
        Some(path) => json!({"op": op, "path": path, "value": value}),
        None if op.eq_ignore_ascii_case("remove") => json!({"op": "add", "value": object}),
        None => json!({"op": op, "value": object}),
    });
    let op = proptest::sample::select(vec!["add", "replace", "remove", "delete", ""]);
    let path = prop_oneof![patch_path().prop_map(Value::String), Just(Value::Null), json_value(1)];
    let anything = (op, proptest::option::of(path), proptest::option::of(patch_value())).prop_map(|(op, path, value)| {
        let mut o = Map::new();
        o.insert("op".to_string(), Value::String(op.to_string()));
        if let Some(p) = path {
            o.insert("path".to_string(), p);
        }
        if let Some(v) = value {
            o.insert("value".to_string(), v);
        }
        Value::Object(o)
    });
    prop_oneof![20 => well_formed, 1 => anything]
}

fn patch_body() -> impl Strategy<Value = Value> {
    let ops = prop_oneof![
        8 => proptest::collection::vec(operation(), 1..4).prop_map(Value::Array),
        1 => json_value(2),
    ];
    (any::<bool>(), ops).prop_map(|(schemas, ops)| if schemas { json!({"schemas": [PATCH_SCHEMA], "Operations": ops}) } else { json!({"operations": ops}) })
}

/// A stored resource: a normalised body, or any map at all (a stored row
/// from an older version, or a caller's mistake, must not panic either).
fn stored(kind: ResourceKind) -> impl Strategy<Value = Map<String, Value>> {
    let realistic = match kind {
        ResourceKind::User => json!({
            "userName": "bjensen", "name": {"givenName": "Barbara"}, "active": true,
            "emails": [{"value": "a@x.org", "type": "work", "primary": true}, {"value": "b@x.org", "type": "home"}],
            ENT: {"employeeNumber": "1", "manager": {"value": "m0"}},
            "urn:acme:ext:2.0:User": {"shoeSize": 42}
        }),
        ResourceKind::Group => json!({"displayName": "Engineering", "externalId": "e1"}),
    };
    let base = normalize(kind, &realistic).unwrap().resource;
    prop_oneof![
        3 => Just(base.clone()),
        2 => json_object(3).prop_map(move |extra| {
            let mut m = extra;
            m.insert("id".to_string(), json!("res-1"));
            normalize(kind, &Value::Object(m.clone())).map(|n| n.resource).unwrap_or(m)
        }),
        1 => json_object(3),
    ]
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn parsing_any_json_as_a_patch_body_never_panics(body in json_value(4)) {
        let _ = parse_patch(&body);
    }

    #[test]
    fn any_patch_on_any_user_never_panics_and_failures_change_nothing(
        body in patch_body(),
        resource in stored(ResourceKind::User),
    ) {
        if let Ok(ops) = parse_patch(&body) {
            let mut res = resource.clone();
            match apply_user_patch(&mut res, &ops) {
                Ok(()) => {
                    let name = res.get("userName").and_then(Value::as_str).unwrap_or_default();
                    prop_assert!(!name.trim().is_empty(), "a patched user keeps a userName: {:?}", res);
                    // A patched user is stored as normalised; normalising again changes nothing.
                    let again = normalize(ResourceKind::User, &Value::Object(res.clone())).unwrap().resource;
                    let mut stored_part = res.clone();
                    stored_part.retain(|k, _| !["id", "meta", "groups"].iter().any(|r| k.eq_ignore_ascii_case(r)));
                    prop_assert_eq!(again, stored_part);
                }
                Err(_) => prop_assert_eq!(res, resource),
            }
        }
    }

    #[test]
    fn any_patch_on_any_group_never_panics_and_failures_change_nothing(
        body in patch_body(),
        resource in stored(ResourceKind::Group),
    ) {
        if let Ok(ops) = parse_patch(&body) {
            let mut res = resource.clone();
            match apply_group_patch(&mut res, &ops) {
                Ok(member_ops) => {
                    prop_assert!(!res.contains_key("members"), "members are never stored on the group");
                    for op in member_ops {
                        if let MemberOp::Add(ids) | MemberOp::Remove(ids) | MemberOp::ReplaceAll(ids) = op {
                            let mut seen = std::collections::HashSet::new();
                            prop_assert!(ids.iter().all(|id| !id.is_empty() && seen.insert(id)), "ids are distinct: {:?}", ids);
                        }
                    }
                }
                Err(_) => prop_assert_eq!(res, resource),
            }
        }
    }

    #[test]
    fn long_and_deeply_nested_patch_paths_are_errors_not_crashes(
        depth in 0usize..300,
        opener in proptest::sample::select(vec!["emails[", "emails[(", "emails[not (", "(", "["]),
    ) {
        let path = format!("{}type eq \"work\"{}", opener.repeat(depth), "])".repeat(depth));
        let body = json!({"Operations": [{"op": "replace", "path": path, "value": "x"}]});
        if let Ok(ops) = parse_patch(&body) {
            let mut res = normalize(ResourceKind::User, &json!({"userName": "u"})).unwrap().resource;
            let _ = apply_user_patch(&mut res, &ops);
        }
    }
}
