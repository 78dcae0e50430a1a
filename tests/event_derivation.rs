//! One event per real change, whichever request form caused it (docs/PRODUCT.md
//! § Events; docs/IDP-QUIRKS.md § Required server behaviour 6–7), through the whole
//! app natively.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;
use serde_json::{json, Value};
use support::{App, Dir};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct World {
    app: App,
    dir: Dir,
    users: Vec<String>,
    group: String,
}

/// Three users; a group holding the first one.
fn world() -> World {
    let app = App::new();
    let dir = app.new_directory("okta");
    let users: Vec<String> =
        (0..3).map(|i| app.scim(&dir, "POST", "/Users", Some(json!({"userName": format!("u{i}@x.io")}))).body["id"].as_str().unwrap().to_string()).collect();
    let g = app.scim(&dir, "POST", "/Groups", Some(json!({"displayName": "G", "members": [{"value": users[0]}]})));
    World { group: g.body["id"].as_str().unwrap().to_string(), app, dir, users }
}

impl World {
    fn mark(&self) -> usize {
        self.app.events(&self.dir).len()
    }
    fn since(&self, mark: usize) -> Vec<(String, Value)> {
        self.app.events(&self.dir).into_iter().skip(mark).map(|e| (e["event"].as_str().unwrap().to_string(), e["data"].clone())).collect()
    }
    fn patch_group(&self, ops: Value) -> u16 {
        self.app.scim(&self.dir, "PATCH", &format!("/Groups/{}", self.group), Some(json!({"schemas": [PATCH], "Operations": ops}))).status
    }
    fn membership(&self, events: &[(String, Value)]) -> Vec<(String, String)> {
        events.iter().map(|(n, d)| (n.trim_start_matches("dsync.group.").to_string(), d["user"]["id"].as_str().unwrap_or("").to_string())).collect()
    }
}

#[test]
fn patch_add_emits_user_added_once_even_when_sent_twice() {
    let w = world();
    let m = w.mark();
    assert_eq!(w.patch_group(json!([{"op": "add", "path": "members", "value": [{"value": w.users[1]}, {"value": w.users[1]}]}])), 204);
    assert_eq!(w.patch_group(json!([{"op": "Add", "path": "members", "value": [{"value": w.users[1]}]}])), 204);
    assert_eq!(w.membership(&w.since(m)), vec![("user_added".to_string(), w.users[1].clone())]);
}

#[test]
fn each_removal_form_emits_user_removed_for_real_members_only() {
    for ops in [
        json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", "U0")}]),
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "U0"}, {"value": "U2"}]}]),
        json!([{"op": "replace", "path": "members", "value": []}]),
        json!([{"op": "remove", "path": "members"}]),
    ] {
        let w = world();
        let ops: Value = serde_json::from_str(&ops.to_string().replace("U0", &w.users[0]).replace("U2", &w.users[2])).unwrap();
        let m = w.mark();
        assert_eq!(w.patch_group(ops.clone()), 204, "{ops}");
        assert_eq!(w.membership(&w.since(m)), vec![("user_removed".to_string(), w.users[0].clone())], "{ops}");
    }
}

#[test]
fn okta_remove_and_add_in_one_request_emits_both_in_order() {
    let w = world();
    let m = w.mark();
    w.patch_group(json!([
        {"op": "remove", "path": format!("members[value eq \"{}\"]", w.users[0])},
        {"op": "add", "path": "members", "value": [{"value": w.users[1], "display": "u1@x.io"}]}
    ]));
    assert_eq!(w.membership(&w.since(m)), vec![("user_added".to_string(), w.users[1].clone()), ("user_removed".to_string(), w.users[0].clone())]);
}

