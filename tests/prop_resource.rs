//! Property tests for POST/PUT normalisation (RFC 7644 §3.3, §3.5.1) and
//! member lists (RFC 7643 §4.2): any JSON is either normalised or an error,
//! never a panic, and normalising a stored resource again changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod prop_support;

use std::collections::HashSet;

use prop_support::{config, json_key, json_object, json_value, CORE_GROUP, CORE_USER, ENT};
use proptest::prelude::*;
use rollcall::scim::resource::{member_ids, normalize};
use rollcall::scim::schema::ResourceKind;
use serde_json::{json, Map, Value};

fn kind() -> impl Strategy<Value = ResourceKind> {
    prop_oneof![Just(ResourceKind::User), Just(ResourceKind::Group)]
}

/// A body as IdPs send it: the required name, schemas (right, wrong or
/// absent), and attributes with loosely typed values.
fn body() -> impl Strategy<Value = Value> {
    let schemas = proptest::sample::select(vec![
        json!([CORE_USER]),
        json!([CORE_GROUP]),
        json!([CORE_USER, ENT, "urn:acme:ext:2.0:User"]),
        json!([CORE_GROUP, "urn:ietf:params:scim:schemas:extension:Microsoft:2.0:Group", CORE_GROUP.to_uppercase()]),
        json!(null),
        json!("nope"),
    ]);
    let member = prop_oneof![
        "u[0-9]{1,2}".prop_map(|id| json!({"value": id, "display": "D", "$ref": null})),
        " ?u[0-9]{1,2} ?".prop_map(Value::String),
        Just(json!(null)),
        Just(json!({"value": "g", "type": "Group"})),
    ];
    let members = prop_oneof![proptest::collection::vec(member, 0..8).prop_map(Value::Array), json_value(1)];
    (proptest::option::of(schemas), json_object(3), proptest::option::of(members), "[ a-z]{0,6}").prop_map(|(schemas, attrs, members, name)| {
        let mut m = attrs;
        m.insert("userName".to_string(), Value::String(name.clone()));
        m.insert("displayName".to_string(), Value::String(name));
        if let Some(s) = schemas {
            m.insert("schemas".to_string(), s);
        }
        if let Some(v) = members {
            m.insert("members".to_string(), v);
        }
        Value::Object(m)
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn normalising_any_json_never_panics(kind in kind(), body in json_value(4)) {
        let _ = normalize(kind, &body);
    }

    #[test]
    fn a_normalised_body_normalises_to_itself(kind in kind(), body in body()) {
        if let Ok(n) = normalize(kind, &body) {
            let again = normalize(kind, &Value::Object(n.resource.clone()));
            prop_assert_eq!(again.map(|a| a.resource), Ok(n.resource), "from {}", body);
        }
    }

    #[test]
    fn flattened_and_nested_urn_keys_never_panic(
        kind in kind(),
        keys in proptest::collection::vec((json_key(), json_value(1)), 0..24),
    ) {
        let mut m: Map<String, Value> = keys.into_iter().collect();
        m.insert("userName".to_string(), json!("u"));
        m.insert("displayName".to_string(), json!("g"));
        let _ = normalize(kind, &Value::Object(m));
    }

    #[test]
    fn member_ids_are_trimmed_distinct_non_empty_and_in_first_seen_order(value in prop_oneof![
        json_value(3),
        proptest::collection::vec(prop_oneof![" ?[a-c]{0,2} ?".prop_map(Value::String), "[a-c]{1,2}".prop_map(|v| json!({"value": v}))], 0..30)
            .prop_map(Value::Array),
    ]) {
        if let Ok(ids) = member_ids(&value) {
            let mut seen = HashSet::new();
            for id in &ids {
                prop_assert!(!id.is_empty() && id.trim() == id);
                prop_assert!(seen.insert(id.clone()), "duplicate {:?} in {:?}", id, ids);
            }
            if let Value::Array(items) = &value {
                let first_seen: Vec<String> = items
                    .iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s.trim().to_string()),
                        Value::Object(o) => o
                            .get("value")
                            .or_else(|| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")).map(|(_, v)| v))
                            .and_then(Value::as_str)
                            .map(|s| s.trim().to_string()),
                        _ => None,
                    })
                    .fold(Vec::new(), |mut acc, id| {
                        if !acc.contains(&id) {
                            acc.push(id);
                        }
                        acc
                    });
                prop_assert_eq!(ids, first_seen);
            }
        }
    }
}
