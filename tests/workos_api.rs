//! The WorkOS Directory Sync API at the root paths (README § Moving from
//! WorkOS): the routes, parameters, object shapes, list envelope, `order`
//! and cursor semantics and error shapes WorkOS's official SDKs rely on,
//! natively through the whole app on SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use support::{App, Dir, ADMIN, ORIGIN};

fn ids(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
}

/// Owned ids, to compare with what a list answered.
fn v(xs: &[&String]) -> Vec<String> {
    xs.iter().map(|x| x.to_string()).collect()
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// `v` has exactly these (space-separated) keys.
fn assert_keys(v: &Value, want: &str) {
    assert_eq!(keys(v), want.split_whitespace().collect::<BTreeSet<_>>(), "{v}");
}

/// Pages `path` (which has a query string) with `limit=2`, following the
/// `list_metadata` cursor `cursor` by passing it as that parameter, to the
/// end; every page but the last is full.
fn walk(app: &App, path: &str, cursor: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at: Option<String> = None;
    for _ in 0..50 {
        let q = match &at {
            Some(c) => format!("{path}&limit=2&{cursor}={c}"),
            None => format!("{path}&limit=2"),
        };
        let r = app.admin("GET", &q, None);
        assert_eq!(r.status, 200, "{q}: {:?}", r.body);
        assert_eq!(r.body["object"], "list");
        let page = ids(&r.body);
        out.extend(page.iter().cloned());
        match r.body["list_metadata"][cursor].as_str() {
            Some(c) => {
                assert_eq!(page.len(), 2, "{q}: a page with a next cursor is full");
                at = Some(c.to_string());
            }
            None => return out,
        }
    }
    panic!("too many pages")
}

fn new_org(app: &App, name: &str) -> String {
    let r = app.admin("POST", "/organizations", Some(json!({"name": name})));
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn new_directory(app: &App, org: &str, name: &str, provider: &str) -> Dir {
    let d = app.admin("POST", "/v1/directories", Some(json!({"organization_id": org, "name": name, "provider": provider})));
    assert_eq!(d.status, 201, "{:?}", d.body);
    Dir {
        id: d.body["id"].as_str().unwrap().into(),
        org: org.into(),
        token: d.body["scim"]["bearer_token"].as_str().unwrap().into(),
        base: d.body["scim"]["base_url"].as_str().unwrap().into(),
    }
}

fn scim_user(app: &App, dir: &Dir, n: usize) -> String {
    let r = app.scim(
        dir,
        "POST",
        "/Users",
        Some(json!({
            "userName": format!("user{n}@example.com"), "externalId": format!("ext-{n}"), "active": true,
            "name": {"givenName": format!("Given{n}"), "familyName": "Family"},
            "emails": [{"value": format!("User{n}@Example.com"), "type": "work", "primary": true}, {"value": format!("home{n}@example.org"), "type": "home"}],
            "title": "Guide",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tours"}
        })),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn scim_group(app: &App, dir: &Dir, name: &str, members: &[String]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let r = app.scim(dir, "POST", "/Groups", Some(json!({"displayName": name, "externalId": format!("gx-{name}"), "members": members})));
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn assert_workos_error(r: &support::Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["code"], code, "{:?}", r.body);
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{:?}", r.body);
    assert!(r.body.get("error").is_none(), "an `error` key would read as an OAuth error to the Node SDK: {:?}", r.body);
}

#[test]
fn directories_in_workos_shape_with_organization_search_and_state() {
    let app = App::new();
    let (a, b) = (new_org(&app, "A"), new_org(&app, "B"));
    let okta = new_directory(&app, &a, "Alpha Okta", "okta");
    let entra = new_directory(&app, &a, "Beta 100%_Entra", "entra_id");
    let other = new_directory(&app, &b, "Gamma", "jumpcloud");

    let d = app.admin("GET", &format!("/directories/{}", okta.id), None);
    assert_eq!(d.status, 200);
    assert_keys(&d.body, "object id organization_id external_key name domain domains type state created_at updated_at provider user_count group_count");
    assert_eq!(d.body["object"], "directory");
    assert_eq!(d.body["organization_id"], a.as_str());
    assert_eq!(d.body["external_key"], okta.id.as_str());
    assert_eq!(d.body["type"], "okta scim v2.0");
    assert_eq!(d.body["provider"], "okta");
    assert_eq!(d.body["state"], "unlinked", "no SCIM request yet: WorkOS's unlinked");
    assert!(d.body["domain"].is_null());
    // /v1 says Rollcall's own state.
    assert_eq!(app.admin("GET", &format!("/v1/directories/{}", okta.id), None).body["state"], "pending");

    // The first SCIM request links the directory.
    assert_eq!(app.scim(&okta, "GET", "/Users", None).status, 200);
    assert_eq!(app.admin("GET", &format!("/directories/{}", okta.id), None).body["state"], "linked");

    // Newest first by default; organization_id and search narrow.
    assert_eq!(ids(&app.admin("GET", "/directories?", None).body), v(&[&other.id, &entra.id, &okta.id]));
    assert_eq!(ids(&app.admin("GET", &format!("/directories?organization_id={a}"), None).body), v(&[&entra.id, &okta.id]));
    let types: Vec<Value> = app.admin("GET", &format!("/directories?organization_id={a}&order=asc"), None).body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].clone())
        .collect();
    assert_eq!(types, [json!("okta scim v2.0"), json!("azure scim v2.0")]);
    assert_eq!(ids(&app.admin("GET", "/directories?search=alpha", None).body), v(&[&okta.id]));
    assert_eq!(ids(&app.admin("GET", "/directories?search=100%25_", None).body), v(&[&entra.id]), "LIKE wildcards in search are literal");
    assert_eq!(ids(&app.admin("GET", "/directories?search=%25_E", None).body), v(&[&entra.id]));
    assert!(ids(&app.admin("GET", "/directories?search=%25a_p", None).body).is_empty());
    assert!(ids(&app.admin("GET", &format!("/directories?organization_id={b}&search=alpha"), None).body).is_empty());
    // Longer than D1 runs as a LIKE pattern (50 bytes): found, not a 500.
    let long = new_directory(&app, &b, &"Gamma Long Directory Name ".repeat(3), "generic");
    let search = "long directory name gamma long directory name gamma LONG";
    assert_eq!(ids(&app.admin("GET", &format!("/directories?search={}", search.replace(' ', "+")), None).body), v(&[&long.id]));
    assert!(ids(&app.admin("GET", &format!("/organizations?search={}", "x".repeat(60)), None).body).is_empty());
    assert_workos_error(&app.admin("GET", "/directories?domain=example.com", None), 422, "invalid_request_parameters");

    // Delete: accepted, then deleting; an unknown id is WorkOS's not found.
    assert_eq!(app.admin("DELETE", &format!("/directories/{}", entra.id), None).status, 202);
    assert_eq!(app.admin("GET", &format!("/directories/{}", entra.id), None).body["state"], "deleting");
    assert_workos_error(&app.admin("GET", "/directories/directory_nope", None), 404, "entity_not_found");
    assert_workos_error(&app.admin("DELETE", "/directories/directory_nope", None), 404, "entity_not_found");
    // Creating a directory and its tokens stay on /v1: WorkOS has no such route.
    let create = app.admin("POST", "/directories", Some(json!({"organization_id": a, "name": "X", "provider": "okta"})));
    assert_workos_error(&create, 405, "method_not_allowed");
    assert_eq!(create.raw.get_header("allow"), Some("GET"));
    assert_workos_error(&app.admin("GET", &format!("/directories/{}/tokens", okta.id), None), 404, "entity_not_found");
}

#[test]
fn lists_page_to_the_end_in_every_order() {
    let app = App::new();
    let org = new_org(&app, "A");
    let made: Vec<String> = (0..5).map(|i| new_directory(&app, &org, &format!("D{i}"), "generic").id).collect();
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    let path = format!("/directories?organization_id={org}");

    // desc (the default, and what the SDKs send): `after` is the next, older page.
    assert_eq!(walk(&app, &path, "after"), newest_first);
    assert_eq!(walk(&app, &format!("{path}&order=desc"), "after"), newest_first);
    // asc: oldest first, `after` the next, newer page.
    assert_eq!(walk(&app, &format!("{path}&order=asc"), "after"), made);
    // normal: newest first, but `before` is the older page.
    assert_eq!(walk(&app, &format!("{path}&order=normal"), "before"), newest_first);
    let first = app.admin("GET", &format!("{path}&order=normal&limit=2"), None).body;
    assert!(first["list_metadata"]["after"].is_null(), "nothing is newer than the first page");

    // `before` walks back from the end, in the list's own order.
    let last = app.admin("GET", &format!("{path}&limit=2&after={}", made[1]), None).body;
    assert_eq!(ids(&last), v(&[&made[0]]));
    assert!(last["list_metadata"]["after"].is_null());
    assert_eq!(last["list_metadata"]["before"], made[0].as_str());
    let back = app.admin("GET", &format!("{path}&limit=2&before={}", made[0]), None).body;
    assert_eq!(ids(&back), v(&[&made[2], &made[1]]));
    assert_eq!(back["list_metadata"]["before"], made[2].as_str(), "newer ones remain");
    assert_eq!(back["list_metadata"]["after"], made[1].as_str());
    let asc_back = app.admin("GET", &format!("{path}&order=asc&limit=2&before={}", made[4]), None).body;
    assert_eq!(ids(&asc_back), v(&[&made[2], &made[3]]));
    // normal: `after` is the newer side.
    let newer = app.admin("GET", &format!("{path}&order=normal&limit=2&after={}", made[0]), None).body;
    assert_eq!(ids(&newer), v(&[&made[2], &made[1]]));
    assert_eq!(newer["list_metadata"]["after"], made[2].as_str());
    assert_eq!(newer["list_metadata"]["before"], made[1].as_str());

    // Limits: 10 by default, 1 to 100.
    for i in 5..12 {
        new_directory(&app, &org, &format!("D{i}"), "generic");
    }
    assert_eq!(ids(&app.admin("GET", &path, None).body).len(), 10);
    assert_eq!(ids(&app.admin("GET", &format!("{path}&limit=100"), None).body).len(), 12);
    for bad in ["limit=0", "limit=101", "limit=x", "order=sideways", "after=a&before=b"] {
        assert_workos_error(&app.admin("GET", &format!("{path}&{bad}"), None), 422, "invalid_request_parameters");
    }
    // Organisations page the same way.
    let orgs: Vec<String> = (0..3).map(|i| new_org(&app, &format!("P{i}"))).collect();
    let all_orgs = walk(&app, "/organizations?order=asc", "after");
    assert_eq!(all_orgs[1..], orgs[..]);
}

#[test]
fn users_and_groups_with_filters_paging_and_the_sdk_shapes() {
    let app = App::new();
    let org = new_org(&app, "A");
    let dir = new_directory(&app, &org, "D", "okta");
    let other = new_directory(&app, &org, "E", "okta");
    let users: Vec<String> = (0..5).map(|n| scim_user(&app, &dir, n)).collect();
    let stranger = scim_user(&app, &other, 9);
    let guides = scim_group(&app, &dir, "Guides", &users[..3]);
    let admins = scim_group(&app, &dir, "Admins", &users[1..2]);
    scim_group(&app, &other, "Elsewhere", std::slice::from_ref(&stranger));

    let u = app.admin("GET", &format!("/directory_users/{}", users[1]), None);
    assert_eq!(u.status, 200);
    assert_keys(&u.body, "object id directory_id organization_id idp_id username email first_name last_name display_name state emails custom_attributes raw_attributes version created_at updated_at groups");
    assert_eq!(u.body["object"], "directory_user");
    assert_eq!(u.body["directory_id"], dir.id.as_str());
    assert_eq!(u.body["organization_id"], org.as_str());
    assert_eq!(u.body["idp_id"], "ext-1");
    assert_eq!(u.body["email"], "User1@Example.com");
    assert_eq!(u.body["username"], "user1@example.com");
    assert_eq!((u.body["first_name"].as_str(), u.body["last_name"].as_str()), (Some("Given1"), Some("Family")));
    assert_eq!(u.body["state"], "active");
    assert_eq!(u.body["emails"][0], json!({"primary": true, "type": "work", "value": "User1@Example.com"}));
    assert_eq!(u.body["custom_attributes"], json!({"department": "Tours", "job_title": "Guide"}));
    assert_eq!(u.body["raw_attributes"]["userName"], "user1@example.com");
    // groups[] are whole directory_group objects, as the SDKs parse them.
    let groups = u.body["groups"].as_array().unwrap();
    assert_eq!(groups.iter().map(|g| g["id"].as_str().unwrap()).collect::<Vec<_>>(), [guides.as_str(), admins.as_str()]);
    let group_keys = "object id idp_id directory_id organization_id name raw_attributes created_at updated_at";
    for g in groups {
        assert_keys(g, group_keys);
    }
    assert_eq!(groups[0]["object"], "directory_group");
    assert_eq!(groups[0]["idp_id"], "gx-Guides");
    assert_eq!(groups[0]["organization_id"], org.as_str());

    let g = app.admin("GET", &format!("/directory_groups/{guides}"), None);
    assert_keys(&g.body, group_keys);
    assert_eq!((g.body["name"].as_str(), g.body["directory_id"].as_str()), (Some("Guides"), Some(dir.id.as_str())));

    // Users: of a directory, of a group, newest first by default, limit=2 to the end both ways.
    let newest_first: Vec<String> = users.iter().rev().cloned().collect();
    assert_eq!(walk(&app, &format!("/directory_users?directory={}", dir.id), "after"), newest_first);
    assert_eq!(walk(&app, &format!("/directory_users?directory={}&order=asc", dir.id), "after"), users);
    assert_eq!(walk(&app, &format!("/directory_users?group={guides}"), "after"), v(&[&users[2], &users[1], &users[0]]));
    assert_eq!(walk(&app, &format!("/directory_users?group={guides}&order=asc"), "after"), users[..3]);
    // idp_id and email narrow a directory's users (email: any of theirs, any case).
    assert_eq!(ids(&app.admin("GET", &format!("/directory_users?directory={}&idp_id=ext-3", dir.id), None).body), v(&[&users[3]]));
    assert_eq!(ids(&app.admin("GET", &format!("/directory_users?directory={}&email=user4@example.COM", dir.id), None).body), v(&[&users[4]]));
    assert_eq!(ids(&app.admin("GET", &format!("/directory_users?directory={}&email=home2@example.org", dir.id), None).body), v(&[&users[2]]));
    assert!(ids(&app.admin("GET", &format!("/directory_users?directory={}&idp_id=ext-9", dir.id), None).body).is_empty());
    assert!(ids(&app.admin("GET", &format!("/directory_users?directory={}&idp_id=ext-3&email=user4@example.com", dir.id), None).body).is_empty());
    assert_workos_error(&app.admin("GET", &format!("/directory_users?group={guides}&idp_id=ext-1"), None), 422, "invalid_request_parameters");
    assert_workos_error(&app.admin("GET", "/directory_users", None), 422, "invalid_request_parameters");

    // Groups: of a directory, of a user.
    assert_eq!(walk(&app, &format!("/directory_groups?directory={}", dir.id), "after"), v(&[&admins, &guides]));
    assert_eq!(walk(&app, &format!("/directory_groups?user={}&order=asc", users[1]), "after"), v(&[&guides, &admins]));
    assert!(ids(&app.admin("GET", &format!("/directory_groups?user={}", users[4]), None).body).is_empty());
    assert_workos_error(&app.admin("GET", "/directory_groups", None), 422, "invalid_request_parameters");

    // /v1's own parameter names still work.
    assert_eq!(walk(&app, &format!("/v1/directory_users?group_id={guides}"), "after"), users[..3]);
    assert_eq!(ids(&app.admin("GET", &format!("/v1/directory_groups?user_id={}", users[1]), None).body), v(&[&guides, &admins]));

    // Unknown ids: WorkOS's not found, which the SDKs raise as NotFound.
    assert_workos_error(&app.admin("GET", "/directory_users/directory_user_nope", None), 404, "entity_not_found");
    assert_workos_error(&app.admin("GET", "/directory_groups/directory_group_nope", None), 404, "entity_not_found");
}

#[test]
fn events_in_workos_shape_with_types_organization_cursor_and_range() {
    let app = App::new();
    let (a, b) = (new_org(&app, "A"), new_org(&app, "B"));
    let dir = new_directory(&app, &a, "D", "okta");
    let elsewhere = new_directory(&app, &b, "E", "okta");
    let users: Vec<String> = (0..3).map(|n| scim_user(&app, &dir, n)).collect();
    scim_user(&app, &elsewhere, 7);
    app.advance(60_000);
    let later = rollcall::support::time::Millis(app.clock.get()).to_rfc3339();
    let late_users: Vec<String> = (3..5).map(|n| scim_user(&app, &dir, n)).collect();
    let group = scim_group(&app, &dir, "G", &users[..1]);

    let page = app.admin("GET", "/events?events=dsync.user.created&limit=2", None).body;
    let e = &page["data"][0];
    assert_keys(e, "object id event data created_at directory_id organization_id sequence");
    assert_eq!((e["object"].as_str(), e["event"].as_str()), (Some("event"), Some("dsync.user.created")));
    assert_eq!(e["data"]["object"], "directory_user");
    assert_eq!(e["data"]["id"], users[0].as_str());

    // One type, oldest first, paged with after to the end, whatever order says.
    let created = |q: &str| -> Vec<String> {
        let found = walk(&app, &format!("/events?events=dsync.user.created{q}"), "after");
        let mut who = Vec::new();
        for id in found {
            let all = app.admin("GET", &format!("/v1/events/{id}"), None).body;
            who.push(all["data"]["id"].as_str().unwrap().to_string());
        }
        who
    };
    let mut in_a: Vec<String> = users.clone();
    in_a.extend(late_users.iter().cloned());
    assert_eq!(created(&format!("&organization_id={a}")), in_a);
    assert_eq!(created(&format!("&organization_id={a}&order=desc")), in_a, "the log is read forwards: order does not turn it");
    assert_eq!(created("").len(), 6);
    // range_start / range_end: at or after, and before.
    assert_eq!(created(&format!("&organization_id={a}&range_start={later}")), late_users);
    assert_eq!(created(&format!("&organization_id={a}&range_end={later}")), users);
    assert_eq!(created(&format!("&range_start={}", later.replace(".000Z", "+00:00"))), late_users);

    // Several types, as a comma list (Python, Node) or repeated.
    let kinds = |q: &str| -> Vec<String> {
        app.admin("GET", &format!("/events?organization_id={a}&limit=100&{q}"), None).body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect()
    };
    let want = ["dsync.group.created", "dsync.group.user_added"];
    assert_eq!(kinds("events=dsync.group.created,dsync.group.user_added"), want);
    assert_eq!(kinds("events=dsync.group.created&events=dsync.group.user_added"), want);
    let added = app.admin("GET", &format!("/events?organization_id={a}&events=dsync.group.user_added"), None).body;
    assert_eq!(added["data"][0]["data"]["group"]["id"], group.as_str());
    assert_eq!(added["data"][0]["data"]["user"]["id"], users[0].as_str());
    assert_eq!(added["data"][0]["data"]["directory_id"], dir.id.as_str());
    assert_eq!(kinds("events=dsync.activated"), ["dsync.activated"]);
    let activated = app.admin("GET", &format!("/events?organization_id={a}&events=dsync.activated"), None).body;
    assert_eq!(activated["data"][0]["data"]["type"], "okta scim v2.0");
    assert_eq!(activated["data"][0]["data"]["state"], "linked");

    for bad in ["events=dsync.nope", "before=event_x", "range_start=yesterday", "range_end=2026-13-01", "limit=0", "order=sideways"] {
        assert_workos_error(&app.admin("GET", &format!("/events?{bad}"), None), 422, "invalid_request_parameters");
    }
    // Single events and redelivery stay on /v1.
    assert_workos_error(&app.admin("GET", &format!("/events/{}", e["id"].as_str().unwrap()), None), 404, "entity_not_found");
}

#[test]
fn organizations_in_workos_shape() {
    let app = App::new();
    let r = app.admin("POST", "/organizations", Some(json!({"name": "Acme", "external_id": "acme-1", "domain_data": [], "metadata": {}})));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_keys(&r.body, "object id name external_id domains metadata allow_profiles_outside_organization created_at updated_at");
    assert_eq!((r.body["object"].as_str(), r.body["name"].as_str(), r.body["external_id"].as_str()), (Some("organization"), Some("Acme"), Some("acme-1")));
    assert_eq!((r.body["domains"].clone(), r.body["metadata"].clone()), (json!([]), json!({})));
    let id = r.body["id"].as_str().unwrap().to_string();

    // Hostnames are Rollcall's `domains` on /v1 only.
    assert_eq!(app.admin("POST", "/v1/domains", Some(json!({"hostname": "scim.acme.test", "organization_id": id}))).status, 201);
    assert_eq!(app.admin("GET", &format!("/v1/organizations/{id}"), None).body["domains"], json!(["scim.acme.test"]));
    assert_eq!(app.admin("GET", &format!("/organizations/{id}"), None).body["domains"], json!([]));
    assert_eq!(app.admin("GET", "/organizations/external_id/acme-1", None).body["id"], id.as_str());
    assert_workos_error(&app.admin("GET", "/organizations/external_id/nope", None), 404, "entity_not_found");

    let up = app.admin("PUT", &format!("/organizations/{id}"), Some(json!({"name": "Acme Tours"})));
    assert_eq!((up.status, up.body["name"].as_str(), up.body["external_id"].as_str()), (200, Some("Acme Tours"), Some("acme-1")));
    new_org(&app, "Other");
    assert_eq!(ids(&app.admin("GET", "/organizations?search=TOURS", None).body), v(&[&id]));
    assert_workos_error(&app.admin("GET", "/organizations?domains=acme.com", None), 422, "invalid_request_parameters");

    // What Rollcall does not keep is refused, not dropped.
    for body in [
        json!({"name": "X", "domain_data": [{"domain": "x.com", "state": "verified"}]}),
        json!({"name": "X", "domains": ["x.com"]}),
        json!({"name": "X", "metadata": {"k": "v"}}),
    ] {
        assert_workos_error(&app.admin("POST", "/organizations", Some(body.clone())), 422, "invalid_request_parameters");
        assert_workos_error(&app.admin("PUT", &format!("/organizations/{id}"), Some(body)), 422, "invalid_request_parameters");
    }
    assert_workos_error(&app.admin("POST", "/organizations", Some(json!({}))), 422, "invalid_request_parameters");
    let dup = app.admin("POST", "/organizations", Some(json!({"name": "Y", "external_id": "acme-1"})));
    assert_eq!((dup.status, dup.body["code"].as_str()), (409, Some("conflict")));

    app.admin("DELETE", "/v1/domains/scim.acme.test", None);
    assert_eq!(app.admin("DELETE", &format!("/organizations/{id}"), None).status, 204);
    assert_workos_error(&app.admin("GET", &format!("/organizations/{id}"), None), 404, "entity_not_found");
    assert_workos_error(&app.admin("PUT", &format!("/organizations/{id}"), Some(json!({"name": "Z"}))), 404, "entity_not_found");
}

#[test]
fn authentication_and_error_shapes() {
    let app = App::new();
    let url = format!("{ORIGIN}/directories");
    for headers in [vec![], vec![("authorization".to_string(), "Bearer wrong".to_string())], vec![("authorization".to_string(), format!("Basic {ADMIN}"))]] {
        let (r, _) = app.raw("GET", &url, headers, vec![]);
        assert_workos_error(&r, 401, "unauthorized");
    }
    let (bad_json, _) = app.raw("POST", &format!("{ORIGIN}/organizations"), vec![("authorization".into(), format!("Bearer {ADMIN}"))], b"{".to_vec());
    assert_workos_error(&bad_json, 400, "invalid_json");
    assert!(bad_json.body["errors"].as_array().is_some_and(|e| !e.is_empty()), "the Node SDK reads a 400 with code and errors as a bad request");
    // /v1 keeps its own error shape.
    let (v1, _) = app.raw("GET", &format!("{ORIGIN}/v1/directories"), vec![], vec![]);
    assert_eq!((v1.status, v1.body["error"]["code"].as_str()), (401, Some("unauthorized")));
    // The WorkOS routes are on the default hostnames only, and only WorkOS's.
    let whitelabel = app.raw("GET", "https://scim.acme.test/directories", vec![("authorization".into(), format!("Bearer {ADMIN}"))], vec![]).0;
    assert_eq!(whitelabel.status, 404);
    for path in ["/domains", "/directories/x/tokens", "/webhook_endpoints/x/deliveries"] {
        assert_eq!(app.admin("GET", path, None).status, 404, "{path}");
    }
}

#[test]
fn webhook_endpoints_in_workos_shape() {
    let app = App::new();
    let url = "http://127.0.0.1:9/hook";
    let made = app.admin("POST", "/webhook_endpoints", Some(json!({"endpoint_url": url, "events": ["dsync.user.created"]})));
    assert_eq!(made.status, 201, "{:?}", made.body);
    assert_keys(&made.body, "object id endpoint_url secret status events created_at updated_at");
    assert_eq!(
        (made.body["object"].as_str(), made.body["endpoint_url"].as_str(), made.body["status"].as_str()),
        (Some("webhook_endpoint"), Some(url), Some("enabled"))
    );
    assert_eq!(made.body["events"], json!(["dsync.user.created"]));
    let secret = made.body["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret.len() > 20);
    let id = made.body["id"].as_str().unwrap();
    // Every other answer has the field the SDKs require, blank.
    let list = app.admin("GET", "/webhook_endpoints", None);
    assert_eq!((list.status, list.body["object"].as_str()), (200, Some("list")), "{:?}", list.body);
    assert_eq!(ids(&list.body), vec![id.to_string()]);
    assert_keys(&list.body["data"][0], "object id endpoint_url secret status events created_at updated_at");
    assert_eq!(list.body["data"][0]["secret"], "");
    assert!(!list.body.to_string().contains(secret));
    // PATCH with WorkOS's field names.
    let path = format!("/webhook_endpoints/{id}");
    let moved = app.admin(
        "PATCH",
        &path,
        Some(json!({"endpoint_url": "http://127.0.0.1:10/h", "status": "disabled", "events": ["dsync.user.updated", "dsync.deleted"]})),
    );
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(
        (moved.body["endpoint_url"].as_str(), moved.body["status"].as_str(), moved.body["secret"].as_str()),
        (Some("http://127.0.0.1:10/h"), Some("disabled"), Some(""))
    );
    assert_eq!(moved.body["events"], json!(["dsync.user.updated", "dsync.deleted"]));
    assert_eq!(app.admin("PATCH", &path, Some(json!({"status": "enabled"}))).body["status"], "enabled");
    // /v1 sees the same endpoint in its own shape.
    let v1 = app.admin("GET", &format!("/v1{path}"), None);
    assert_eq!((v1.body["url"].as_str(), v1.body["state"].as_str()), (Some("http://127.0.0.1:10/h"), Some("enabled")));
    // Errors in WorkOS's shape, with its field names.
    assert_workos_error(&app.admin("PATCH", &path, Some(json!({"status": "paused"}))), 422, "invalid_request_parameters");
    let bad = app.admin("POST", "/webhook_endpoints", Some(json!({"events": ["dsync.user.created"]})));
    assert_workos_error(&bad, 422, "invalid_request_parameters");
    assert!(bad.body["message"].as_str().unwrap().contains("endpoint_url"), "{:?}", bad.body);
    assert_workos_error(
        &app.admin("POST", "/webhook_endpoints", Some(json!({"endpoint_url": url, "events": ["user.created"]}))),
        422,
        "invalid_request_parameters",
    );
    // An endpoint of every event (made on /v1) lists every event name.
    let all = app.admin("POST", "/v1/webhook_endpoints", Some(json!({"url": url})));
    let got = app.admin("GET", &format!("/webhook_endpoints/{}", all.body["id"].as_str().unwrap()), None);
    assert_eq!(got.body["events"].as_array().unwrap().len(), rollcall::events::kind::ALL.len());
    assert_eq!(app.admin("DELETE", &path, None).status, 204);
    assert_workos_error(&app.admin("DELETE", &path, None), 404, "entity_not_found");
    assert_workos_error(&app.admin("PATCH", &path, Some(json!({"status": "enabled"}))), 404, "entity_not_found");
}

/// Every delivery carries `WorkOS-Signature: t=<ms>, v1=<hex>` as WorkOS's
/// SDKs verify it (HMAC-SHA256 of "<t>.<body>" keyed by the secret string),
/// besides the Standard Webhooks headers; the body is the event object.
#[test]
fn deliveries_carry_a_workos_signature() {
    use hmac::{Hmac, Mac};
    use rollcall::app::delivery::{handle_batch, HttpClient, PostResult, QueueMessage, Timeouts};
    use rollcall::storage::sqlite::block_on;
    use rollcall::support::time::Millis;
    use std::cell::RefCell;

    type Post = (Vec<(String, String)>, Vec<u8>);
    struct Capture(i64, RefCell<Vec<Post>>);
    impl HttpClient for Capture {
        fn now(&self) -> Millis {
            Millis(self.0)
        }
        async fn post(&self, _: &str, headers: Vec<(String, String)>, body: Vec<u8>, _: Timeouts) -> PostResult {
            self.1.borrow_mut().push((headers, body));
            PostResult { status: Some(200), duration_ms: 1, ..Default::default() }
        }
    }

    let app = App::new();
    let made = app.admin("POST", "/webhook_endpoints", Some(json!({"endpoint_url": "http://127.0.0.1:9/hook", "events": ["dsync.user.created"]})));
    let secret = made.body["secret"].as_str().unwrap().to_string();
    let dir = app.new_directory("okta");
    let user = scim_user(&app, &dir, 1);
    let event = app.events(&dir).into_iter().find(|e| e["event"] == "dsync.user.created").unwrap();
    let rx = Capture(app.clock.get(), RefCell::new(Vec::new()));
    block_on(handle_batch(&app.svc(), &rx, &[QueueMessage::fan_out(event["id"].as_str().unwrap())]));
    let posts = rx.1.borrow();
    assert_eq!(posts.len(), 1);
    let (headers, body) = &posts[0];
    let header = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
    assert!(header("webhook-signature").is_some_and(|s| s.starts_with("v1,")));
    let sig = header("WorkOS-Signature").expect("a WorkOS-Signature header");
    // As the SDKs parse it: split on ", " into t=… and v1=….
    let (t, v1) = sig.split_once(", ").unwrap();
    let (t, v1) = (t.strip_prefix("t=").unwrap(), v1.strip_prefix("v1=").unwrap());
    assert_eq!(t, rx.0.to_string(), "milliseconds, when the POST started");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let want: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v1, want);
    assert!(!headers.iter().any(|(_, v)| v.contains(&secret)), "the secret is never sent");
    let sent: Value = serde_json::from_slice(body).unwrap();
    assert_eq!((sent["object"].as_str(), sent["id"].as_str(), sent["event"].as_str()), (Some("event"), event["id"].as_str(), Some("dsync.user.created")));
    assert_eq!(sent["data"]["id"].as_str(), Some(user.as_str()));
}

#[test]
fn path_arguments_are_percent_decoded_and_a_wrong_method_is_405_with_allow() {
    let app = App::new();
    let r = app.admin("POST", "/organizations", Some(json!({"name": "Acme EU", "external_id": "Acme EU/1 ü"})));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let found = app.admin("GET", "/organizations/external_id/Acme%20EU%2F1%20%C3%BC", None);
    assert_eq!((found.status, found.body["name"].as_str()), (200, Some("Acme EU")));
    let v1 = app.admin("GET", "/v1/organizations/external_id/Acme%20EU%2F1%20%C3%BC", None);
    assert_eq!(v1.status, 200);
    let wrong = app.admin("DELETE", "/events", None);
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.raw.get_header("allow"), Some("GET"));
    assert_workos_error(&wrong, 405, "method_not_allowed");
    let v1_wrong = app.admin("POST", "/v1/organizations/org_x", None);
    assert_eq!((v1_wrong.status, v1_wrong.raw.get_header("allow")), (405, Some("DELETE, GET, PATCH, PUT")));
    assert_eq!(app.admin("GET", "/nothing_here", None).status, 404);
}
