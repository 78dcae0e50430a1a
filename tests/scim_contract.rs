//! docs/PRODUCT.md § SCIM, natively through the whole app on SQLite: errors in
//! RFC 7644 §3.12 form for every bad input, paging, projection, ETags,
//! discovery and hostnames.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;
use serde_json::{json, Value};
use support::{App, Dir, ORIGIN};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user(app: &App, dir: &Dir, name: &str) -> String {
    let r = app.scim(dir, "POST", "/Users", Some(json!({"schemas": [USER], "userName": name})));
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn assert_scim_error(r: &support::Resp, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(r.body["status"], status.to_string());
    assert_eq!(r.body.get("scimType").and_then(Value::as_str), scim_type, "{:?}", r.body);
    assert!(r.header("content-type").unwrap().starts_with("application/scim+json"));
}

#[test]
fn malformed_json_is_invalid_syntax_and_stores_nothing() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let r = app.scim_with(&dir, "POST", "/Users", Some(b"{\"userName\": ".to_vec()), vec![]);
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    let list = app.scim(&dir, "GET", "/Users", None);
    assert_eq!(list.body["totalResults"], 0);
}

#[test]
fn a_body_that_is_not_an_object_is_invalid_syntax() {
    let app = App::new();
    let dir = app.new_directory("okta");
    assert_scim_error(&app.scim(&dir, "POST", "/Users", Some(json!([1, 2]))), 400, Some("invalidSyntax"));
}

#[test]
fn a_group_schema_posted_to_users_is_rejected() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let r = app.scim(&dir, "POST", "/Users", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "x"})));
    assert_scim_error(&r, 400, Some("invalidSyntax"));
}

#[test]
fn a_missing_user_name_is_invalid_value() {
    let app = App::new();
    let dir = app.new_directory("okta");
    assert_scim_error(&app.scim(&dir, "POST", "/Users", Some(json!({"schemas": [USER], "name": {"givenName": "A"}}))), 400, Some("invalidValue"));
}

#[test]
fn a_duplicate_user_name_in_any_case_is_a_409_uniqueness() {
    let app = App::new();
    let dir = app.new_directory("okta");
    user(&app, &dir, "dup@x.io");
    let r = app.scim(&dir, "POST", "/Users", Some(json!({"schemas": [USER], "userName": "DUP@X.IO"})));
    assert_scim_error(&r, 409, Some("uniqueness"));
    // Another directory may hold the same userName.
    let other = app.new_directory("okta");
    user(&app, &other, "dup@x.io");
}

#[test]
fn renaming_onto_a_taken_user_name_is_409_and_changes_nothing() {
    let app = App::new();
    let dir = app.new_directory("okta");
    user(&app, &dir, "a@x.io");
    let b = user(&app, &dir, "b@x.io");
    let r = app.scim(
        &dir,
        "PATCH",
        &format!("/Users/{b}"),
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "userName", "value": "A@x.io"}]})),
    );
    assert_scim_error(&r, 409, Some("uniqueness"));
    assert_eq!(app.scim(&dir, "GET", &format!("/Users/{b}"), None).body["userName"], "b@x.io");
}

#[test]
fn a_bad_filter_is_invalid_filter() {
    let app = App::new();
    let dir = app.new_directory("okta");
    for f in ["userName%20eq", "userName%20xx%20%22a%22", "(userName%20eq%20%22a%22", "shoeSize%20eq%201"] {
        assert_scim_error(&app.scim(&dir, "GET", &format!("/Users?filter={f}"), None), 400, Some("invalidFilter"));
    }
}

#[test]
fn a_bad_patch_path_is_invalid_path_and_a_bad_op_invalid_syntax() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let id = user(&app, &dir, "p@x.io");
    let bad_path = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "emails[type eq", "value": "x"}]});
    assert_scim_error(&app.scim(&dir, "PATCH", &format!("/Users/{id}"), Some(bad_path)), 400, Some("invalidPath"));
    let bad_op = json!({"schemas": [PATCH], "Operations": [{"op": "frobnicate", "path": "title", "value": "x"}]});
    assert_scim_error(&app.scim(&dir, "PATCH", &format!("/Users/{id}"), Some(bad_op)), 400, Some("invalidSyntax"));
    let no_target = json!({"schemas": [PATCH], "Operations": [{"op": "remove"}]});
    assert_scim_error(&app.scim(&dir, "PATCH", &format!("/Users/{id}"), Some(no_target)), 400, Some("noTarget"));
    let read_only = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "id", "value": "x"}]});
    assert_scim_error(&app.scim(&dir, "PATCH", &format!("/Users/{id}"), Some(read_only)), 400, Some("mutability"));
}

