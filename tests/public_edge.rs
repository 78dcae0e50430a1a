//! The public edge: a caller without a valid credential costs a credential
//! check and nothing more, and every request is bounded. Runs the real SQL on
//! SQLite, recording each D1 batch a request runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use rollcall::app::HttpRequest;
use rollcall::scim::limits::{MAX_MEMBERS_PER_REQUEST, MAX_PATCH_OPERATIONS};
use serde_json::{json, Value};
use support::{App, Batch, Dir, ORIGIN};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn req(method: &str, url: &str, token: &str, body: Vec<u8>, host: Option<&str>) -> HttpRequest {
    let mut headers = vec![("authorization".to_string(), format!("Bearer {token}")), ("content-type".to_string(), "application/scim+json".to_string())];
    if let Some(h) = host {
        headers.push(("host".into(), h.into()));
    }
    HttpRequest::new(method, url, headers, body)
}

/// The batches a refused request may run: the credential guard alone, which
/// fails and so stops its batch before anything else in it runs.
fn assert_only_the_guard_ran(batches: &[Batch]) {
    assert!(batches.len() <= 1, "{batches:#?}");
    for b in batches {
        assert!(b.failed, "a refused credential's batch must stop at the guard: {b:#?}");
        assert!(b.sqls[0].contains("INSERT INTO guard (reason) SELECT 'auth'"), "{b:#?}");
    }
}

fn users(app: &App, dir: &Dir, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let r = app.scim(dir, "POST", "/Users", Some(json!({"userName": format!("u{i}@x.io")})));
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.body["id"].as_str().unwrap().to_string()
        })
        .collect()
}

fn members(ids: impl Iterator<Item = String>) -> Value {
    Value::Array(ids.map(|id| json!({"value": id})).collect())
}

#[test]
fn a_wrong_token_with_twenty_thousand_members_is_refused_by_the_guard_alone() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let ids = members((0..20_000).map(|i| format!("user_{i:032x}")));
    let body = json!({"displayName": "G", "members": ids}).to_string().into_bytes();
    let (r, batches) = app.recorded(req("POST", &format!("{}/Groups", dir.base), "rcs_junk", body, None));
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_only_the_guard_ran(&batches);
    assert!(r.header("x-rollcall-d1-rows-read").is_none(), "no cost headers on a refusal");
}

#[test]
fn a_wrong_token_runs_none_of_the_callers_reads_whatever_the_query() {
    let app = App::new();
    let dir = app.new_directory("okta");
    users(&app, &dir, 3);
    let paths = [
        "/Users?filter=title%20co%20%22x%22&sortBy=name.familyName&count=500",
        "/Users?filter=not%20(((",
        "/Groups?startIndex=99999999999999999999999",
        "/ServiceProviderConfig",
        "/Users/user_0123456789abcdef0123456789abcdef",
        "/NoSuchEndpoint",
    ];
    for path in paths {
        for method in ["GET", "DELETE", "PUT"] {
            let (r, batches) = app.recorded(req(method, &format!("{}{path}", dir.base), "rcs_wrongwrongwrong", b"{not json".to_vec(), None));
            assert_eq!(r.status, 401, "{method} {path}: {:?}", r.body);
            assert_eq!(r.body["status"], "401");
            assert!(r.header("www-authenticate").is_some());
            assert_only_the_guard_ran(&batches);
        }
    }
}

#[test]
fn an_unknown_directory_and_a_wrong_token_get_the_same_answer_on_default_hosts() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let wrong_token = app.recorded(req("GET", &format!("{}/Users", dir.base), "rcs_nope", vec![], None)).0;
    let unknown = app.recorded(req("GET", &format!("{ORIGIN}/scim/v2/directory_0123456789abcdef0123456789abcdef/Users"), &dir.token, vec![], None)).0;
    let (malformed, batches) = app.recorded(req("GET", &format!("{ORIGIN}/scim/v2/not-an-id/Users"), &dir.token, vec![], None));
    let no_token = app.raw("GET", &format!("{}/Users", dir.base), vec![], vec![]).0;
    for r in [&wrong_token, &unknown, &malformed, &no_token] {
        assert_eq!((r.status, &r.body), (401, &wrong_token.body));
    }
    assert!(batches.is_empty(), "a malformed directory id costs no D1 call");
}

#[test]
fn on_a_whitelabel_host_a_foreign_directory_is_404_and_a_wrong_token_401() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let other = app.new_directory("okta");
    assert_eq!(app.admin("POST", "/v1/domains", Some(json!({"hostname": "scim.acme.test", "organization_id": dir.org}))).status, 201);
    let url = |d: &Dir| format!("https://scim.acme.test/scim/v2/{}/Users", d.id);
    assert_eq!(app.recorded(req("GET", &url(&dir), &dir.token, vec![], Some("scim.acme.test"))).0.status, 200);
    assert_eq!(app.recorded(req("GET", &url(&dir), "rcs_wrong", vec![], Some("scim.acme.test"))).0.status, 401);
    assert_eq!(app.recorded(req("GET", &url(&other), &other.token, vec![], Some("scim.acme.test"))).0.status, 404);
    assert_eq!(app.recorded(req("GET", &url(&other), "rcs_wrong", vec![], Some("scim.acme.test"))).0.status, 404);
}