#[test]
fn okta_rename_emits_group_updated_and_keeps_members() {
    let w = world();
    let m = w.mark();
    w.patch_group(json!([{"op": "replace", "value": {"id": w.group, "displayName": "Renamed"}}]));
    let ev = w.since(m);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].0, "dsync.group.updated");
    assert_eq!(ev[0].1["name"], "Renamed");
    assert_eq!(ev[0].1["previous_attributes"]["name"], "G");
    let g = w.app.scim(&w.dir, "GET", &format!("/Groups/{}", w.group), None);
    assert_eq!(g.body["members"].as_array().unwrap().len(), 1);
}

#[test]
fn put_with_a_member_list_emits_the_difference() {
    let w = world();
    let m = w.mark();
    let body = json!({"displayName": "G", "members": [{"value": w.users[1]}, {"value": w.users[2]}]});
    assert_eq!(w.app.scim(&w.dir, "PUT", &format!("/Groups/{}", w.group), Some(body)).status, 200);
    let mut got = w.membership(&w.since(m));
    got.sort();
    let mut want =
        vec![("user_added".to_string(), w.users[1].clone()), ("user_added".to_string(), w.users[2].clone()), ("user_removed".to_string(), w.users[0].clone())];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn post_with_members_emits_created_then_user_added() {
    let w = world();
    let m = w.mark();
    w.app.scim(&w.dir, "POST", "/Groups", Some(json!({"displayName": "New", "members": [{"value": w.users[1]}]})));
    let names: Vec<String> = w.since(m).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["dsync.group.created", "dsync.group.user_added"]);
}

#[test]
fn deleting_a_group_removes_each_member_before_group_deleted() {
    let w = world();
    w.patch_group(json!([{"op": "add", "path": "members", "value": [{"value": w.users[1]}]}]));
    let m = w.mark();
    assert_eq!(w.app.scim(&w.dir, "DELETE", &format!("/Groups/{}", w.group), None).status, 204);
    let names: Vec<String> = w.since(m).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["dsync.group.user_removed", "dsync.group.user_removed", "dsync.group.deleted"]);
}

#[test]
fn deleting_a_user_leaves_its_groups_first() {
    let w = world();
    let m = w.mark();
    assert_eq!(w.app.scim(&w.dir, "DELETE", &format!("/Users/{}", w.users[0]), None).status, 204);
    let ev = w.since(m);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["dsync.group.user_removed", "dsync.user.deleted"]);
    assert_eq!(ev[0].1["group"]["id"], w.group.as_str());
    let g = w.app.scim(&w.dir, "GET", &format!("/Groups/{}", w.group), None);
    assert!(g.body.get("members").is_none());
}

#[test]
fn deactivation_in_every_form_is_one_update_with_previous_state() {
    for ops in [
        json!([{"op": "replace", "value": {"active": false}}]),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
        json!([{"op": "replace", "path": "active", "value": false}]),
    ] {
        let w = world();
        let m = w.mark();
        let r = w.app.scim(&w.dir, "PATCH", &format!("/Users/{}", w.users[1]), Some(json!({"schemas": [PATCH], "Operations": ops})));
        assert_eq!(r.status, 200);
        let ev = w.since(m);
        assert_eq!(ev.len(), 1, "{ops}");
        assert_eq!(ev[0].0, "dsync.user.updated");
        assert_eq!(ev[0].1["state"], "inactive");
        assert_eq!(ev[0].1["previous_attributes"]["state"], "active");
        // Sending it again changes nothing and emits nothing.
        w.app.scim(&w.dir, "PATCH", &format!("/Users/{}", w.users[1]), Some(json!({"schemas": [PATCH], "Operations": ops})));
        assert_eq!(w.since(m).len(), 1);
    }
}

#[test]
fn a_put_deactivation_is_an_update_too() {
    let w = world();
    let m = w.mark();
    let mut body = w.app.scim(&w.dir, "GET", &format!("/Users/{}", w.users[2]), None).body;
    body["active"] = json!(false);
    w.app.scim(&w.dir, "PUT", &format!("/Users/{}", w.users[2]), Some(body));
    let ev = w.since(m);
    assert_eq!(ev.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), vec!["dsync.user.updated"]);
}