#[test]
fn a_failed_op_leaves_the_resource_and_its_version_unchanged() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let id = user(&app, &dir, "atomic@x.io");
    let ops = json!({"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "title", "value": "Boss"},
        {"op": "replace", "path": "active", "value": "sometimes"}
    ]});
    assert_eq!(app.scim(&dir, "PATCH", &format!("/Users/{id}"), Some(ops)).status, 400);
    let g = app.scim(&dir, "GET", &format!("/Users/{id}"), None);
    assert!(g.body.get("title").is_none());
    assert_eq!(g.body["meta"]["version"], "W/\"1\"");
    assert_eq!(app.event_names(&dir), vec!["dsync.activated", "dsync.user.created"]);
}

#[test]
fn a_bad_start_index_or_count_is_invalid_value_and_low_ones_are_clamped() {
    let app = App::new();
    let dir = app.new_directory("okta");
    assert_scim_error(&app.scim(&dir, "GET", "/Users?startIndex=abc", None), 400, Some("invalidValue"));
    assert_scim_error(&app.scim(&dir, "GET", "/Users?count=1.5", None), 400, Some("invalidValue"));
    user(&app, &dir, "one@x.io");
    let r = app.scim(&dir, "GET", "/Users?startIndex=-4&count=-1", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"].as_array().unwrap().len(), 0);
}

#[test]
fn an_oversized_body_is_413_with_the_advertised_limit() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let spc = app.scim(&dir, "GET", "/ServiceProviderConfig", None);
    let max = spc.body["bulk"]["maxPayloadSize"].as_u64().unwrap() as usize;
    let body = format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"big\",\"title\":\"{}\"}}", "x".repeat(max));
    let r = app.scim_with(&dir, "POST", "/Users", Some(body.into_bytes()), vec![]);
    assert_scim_error(&r, 413, None);
    assert!(r.body["detail"].as_str().unwrap().contains(&max.to_string()));
}

#[test]
fn unknown_resources_are_404_scim_errors() {
    let app = App::new();
    let dir = app.new_directory("okta");
    for path in ["/Users/0", "/Users/user_00000000000000000000000000000000", "/Groups/nope", "/Schemas/urn:nope", "/ResourceTypes/Nope", "/Nothing"] {
        assert_scim_error(&app.scim(&dir, "GET", path, None), 404, None);
    }
    let put = app.scim(&dir, "PUT", "/Users/user_00000000000000000000000000000000", Some(json!({"schemas": [USER], "userName": "x"})));
    assert_scim_error(&put, 404, None);
    assert_scim_error(&app.scim(&dir, "DELETE", "/Groups/group_00000000000000000000000000000000", None), 404, None);
}

#[test]
fn json_content_types_are_accepted_with_or_without_charset() {
    let app = App::new();
    let dir = app.new_directory("okta");
    for (i, ct) in ["application/json", "application/json; charset=utf-8", "application/scim+json;charset=UTF-8"].iter().enumerate() {
        let body = json!({"schemas": [USER], "userName": format!("ct{i}@x.io")}).to_string().into_bytes();
        let r = app.scim_with(&dir, "POST", "/Users", Some(body), vec![("content-type".into(), ct.to_string())]);
        assert_eq!(r.status, 201, "{ct}: {:?}", r.body);
    }
}