#[test]
fn a_body_past_the_limit_is_401_without_a_token_and_413_with_one() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let mut big = req("POST", &format!("{}/Users", dir.base), "rcs_wrong", b"{\"userName\":".to_vec(), None);
    big.body_too_large = true;
    let (r, batches) = app.recorded(big.clone());
    assert_eq!(r.status, 401);
    assert_only_the_guard_ran(&batches);
    big.headers[0].1 = format!("Bearer {}", dir.token);
    let r = app.recorded(big).0;
    assert_eq!(r.status, 413, "{:?}", r.body);
    assert_eq!(r.body["status"], "413");
    assert_eq!(app.scim(&dir, "GET", "/Users", None).body["totalResults"], 0);
}

#[test]
fn a_known_credential_is_still_checked_by_the_guard_in_front_of_every_read() {
    let app = App::new();
    let dir = app.new_directory("okta");
    users(&app, &dir, 1);
    let (r, batches) = app.recorded(req("GET", &format!("{}/Users?filter=userName%20eq%20%22u0@x.io%22", dir.base), &dir.token, vec![], None));
    assert_eq!(r.status, 200);
    // One round trip on one database; on separate ones the credential check
    // (control) runs first and the read (data) only after it passed.
    assert_eq!(batches.len(), if support::split_databases() { 2 } else { 1 }, "round trips for a read");
    assert!(batches[0].sqls[0].contains("'auth'"));
    // Revoked: the next request with the same token is refused at once.
    let tokens = app.admin("GET", &format!("/v1/directories/{}/tokens", dir.id), None);
    let id = tokens.body["data"][0]["id"].as_str().unwrap().to_string();
    app.admin("POST", &format!("/v1/directories/{}/tokens", dir.id), Some(json!({})));
    assert_eq!(app.admin("DELETE", &format!("/v1/directories/{}/tokens/{id}", dir.id), None).status, 204);
    // The isolate still remembers it passing, so the create is tried as one
    // guarded write: the guard refuses it, and the refusal is told.
    let (r, batches) = app.recorded(req("POST", &format!("{}/Users", dir.base), &dir.token, json!({"userName": "late@x.io"}).to_string().into_bytes(), None));
    assert_eq!(r.status, 401);
    assert!(batches.iter().all(|b| b.failed), "{batches:#?}");
    let (r, batches) = app.recorded(req("POST", &format!("{}/Users", dir.base), &dir.token, json!({"userName": "later@x.io"}).to_string().into_bytes(), None));
    assert_eq!(r.status, 401);
    assert_only_the_guard_ran(&batches);
}

#[test]
fn a_patch_past_a_cap_is_too_many_and_writes_nothing() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let g = app.scim(&dir, "POST", "/Groups", Some(json!({"displayName": "G"})));
    let gid = g.body["id"].as_str().unwrap();
    let before = app.events(&dir).len();
    let ops: Vec<Value> = (0..=MAX_PATCH_OPERATIONS).map(|i| json!({"op": "replace", "path": "displayName", "value": format!("G{i}")})).collect();
    let r = app.scim(&dir, "PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": [PATCH], "Operations": ops})));
    assert_eq!((r.status, r.body["scimType"].as_str()), (400, Some("tooMany")), "{:?}", r.body);
    let ids = members((0..=MAX_MEMBERS_PER_REQUEST).map(|i| format!("user_{i:032x}")));
    let r =
        app.scim(&dir, "PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": ids}]})));
    assert_eq!((r.status, r.body["scimType"].as_str()), (400, Some("tooMany")));
    let r = app.scim(&dir, "PUT", &format!("/Groups/{gid}"), Some(json!({"displayName": "G", "members": ids})));
    assert_eq!((r.status, r.body["scimType"].as_str()), (400, Some("tooMany")));
    assert_eq!(app.events(&dir).len(), before);
    assert_eq!(app.scim(&dir, "GET", &format!("/Groups/{gid}"), None).body["displayName"], "G");
}

