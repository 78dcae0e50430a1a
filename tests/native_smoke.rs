//! The app end to end, natively: management API -> SCIM -> events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;
use serde_json::json;
use support::App;

#[test]
fn a_created_user_is_read_back_and_emits_one_event_after_activation() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let r =
        app.scim(&dir, "POST", "/Users", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@x.io", "password": "s3cret"})));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.body.get("password").is_none());
    let id = r.body["id"].as_str().unwrap();
    let g = app.scim(&dir, "GET", &format!("/Users/{id}"), None);
    assert_eq!(g.body["userName"], "a@x.io");
    assert_eq!(app.event_names(&dir), vec!["dsync.activated", "dsync.user.created"]);
    let seqs: Vec<i64> = app.events(&dir).iter().map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2]);
}