#[test]
fn paging_is_stable_and_count_zero_gives_only_the_total() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let ids: Vec<String> = (0..7).map(|i| user(&app, &dir, &format!("u{i}@x.io"))).collect();
    let mut seen = Vec::new();
    for start in [1, 4, 7] {
        let r = app.scim(&dir, "GET", &format!("/Users?startIndex={start}&count=3"), None);
        assert_eq!(r.body["totalResults"], 7);
        assert_eq!(r.body["startIndex"], start);
        for u in r.body["Resources"].as_array().unwrap() {
            seen.push(u["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen, ids);
    let zero = app.scim(&dir, "GET", "/Users?count=0", None);
    assert_eq!(zero.body["totalResults"], 7);
    assert_eq!(zero.body["itemsPerPage"], 0);
    assert_eq!(zero.body["Resources"], json!([]));
}

#[test]
fn sorting_by_user_name_descending() {
    let app = App::new();
    let dir = app.new_directory("okta");
    for n in ["b@x.io", "C@x.io", "a@x.io"] {
        user(&app, &dir, n);
    }
    let r = app.scim(&dir, "GET", "/Users?sortBy=userName&sortOrder=descending", None);
    let names: Vec<&str> = r.body["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["C@x.io", "b@x.io", "a@x.io"]);
}

#[test]
fn attributes_and_excluded_attributes_on_lists_and_single_gets() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let id = user(&app, &dir, "proj@x.io");
    let g = app.scim(&dir, "POST", "/Groups", Some(json!({"displayName": "G", "members": [{"value": id}]})));
    let gid = g.body["id"].as_str().unwrap();
    let one = app.scim(&dir, "GET", &format!("/Groups/{gid}?excludedAttributes=members"), None);
    assert!(one.body.get("members").is_none());
    assert_eq!(one.body["displayName"], "G");
    let list = app.scim(&dir, "GET", "/Users?attributes=userName", None);
    let u = &list.body["Resources"][0];
    assert_eq!(u["userName"], "proj@x.io");
    assert!(u.get("id").is_some());
    assert!(u.get("active").is_none() && u.get("groups").is_none());
}

#[test]
fn etags_and_if_match() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let id = user(&app, &dir, "etag@x.io");
    let g = app.scim(&dir, "GET", &format!("/Users/{id}"), None);
    assert_eq!(g.header("etag"), Some("W/\"1\""));
    let patch = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "T"}]}).to_string().into_bytes();
    let stale = app.scim_with(&dir, "PATCH", &format!("/Users/{id}"), Some(patch.clone()), vec![("if-match".into(), "W/\"7\"".into())]);
    assert_scim_error(&stale, 412, None);
    let ok = app.scim_with(&dir, "PATCH", &format!("/Users/{id}"), Some(patch), vec![("if-match".into(), "W/\"1\"".into())]);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["meta"]["version"], "W/\"2\"");
    let del = app.scim_with(&dir, "DELETE", &format!("/Users/{id}"), None, vec![("if-match".into(), "W/\"1\"".into())]);
    assert_scim_error(&del, 412, None);
}

#[test]
fn a_request_that_changes_nothing_keeps_the_version_and_emits_nothing() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let id = user(&app, &dir, "same@x.io");
    let before = app.events(&dir).len();
    let body = app.scim(&dir, "GET", &format!("/Users/{id}"), None).body;
    let put = app.scim(&dir, "PUT", &format!("/Users/{id}"), Some(body));
    assert_eq!(put.status, 200);
    assert_eq!(put.body["meta"]["version"], "W/\"1\"");
    assert_eq!(app.events(&dir).len(), before);
}

#[test]
fn discovery_tells_the_truth() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let spc = app.scim(&dir, "GET", "/ServiceProviderConfig", None).body;
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);
    assert!(spc["filter"]["maxResults"].as_u64().unwrap() > 0);
    let rts = app.scim(&dir, "GET", "/ResourceTypes", None).body;
    assert_eq!(rts["totalResults"], 2);
    let user_rt = app.scim(&dir, "GET", "/ResourceTypes/User", None).body;
    assert_eq!(user_rt["schemaExtensions"][0]["schema"], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
    let schemas = app.scim(&dir, "GET", "/Schemas", None).body;
    assert_eq!(schemas["totalResults"], 3);
    let ent = app.scim(&dir, "GET", "/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", None).body;
    assert!(ent["attributes"].as_array().unwrap().iter().any(|a| a["name"] == "manager"));
}

