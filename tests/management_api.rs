//! docs/PRODUCT.md § Management API, natively through the whole app on SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;
use rollcall::app::maintenance::purge_directory;
use rollcall::app::Services;
use rollcall::storage::sqlite::block_on;
use serde_json::json;
use support::App;

#[test]
fn lists_are_cursor_paginated_both_ways() {
    let app = App::new();
    let ids: Vec<String> =
        (0..5).map(|i| app.admin("POST", "/v1/organizations", Some(json!({"name": format!("O{i}")}))).body["id"].as_str().unwrap().to_string()).collect();
    let p1 = app.admin("GET", "/v1/organizations?limit=2", None).body;
    let got: Vec<&str> = p1["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![ids[0].as_str(), ids[1].as_str()]);
    assert_eq!(p1["list_metadata"]["after"], ids[1].as_str());
    assert!(p1["list_metadata"]["before"].is_null());
    let p2 = app.admin("GET", &format!("/v1/organizations?limit=2&after={}", ids[1]), None).body;
    assert_eq!(p2["data"][0]["id"], ids[2].as_str());
    assert_eq!(p2["list_metadata"]["before"], ids[2].as_str());
    let back = app.admin("GET", &format!("/v1/organizations?limit=2&before={}", ids[2]), None).body;
    let got: Vec<&str> = back["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![ids[0].as_str(), ids[1].as_str()]);
    assert_eq!(app.admin("GET", "/v1/organizations?limit=0", None).status, 422);
    assert_eq!(app.admin("GET", "/v1/organizations?limit=101", None).status, 422);
}

#[test]
fn errors_are_json_with_a_code() {
    let app = App::new();
    let r = app.admin("POST", "/v1/organizations", Some(json!({"name": ""})));
    assert_eq!(r.status, 422);
    assert_eq!(r.body["error"]["code"], "invalid_request");
    let raw = app
        .raw("POST", &format!("{}/v1/organizations", support::ORIGIN), vec![("authorization".into(), format!("Bearer {}", support::ADMIN))], b"{nope".to_vec())
        .0;
    assert_eq!(raw.status, 400);
    assert_eq!(raw.body["error"]["code"], "invalid_json");
    assert_eq!(app.admin("GET", "/v1/directories/directory_x", None).status, 404);
    assert_eq!(app.admin("GET", "/v1/nothing", None).body["error"]["code"], "not_found");
    let bad_provider = app.admin("POST", "/v1/directories", Some(json!({"organization_id": "org_x", "name": "D", "provider": "myspace"})));
    assert_eq!(bad_provider.status, 422);
    let no_org = app.admin("POST", "/v1/directories", Some(json!({"organization_id": "org_missing", "name": "D", "provider": "okta"})));
    assert_eq!(no_org.status, 404);
}

#[test]
fn organisations_update_and_refuse_deletion_while_they_have_directories() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let u = app.admin("PATCH", &format!("/v1/organizations/{}", dir.org), Some(json!({"name": "Renamed", "external_id": "ext-9"})));
    assert_eq!((u.body["name"].as_str(), u.body["external_id"].as_str()), (Some("Renamed"), Some("ext-9")));
    let dup = app.admin("POST", "/v1/organizations", Some(json!({"name": "Other", "external_id": "ext-9"})));
    assert_eq!(dup.status, 409);
    assert_eq!(app.admin("DELETE", &format!("/v1/organizations/{}", dir.org), None).status, 409);
}

#[test]
fn deleting_a_directory_emits_dsync_deleted_revokes_tokens_and_purges_its_data() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let u = app.scim(&dir, "POST", "/Users", Some(json!({"userName": "a@x.io"})));
    app.scim(&dir, "POST", "/Groups", Some(json!({"displayName": "G", "members": [{"value": u.body["id"]}]})));
    let del = app.admin("DELETE", &format!("/v1/directories/{}", dir.id), None);
    assert_eq!(del.status, 202);
    assert_eq!(app.admin("GET", &format!("/v1/directories/{}", dir.id), None).body["state"], "deleting");
    assert_eq!(app.scim(&dir, "GET", "/Users", None).status, 401, "a deleted directory answers like an unknown one");
    let names = app.event_names(&dir);
    assert_eq!(names.last().map(String::as_str), Some("dsync.deleted"));
    let entropy = support::Xorshift(std::cell::Cell::new(7));
    let svc = Services { entropy: &entropy, ..app.svc() };
    assert!(block_on(purge_directory(&svc, &dir.id, rollcall::app::maintenance::PURGE_ROUNDS)).unwrap().0);
    assert_eq!(app.admin("GET", &format!("/v1/directories/{}", dir.id), None).status, 404);
    assert_eq!(app.admin("GET", &format!("/v1/directory_users?directory_id={}", dir.id), None).body["data"], json!([]));
    // The event log outlives the directory.
    assert_eq!(app.events(&dir).last().unwrap()["event"], "dsync.deleted");
    assert_eq!(app.admin("DELETE", &format!("/v1/organizations/{}", dir.org), None).status, 204);
}

