//! `docs/openapi.json` describes the management API the router serves
//! (README § The OpenAPI document): the same (method, path) pairs as
//! `api::ROUTES`, the table the router dispatches by, in both directions;
//! each operation's path parameters are its path's; each dialect answers
//! errors in its own form; every `$ref` resolves. And the Worker serves the
//! document as kept, without a credential, on the default hostnames only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;
use rollcall::app::api::{self, openapi::DOCUMENT};
use serde_json::Value;
use std::collections::BTreeSet;
use support::App;

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("docs/openapi.json is JSON")
}

/// Every operation of the document: (METHOD, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{path}: {method} is not an operation (path-level members are not used here)");
            out.push((method.to_ascii_uppercase(), path.clone(), op.clone()));
        }
    }
    out
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = doc.pointer(r.strip_prefix('#').unwrap()).unwrap_or_else(|| panic!("{r} does not resolve"));
            resolve(doc, target)
        }
        None => v,
    }
}

#[test]
fn the_document_and_the_router_have_the_same_routes() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = operations(&doc).into_iter().map(|(m, p, _)| (m, p)).collect();
    let routed: BTreeSet<(String, String)> = api::ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    assert_eq!(routed.len(), api::ROUTES.len(), "a route is in api::ROUTES twice");
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routed but not in docs/openapi.json: {undocumented:?}");
    assert!(unrouted.is_empty(), "in docs/openapi.json but not routed: {unrouted:?}");
}

#[test]
fn every_route_pattern_is_reached_by_the_router() {
    // A route hidden behind an earlier pattern would be documented but never run.
    for r in api::ROUTES {
        let segments: Vec<&str> = r.path.split('/').filter(|s| !s.is_empty()).map(|s| if s.starts_with('{') { "x1" } else { s }).collect();
        let (op, _) = api::find(r.method, &segments).unwrap_or_else(|| panic!("{} {} matches nothing", r.method, r.path));
        assert_eq!(op, r.op, "{} {} is taken by an earlier route", r.method, r.path);
    }
}

#[test]
fn path_parameters_are_the_paths_own() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        let in_path: BTreeSet<&str> = path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        let params: Vec<&Value> = op["parameters"].as_array().map(|a| a.iter().map(|p| resolve(&doc, p)).collect()).unwrap_or_default();
        let declared: BTreeSet<&str> = params.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(in_path, declared, "{method} {path}");
        assert!(params.iter().filter(|p| p["in"] == "path").all(|p| p["required"] == true), "{method} {path}: path parameters are required");
        let names: Vec<(&str, &str)> = params.iter().map(|p| (p["in"].as_str().unwrap(), p["name"].as_str().unwrap())).collect();
        assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len(), "{method} {path}: a parameter twice");
    }
}

#[test]
fn each_dialect_answers_errors_in_its_own_form() {
    let doc = document();
    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let workos = !path.starts_with("/v1/");
        assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()), "{method} {path}: operationId twice");
        let responses = op["responses"].as_object().unwrap();
        assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path}: no success answer");
        for status in ["401", "413", "500", "503"] {
            assert!(responses.contains_key(status), "{method} {path}: {status} is answered to any request");
        }
        for (status, r) in responses.iter().filter(|(s, _)| !s.starts_with('2')) {
            let want = format!("#/components/responses/{}Error{status}", if workos { "WorkOS" } else { "" });
            assert_eq!(r["$ref"], want.as_str(), "{method} {path} {status}");
        }
        let security = op.get("security").unwrap_or(&doc["security"]);
        assert_eq!(security, &serde_json::json!([{"admin_key": []}]), "{method} {path}: the admin key");
    }
}

#[test]
fn every_reference_resolves() {
    fn walk(doc: &Value, v: &Value, n: &mut usize) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    assert!(r.starts_with("#/") && doc.pointer(&r[1..]).is_some(), "{r} does not resolve");
                    *n += 1;
                }
                m.values().for_each(|x| walk(doc, x, n));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(doc, x, n)),
            _ => {}
        }
    }
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut n = 0;
    walk(&doc, &doc, &mut n);
    assert!(n > 100, "only {n} references");
}

#[test]
fn the_worker_serves_the_document_without_a_credential() {
    let app = App::new();
    let (r, _) = app.raw("GET", "https://rollcall.test/openapi.json", vec![], vec![]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.raw.body, DOCUMENT.as_bytes());
    // Whitelabel hostnames serve SCIM only.
    let (r, _) = app.raw("GET", "https://scim.customer.test/openapi.json", vec![], vec![]);
    assert_eq!(r.status, 404);
    let (r, _) = app.raw("POST", "https://rollcall.test/openapi.json", vec![], vec![]);
    assert_eq!(r.status, 404);
}