#[test]
fn whitelabel_hosts_serve_only_their_organisations_directories() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let other = app.new_directory("okta");
    let r = app.admin("POST", "/v1/domains", Some(json!({"hostname": "SCIM.Acme.test", "organization_id": dir.org})));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let get = |d: &Dir, host: &str| {
        let url = format!("https://{host}/scim/v2/{}/Users", d.id);
        app.raw("GET", &url, vec![("authorization".into(), format!("Bearer {}", d.token))], vec![]).0
    };
    assert_eq!(get(&dir, "scim.acme.test").status, 200);
    assert_eq!(get(&other, "scim.acme.test").status, 404);
    assert_eq!(get(&other, "unmapped.example").status, 404);
    // The management API answers only on the default hostnames.
    let api = app.raw("GET", "https://scim.acme.test/v1/organizations", vec![("authorization".into(), format!("Bearer {}", support::ADMIN))], vec![]).0;
    assert_eq!(api.status, 404);
    let ok = app.raw("GET", &format!("{ORIGIN}/v1/organizations"), vec![("authorization".into(), format!("Bearer {}", support::ADMIN))], vec![]).0;
    assert_eq!(ok.status, 200);
}

#[test]
fn inactive_users_stay_readable_filterable_and_keep_memberships() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let id = user(&app, &dir, "gone@x.io");
    app.scim(&dir, "POST", "/Groups", Some(json!({"displayName": "Team", "members": [{"value": id}]})));
    let off = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    assert_eq!(app.scim(&dir, "PATCH", &format!("/Users/{id}"), Some(off)).status, 200);
    let found = app.scim(&dir, "GET", "/Users?filter=userName+eq+%22GONE%40x.io%22", None);
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["active"], false);
    assert_eq!(found.body["Resources"][0]["groups"][0]["display"], "Team");
    let inactive = app.scim(&dir, "GET", "/Users?filter=active+eq+false", None);
    assert_eq!(inactive.body["totalResults"], 1);
}

#[test]
fn token_rotation_allows_two_live_tokens() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let second = app.admin("POST", &format!("/v1/directories/{}/tokens", dir.id), None);
    assert_eq!(second.status, 201);
    let third = app.admin("POST", &format!("/v1/directories/{}/tokens", dir.id), None);
    assert_eq!(third.status, 409);
    let new = Dir { token: second.body["token"].as_str().unwrap().into(), id: dir.id.clone(), org: dir.org.clone(), base: dir.base.clone() };
    assert_eq!(app.scim(&new, "GET", "/Users", None).status, 200);
    assert_eq!(app.scim(&dir, "GET", "/Users", None).status, 200);
    let tokens = app.admin("GET", &format!("/v1/directories/{}/tokens", dir.id), None).body;
    let old_id = tokens["data"].as_array().unwrap().iter().find(|t| t["id"] != second.body["id"]).unwrap()["id"].as_str().unwrap().to_string();
    assert!(tokens["data"][0]["last_used_at"].is_string());
    assert_eq!(app.admin("DELETE", &format!("/v1/directories/{}/tokens/{old_id}", dir.id), None).status, 204);
    assert_eq!(app.scim(&dir, "GET", "/Users", None).status, 401);
    assert_eq!(app.scim(&new, "GET", "/Users", None).status, 200);
}

#[test]
fn a_warm_isolate_still_checks_every_create_credential() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let other = app.new_directory("okta");
    // Warm: the directory's organisation is now known, creates take one round
    // trip on one database. On separate databases the credential check cannot
    // travel in the data write: it runs first on control, then the create.
    user(&app, &dir, "warm@x.io");
    let calls = if support::split_databases() { "2" } else { "1" };
    let one = app.scim(&dir, "POST", "/Users", Some(json!({"userName": "fast@x.io"})));
    assert_eq!((one.status, one.header("x-rollcall-d1-calls")), (201, Some(calls)));
    let g = app.scim(&dir, "POST", "/Groups", Some(json!({"displayName": "Fast"})));
    assert_eq!((g.status, g.header("x-rollcall-d1-calls")), (201, Some(calls)));
    let forged = Dir { token: other.token.clone(), id: dir.id.clone(), org: dir.org.clone(), base: dir.base.clone() };
    assert_scim_error(&app.scim(&forged, "POST", "/Users", Some(json!({"userName": "evil@x.io"}))), 401, None);
    assert_scim_error(&app.scim(&forged, "POST", "/Groups", Some(json!({"displayName": "Evil"}))), 401, None);
    let dup = app.scim(&dir, "POST", "/Users", Some(json!({"userName": "FAST@x.io"})));
    assert_scim_error(&dup, 409, Some("uniqueness"));
    assert_eq!(app.scim(&dir, "GET", "/Users", None).body["totalResults"], 2);
    let wrong_host = app
        .raw(
            "POST",
            &format!("https://elsewhere.test/scim/v2/{}/Users", dir.id),
            vec![("authorization".into(), format!("Bearer {}", dir.token))],
            json!({"userName": "h@x.io"}).to_string().into_bytes(),
        )
        .0;
    assert_eq!(wrong_host.status, 404);
    assert_eq!(app.admin("DELETE", &format!("/v1/directories/{}", dir.id), None).status, 202);
    assert_eq!(app.scim(&dir, "POST", "/Users", Some(json!({"userName": "late@x.io"}))).status, 401);
}