#[test]
fn directory_users_and_groups_as_the_application_sees_them() {
    let app = App::new();
    let dir = app.new_directory("entra_id");
    let u = app.scim(
        &dir,
        "POST",
        "/Users",
        Some(json!({
            "userName": "bjensen@example.com", "externalId": "e-1", "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tours", "manager": {"value": "m-1"}}
        })),
    );
    let uid = u.body["id"].as_str().unwrap();
    let g = app.scim(&dir, "POST", "/Groups", Some(json!({"displayName": "Guides", "externalId": "g-1", "members": [{"value": uid}]})));
    let gid = g.body["id"].as_str().unwrap();
    let view = app.admin("GET", &format!("/v1/directory_users/{uid}"), None).body;
    assert_eq!(view["object"], "directory_user");
    assert_eq!(view["organization_id"], dir.org.as_str());
    assert_eq!(view["idp_id"], "e-1");
    assert_eq!(view["email"], "bjensen@example.com");
    assert_eq!(view["first_name"], "Barbara");
    assert_eq!(view["state"], "active");
    assert_eq!(view["custom_attributes"]["department"], "Tours");
    assert_eq!(view["custom_attributes"]["manager_id"], "m-1");
    // A user's groups are whole directory_group objects, as WorkOS's are.
    let ids_names: Vec<_> =
        view["groups"].as_array().unwrap().iter().map(|g| (g["object"].clone(), g["id"].clone(), g["name"].clone(), g["idp_id"].clone())).collect();
    assert_eq!(ids_names, [(json!("directory_group"), json!(gid), json!("Guides"), json!("g-1"))]);
    let in_group = app.admin("GET", &format!("/v1/directory_users?group_id={gid}"), None).body;
    assert_eq!(in_group["data"][0]["id"], uid);
    assert_eq!(in_group["data"][0]["groups"][0]["name"], "Guides");
    let groups = app.admin("GET", &format!("/v1/directory_groups?user_id={uid}"), None).body;
    assert_eq!(groups["data"][0]["name"], "Guides");
    assert_eq!(groups["data"][0]["idp_id"], "g-1");
    assert_eq!(app.admin("GET", "/v1/directory_users", None).status, 422);
}

#[test]
fn the_event_log_filters_by_type_organisation_and_cursor() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let other = app.new_directory("okta");
    for i in 0..3 {
        app.scim(&dir, "POST", "/Users", Some(json!({"userName": format!("u{i}@x.io")})));
    }
    app.scim(&other, "POST", "/Users", Some(json!({"userName": "o@x.io"})));
    let created = app.admin("GET", &format!("/v1/events?organization_id={}&events=dsync.user.created", dir.org), None).body;
    assert_eq!(created["data"].as_array().unwrap().len(), 3);
    assert!(created["data"].as_array().unwrap().iter().all(|e| e["directory_id"] == dir.id.as_str()));
    let first = app.admin("GET", &format!("/v1/events?directory_id={}&limit=2", dir.id), None).body;
    let after = first["list_metadata"]["after"].as_str().unwrap();
    let rest = app.admin("GET", &format!("/v1/events?directory_id={}&limit=10&after={after}", dir.id), None).body;
    let seqs: Vec<i64> = first["data"].as_array().unwrap().iter().chain(rest["data"].as_array().unwrap()).map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert_eq!(app.admin("GET", "/v1/events?events=dsync.nope", None).status, 422);
}

#[test]
fn webhook_secrets_are_shown_once_and_sealed_at_rest() {
    let app = App::new();
    let e = app.admin("POST", "/v1/webhook_endpoints", Some(json!({"url": "https://app.example/hooks", "events": ["dsync.user.created"]})));
    assert_eq!(e.status, 201);
    let secret = e.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let id = e.body["id"].as_str().unwrap();
    let got = app.admin("GET", &format!("/v1/webhook_endpoints/{id}"), None);
    assert!(got.body.get("secret").is_none());
    let rows = block_on(rollcall::storage::Db::batch(&app.db, vec![rollcall::stmt!("SELECT secret_sealed FROM webhook_endpoints")])).unwrap();
    let sealed = rows[0].rows[0]["secret_sealed"].as_str().unwrap();
    assert!(!sealed.contains(secret.trim_start_matches("whsec_")));
    assert_eq!(app.admin("POST", "/v1/webhook_endpoints", Some(json!({"url": "ftp://x"}))).status, 422);
    assert_eq!(app.admin("POST", "/v1/webhook_endpoints", Some(json!({"url": "https://x", "events": ["dsync.nope"]}))).status, 422);
    let rotated = app.admin("POST", &format!("/v1/webhook_endpoints/{id}/rotate_secret"), Some(json!({})));
    assert_ne!(rotated.body["secret"].as_str().unwrap(), secret);
    assert!(rotated.body["previous_secret_expires_at"].is_string());
    let off = app.admin("PATCH", &format!("/v1/webhook_endpoints/{id}"), Some(json!({"state": "disabled"})));
    assert_eq!(off.body["state"], "disabled");
}