#[test]
fn the_largest_requests_the_caps_allow_succeed() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let ids = users(&app, &dir, MAX_MEMBERS_PER_REQUEST);
    let before = app.events(&dir).len();
    let g = app.scim(&dir, "POST", "/Groups", Some(json!({"displayName": "All", "members": members(ids.iter().cloned())})));
    assert_eq!(g.status, 201, "{:?}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_string();
    let g2 = app.scim(&dir, "POST", "/Groups", Some(json!({"displayName": "Ops"})));
    let g2id = g2.body["id"].as_str().unwrap();
    let ops: Vec<Value> = ids.iter().map(|id| json!({"op": "add", "path": "members", "value": [{"value": id}]})).collect();
    assert_eq!(ops.len(), MAX_PATCH_OPERATIONS);
    let r = app.scim(&dir, "PATCH", &format!("/Groups/{g2id}?excludedAttributes=members"), Some(json!({"schemas": [PATCH], "Operations": ops})));
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Larger than one batch: answered at once, its removals told in chunks.
    let r = app.scim(&dir, "PUT", &format!("/Groups/{gid}"), Some(json!({"displayName": "All", "members": []})));
    assert_eq!(r.status, 200);
    assert!(app.run_removals(rollcall::app::fanout::CHUNKS_AFTER_REQUEST) >= 1);
    let names = app.event_names(&dir);
    let added = names[before..].iter().filter(|n| *n == "dsync.group.user_added").count();
    let removed = names[before..].iter().filter(|n| *n == "dsync.group.user_removed").count();
    assert_eq!((added, removed), (2 * MAX_MEMBERS_PER_REQUEST, MAX_MEMBERS_PER_REQUEST));
}

#[test]
fn numbers_are_clamped_never_a_server_error() {
    let app = App::new();
    let dir = app.new_directory("okta");
    users(&app, &dir, 2);
    for q in
        ["startIndex=99999999999999999999999", "startIndex=-99999999999999999999", "startIndex=1e400", "count=1e400", "count=-5", "count=99999999999999999999"]
    {
        let r = app.scim(&dir, "GET", &format!("/Users?{q}"), None);
        assert_eq!(r.status, 200, "{q}: {:?}", r.body);
    }
    let r = app.scim(&dir, "POST", "/Users/.search", Some(json!({"startIndex": 1e300, "count": -1e300})));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.admin("GET", "/v1/organizations?limit=99999999999999999999", None);
    assert!(r.status < 500, "{:?}", r.body);
}

#[test]
fn an_entropy_failure_answers_503_and_makes_nothing() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let state = app.entropy.0.replace(0);
    let r = app.scim(&dir, "POST", "/Users", Some(json!({"userName": "x@x.io"})));
    assert_eq!((r.status, r.body["status"].as_str()), (503, Some("503")));
    let r = app.admin("POST", &format!("/v1/directories/{}/tokens", dir.id), Some(json!({})));
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (503, Some("entropy_unavailable")));
    app.entropy.0.set(state);
    assert_eq!(app.scim(&dir, "GET", "/Users", None).body["totalResults"], 0);
}

#[test]
fn short_keys_are_refused_with_a_clear_error() {
    let mut app = App::new();
    app.cfg.admin_api_key = "0123456789".into();
    let r = app.raw("GET", &format!("{ORIGIN}/v1/organizations"), vec![("authorization".into(), "Bearer 0123456789".into())], vec![]).0;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (500, Some("misconfigured")));
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("ADMIN_API_KEY") && msg.contains("32") && !msg.contains("0123456789"), "{msg}");
}

#[test]
fn webhook_urls_are_https_or_loopback_http_in_development_only() {
    let mut app = App::new();
    let post = |app: &App, url: &str| app.admin("POST", "/v1/webhook_endpoints", Some(json!({"url": url}))).status;
    assert_eq!(post(&app, "https://hooks.example.com/rollcall"), 201);
    assert_eq!(post(&app, "http://127.0.0.1:9000/hook"), 201);
    assert_eq!(post(&app, "http://[::1]:9000/hook"), 201);
    for bad in [
        "http://hooks.example.com/x",
        "http://10.0.0.1/x",
        "http://127.0.0.1.evil.test/x",
        "ftp://x/y",
        "javascript:alert(1)",
        "https://user:pw@x.test/",
        "https:///nohost",
    ] {
        assert_eq!(post(&app, bad), 422, "{bad}");
    }
    app.cfg.allow_http_loopback_webhooks = false;
    assert_eq!(post(&app, "http://127.0.0.1:9000/hook"), 422);
}

#[test]
fn the_token_endpoint_is_scoped_by_host_and_bounded() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let other = app.new_directory("okta");
    app.admin("POST", "/v1/domains", Some(json!({"hostname": "scim.acme.test", "organization_id": dir.org})));
    let client = app.admin("POST", &format!("/v1/directories/{}/tokens", other.id), Some(json!({"type": "oauth_client"})));
    let (id, secret) = (client.body["client_id"].as_str().unwrap(), client.body["client_secret"].as_str().unwrap());
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}").into_bytes();
    let post = |host: &str, body: Vec<u8>| {
        let h = vec![("host".to_string(), host.to_string()), ("content-type".to_string(), "application/x-www-form-urlencoded".to_string())];
        app.raw("POST", &format!("https://{host}/scim/v2/{}/oauth/token", other.id), h, body).0
    };
    assert_eq!(post("rollcall.test", form.clone()).status, 200);
    assert_eq!(post("scim.acme.test", form.clone()).status, 404, "another organisation's directory on this whitelabel host");
    let mut big = form.clone();
    big.extend(std::iter::repeat_n(b'x', rollcall::app::scim::oauth::MAX_BODY_BYTES));
    assert_eq!(post("rollcall.test", big).status, 413);
}