#[test]
fn endpoint_names_match_in_any_case() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let id = user(&app, &dir, "case@x.io");
    assert_eq!(app.scim(&dir, "GET", &format!("/users/{id}"), None).status, 200);
    assert_eq!(app.scim(&dir, "GET", "/serviceproviderconfig", None).status, 200);
    assert_eq!(app.scim(&dir, "GET", "/GROUPS", None).status, 200);
}

#[test]
fn paging_on_continues_after_the_last_page_and_still_counts_from_the_start() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let ids: Vec<String> = (0..10).map(|i| user(&app, &dir, &format!("p{i}@x.io"))).collect();
    let page = |start: usize| -> Vec<String> {
        let r = app.scim(&dir, "GET", &format!("/Users?startIndex={start}&count=4"), None);
        assert!(r.body["totalResults"].as_u64().unwrap() >= 10);
        r.body["Resources"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()).collect()
    };
    // In order: each page continues after the previous one.
    let all: Vec<String> = [1, 5, 9].iter().flat_map(|s| page(*s)).collect();
    assert_eq!(all, ids);
    // Out of order (no remembered end): plain positions, the same pages.
    assert_eq!(page(5), ids[4..8].to_vec());
    // A user created meanwhile gets a larger id: the next page is unchanged.
    let first = page(1);
    user(&app, &dir, "late@x.io");
    assert_eq!(first, ids[..4].to_vec());
    assert_eq!(page(5), ids[4..8].to_vec());
}

#[test]
fn a_group_patch_answers_204_unless_it_asks_for_a_projection_and_a_user_patch_200() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let a = user(&app, &dir, "a204@x.io");
    let b = user(&app, &dir, "b204@x.io");
    let g = app.scim(&dir, "POST", "/Groups", Some(json!({"displayName": "G204", "members": [{"value": a}]})));
    let gid = g.body["id"].as_str().unwrap();
    let add = |who: &str| json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": who}]}]});
    // As Okta and Entra send it: no projection named, so no body (and no member list read).
    let r = app.scim(&dir, "PATCH", &format!("/Groups/{gid}"), Some(add(&b)));
    assert_eq!(r.status, 204);
    assert!(r.raw.body.is_empty());
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    // A PATCH that changes nothing is a 204 too, with the unchanged version.
    let r = app.scim(&dir, "PATCH", &format!("/Groups/{gid}"), Some(add(&b)));
    assert_eq!((r.status, r.header("etag")), (204, Some("W/\"2\"")));
    // Naming a projection asks for the resource.
    let r = app.scim(&dir, "PATCH", &format!("/Groups/{gid}?excludedAttributes=members"), Some(add(&a)));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["displayName"], "G204");
    assert!(r.body.get("members").is_none());
    let r = app.scim(&dir, "PATCH", &format!("/Groups/{gid}?attributes=members"), Some(add(&a)));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
    // PUT and user PATCH keep answering the resource.
    let r = app.scim(&dir, "PUT", &format!("/Groups/{gid}"), Some(json!({"displayName": "G204", "members": [{"value": a}]})));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    let r =
        app.scim(&dir, "PATCH", &format!("/Users/{a}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "T"}]})));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["title"], "T");
}
