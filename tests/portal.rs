//! The set-up portal on real SQLite: one-time links, sessions scoped to one
//! organisation and hostname, the page's API, and the request debugger's
//! bounded log that never holds a secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use rollcall::storage::{Db, RowExt, Stmt};
use serde_json::{json, Value};
use support::{App, Dir, Resp, ADMIN, ORIGIN};

/// A browser: the cookie jar of one session.
struct Browser<'a> {
    app: &'a App,
    origin: String,
    host: Option<String>,
    cookie: Option<String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a App) -> Self {
        Browser { app, origin: ORIGIN.into(), host: None, cookie: None }
    }
    fn on_host(app: &'a App, host: &str) -> Self {
        Browser { app, origin: format!("https://{host}"), host: Some(host.into()), cookie: None }
    }
    fn send(&self, method: &str, path: &str, body: Option<Value>, extra: Vec<(String, String)>) -> Resp {
        let mut headers = extra;
        if let Some(c) = &self.cookie {
            headers.push(("cookie".into(), format!("other=1; {c}")));
        }
        if let Some(h) = &self.host {
            headers.push(("host".into(), h.clone()));
        }
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        self.app.raw(method, &format!("{}{path}", self.origin), headers, body.map(|b| b.to_string().into_bytes()).unwrap_or_default()).0
    }
    /// Follows a link and keeps the cookie it sets.
    fn launch(&mut self, link: &str) -> Resp {
        let path = link.split_once("/portal/").map(|(_, p)| format!("/portal/{p}")).unwrap();
        let r = self.send("GET", &path, None, vec![]);
        if let Some(c) = r.raw.get_header("set-cookie") {
            self.cookie = Some(c.split(';').next().unwrap().to_string());
        }
        r
    }
    fn get(&self, path: &str) -> Resp {
        self.send("GET", path, None, vec![])
    }
    /// A call from the page itself (same origin, the portal's header).
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.send(method, path, body, vec![("x-rollcall-portal".into(), "1".into()), ("origin".into(), self.origin.clone())])
    }
}

fn link(app: &App, org: &str) -> String {
    let r = app.admin("POST", "/portal/generate_link", Some(json!({"organization": org, "intent": "dsync"})));
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["link"].as_str().unwrap().to_string()
}

fn signed_in<'a>(app: &'a App, org: &str) -> Browser<'a> {
    let mut b = Browser::new(app);
    assert_eq!(b.launch(&link(app, org)).status, 303);
    b
}

fn rows(app: &App, sql: &str) -> Vec<rollcall::storage::Row> {
    rollcall::storage::sqlite::block_on(app.data_db().batch(vec![Stmt::new(sql, vec![])])).unwrap().remove(0).rows
}

#[test]
fn generate_link_is_the_admins_in_workos_shape() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let no_key =
        app.raw("POST", &format!("{ORIGIN}/portal/generate_link"), vec![], json!({"organization": dir.org, "intent": "dsync"}).to_string().into_bytes()).0;
    assert_eq!(no_key.status, 401);
    assert_eq!(app.admin("POST", "/portal/generate_link", Some(json!({"organization": dir.org, "intent": "sso"}))).status, 422);
    assert_eq!(app.admin("POST", "/portal/generate_link", Some(json!({"intent": "dsync"}))).status, 422);
    let unknown = app.admin("POST", "/portal/generate_link", Some(json!({"organization": "org_nope", "intent": "dsync"})));
    assert_eq!((unknown.status, unknown.body["code"].as_str()), (404, Some("entity_not_found")));
    let l = link(&app, &dir.org);
    assert!(l.starts_with(&format!("{ORIGIN}/portal/launch?secret=")), "{l}");
    // Only the hash of the secret is stored.
    let secret = l.rsplit_once('=').unwrap().1;
    let stored = rollcall::storage::sqlite::block_on(app.db.batch(vec![Stmt::new("SELECT * FROM portal_links", vec![])])).unwrap().remove(0).rows;
    assert_eq!(stored.len(), 1);
    assert!(!format!("{stored:?}").contains(secret));
}

#[test]
fn a_link_works_once_and_only_for_minutes() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let l = link(&app, &dir.org);
    let mut b = Browser::new(&app);
    assert_eq!(b.get("/portal").status, 401, "no session yet");
    let r = b.launch(&l);
    assert_eq!(r.status, 303);
    assert_eq!(r.raw.get_header("location"), Some("/portal"));
    let cookie = r.raw.get_header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/portal", "Secure"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let page = b.get("/portal");
    assert_eq!(page.status, 200);
    assert!(page.raw.get_header("content-security-policy").unwrap().contains("default-src 'none'"));
    let reused = Browser::new(&app).launch(&l);
    assert_eq!(reused.status, 403, "a link is used once");
    assert!(reused.raw.get_header("set-cookie").is_none());
    let late = link(&app, &dir.org);
    app.advance(5 * 60 * 1000 + 1);
    assert_eq!(Browser::new(&app).launch(&late).status, 403, "an expired link is refused");
    assert_eq!(Browser::new(&app).get("/portal/launch?secret=").status, 403);
    // The session itself ends after its hours.
    app.advance(8 * 3600 * 1000);
    assert_eq!(b.get("/portal").status, 401);
    assert_eq!(b.get("/portal/api/session").status, 401);
}

#[test]
fn a_whitelabel_organisation_gets_links_on_its_own_hostname_only() {
    let app = App::new();
    let dir = app.new_directory("okta");
    assert_eq!(app.admin("POST", "/v1/domains", Some(json!({"hostname": "scim.acme.test", "organization_id": dir.org}))).status, 201);
    let l = link(&app, &dir.org);
    assert!(l.starts_with("https://scim.acme.test/portal/launch?secret="), "{l}");
    assert_eq!(Browser::new(&app).launch(&l).status, 403, "not on a default hostname");
    let mut b = Browser::on_host(&app, "scim.acme.test");
    assert_eq!(b.launch(&l).status, 303);
    assert_eq!(b.get("/portal").status, 200);
    // The cookie is not a session on another hostname.
    let elsewhere = Browser { cookie: b.cookie.clone(), ..Browser::new(&app) };
    assert_eq!(elsewhere.get("/portal/api/session").status, 401);
    let s = b.get("/portal/api/session");
    assert_eq!(s.body["directories"][0]["scim_base_url"], format!("https://scim.acme.test/scim/v2/{}", dir.id));
}

#[test]
fn a_session_sees_its_own_organisation_and_nothing_else() {
    let app = App::new();
    let mine = app.new_directory("okta");
    let theirs = app.new_directory("entra_id");
    let b = signed_in(&app, &mine.org);
    let s = b.get("/portal/api/session");
    assert_eq!(s.status, 200);
    let ids: Vec<&str> = s.body["directories"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![mine.id.as_str()]);
    assert_eq!(s.body["providers"].as_array().unwrap().len(), 8);
    for path in ["", "/tokens", "/users", "/groups"] {
        let r = b.get(&format!("/portal/api/directories/{}{path}", theirs.id));
        assert_eq!(r.status, 404, "{path}: {:?}", r.body);
    }
    assert_eq!(b.call("POST", &format!("/portal/api/directories/{}/tokens", theirs.id), Some(json!({"type": "bearer"}))).status, 404);
    let their_token = app.admin("GET", &format!("/v1/directories/{}/tokens", theirs.id), None).body["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(b.call("DELETE", &format!("/portal/api/directories/{}/tokens/{their_token}", theirs.id), None).status, 404);
    assert_eq!(app.admin("GET", &format!("/v1/directories/{}/tokens", theirs.id), None).body["data"].as_array().unwrap().len(), 1);
}

#[test]
fn changes_need_the_portals_header_and_origin() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let b = signed_in(&app, &dir.org);
    let path = format!("/portal/api/directories/{}/tokens", dir.id);
    assert_eq!(b.send("POST", &path, Some(json!({"type": "bearer"})), vec![]).status, 403, "no header");
    let cross = vec![("x-rollcall-portal".into(), "1".into()), ("origin".into(), "https://evil.test".into())];
    assert_eq!(b.send("POST", &path, Some(json!({"type": "bearer"})), cross).status, 403, "another origin");
    let ok = b.call("POST", &path, Some(json!({"type": "bearer"})));
    assert_eq!(ok.status, 201, "{:?}", ok.body);
    assert!(ok.body["token"].as_str().unwrap().starts_with("rcs_"));
    assert_eq!(b.call("POST", &path, Some(json!({"type": "bearer"}))).status, 409, "two live tokens at most");
}

#[test]
fn an_admin_creates_a_connection_and_its_token_works_for_scim() {
    let app = App::new();
    let org = app.admin("POST", "/v1/organizations", Some(json!({"name": "Globex"}))).body["id"].as_str().unwrap().to_string();
    let b = signed_in(&app, &org);
    assert_eq!(b.call("POST", "/portal/api/directories", Some(json!({"provider": "myspace"}))).status, 422);
    let d = b.call("POST", "/portal/api/directories", Some(json!({"provider": "cyberark"})));
    assert_eq!(d.status, 201, "{:?}", d.body);
    assert_eq!(d.body["name"], "CyberArk Identity");
    let dir = Dir {
        id: d.body["id"].as_str().unwrap().into(),
        org: org.clone(),
        token: d.body["scim"]["bearer_token"].as_str().unwrap().into(),
        base: d.body["scim"]["base_url"].as_str().unwrap().into(),
    };
    let st = b.get(&format!("/portal/api/directories/{}", dir.id));
    assert_eq!((st.body["directory"]["state"].as_str(), st.body["last_request"].is_null()), (Some("pending"), true));
    let u = app.scim_with(
        &dir,
        "POST",
        "/Users",
        Some(json!({"userName": "ada@globex.test", "password": "hunter2-secret", "name": {"givenName": "Ada"}}).to_string().into_bytes()),
        vec![("user-agent".into(), "CyberArk SCIM client".into())],
    );
    assert_eq!(u.status, 201);
    let st = b.get(&format!("/portal/api/directories/{}", dir.id));
    assert_eq!(st.body["directory"]["state"], "linked");
    assert_eq!(st.body["directory"]["user_count"], 1);
    assert_eq!(st.body["recognised_idp"]["id"], "cyberark");
    let last = &st.body["last_request"];
    assert_eq!((last["method"].as_str(), last["route"].as_str(), last["status"].as_i64()), (Some("POST"), Some("/Users"), Some(201)));
    let events: Vec<&str> = last["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, vec!["dsync.activated", "dsync.user.created"]);
    let found = b.get(&format!("/portal/api/directories/{}/users?search=ADA", dir.id));
    assert_eq!(found.body["data"][0]["username"], "ada@globex.test");
    assert_eq!(b.get(&format!("/portal/api/directories/{}/users?search=%25", dir.id)).body["data"].as_array().unwrap().len(), 0, "% is literal");
    // Longer than the LIKE patterns D1 accepts (50 bytes): still a plain search.
    let long = b.get(&format!("/portal/api/directories/{}/users?search={}", dir.id, "ada".repeat(40)));
    assert_eq!((long.status, long.body["data"].as_array().unwrap().len()), (200, 0));
}

#[test]
fn the_request_log_keeps_no_secret_and_explains_failures() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let b = signed_in(&app, &dir.org);
    app.scim(&dir, "POST", "/Users", Some(json!({"userName": "bob@x.test", "password": "correct-horse-battery"})));
    app.scim(&dir, "POST", "/Users", Some(json!({"userName": "bob@x.test", "password": "correct-horse-battery"})));
    app.scim(&dir, "GET", "/Users?filter=userName%20eq%20%22carol-private%40x.test%22&count=100", None);
    app.scim(&dir, "GET", "/Users?filter=userName%20zz%20%22bad%22", None);
    // A create this isolate authenticates in the write batch itself (one round trip) is kept too.
    assert_eq!(app.scim(&dir, "POST", "/Users", Some(json!({"userName": "dan@x.test"}))).status, 201);
    let st = b.get(&format!("/portal/api/directories/{}", dir.id));
    let reqs = st.body["requests"].as_array().unwrap();
    let shape: Vec<(i64, Option<&str>)> = reqs.iter().map(|r| (r["status"].as_i64().unwrap(), r["scim_type"].as_str())).collect();
    assert_eq!(shape, vec![(201, None), (400, Some("invalidFilter")), (200, None), (409, Some("uniqueness")), (201, None)]);
    assert_eq!(reqs[0]["events"][0]["event"], "dsync.user.created");
    assert_eq!(reqs[2]["results"], 0);
    assert_eq!(reqs[2]["query"], "filter=userName eq \"…\"&count=100");
    assert!(reqs[1]["explanation"]["fix"].as_str().unwrap().contains("operators"));
    assert!(reqs[3]["explanation"]["what"].as_str().unwrap().contains("already exists"));
    let stored = format!("{:?}", rows(&app, "SELECT * FROM scim_requests"));
    for secret in ["correct-horse-battery", "carol-private", &dir.token] {
        assert!(!stored.contains(secret), "{secret} is stored");
        assert!(!st.body.to_string().contains(secret), "{secret} is answered");
    }
}

#[test]
fn the_log_is_a_ring_of_fifty_and_refused_tokens_are_counted_not_listed() {
    let app = App::new();
    let dir = app.new_directory("okta");
    for _ in 0..60 {
        app.scim(&dir, "GET", "/Users?count=1", None);
    }
    let n = |app: &App| rows(app, "SELECT COUNT(*) AS n FROM scim_requests")[0].int("n").unwrap();
    assert_eq!(n(&app), 50);
    let wrong = Dir { token: "rcs_wrongwrongwrongwrongwrongwrongwrongwrong123".into(), ..dir.clone() };
    for _ in 0..5 {
        assert_eq!(app.scim(&wrong, "GET", "/Users", None).status, 401);
    }
    app.advance(11_000);
    app.scim_with(&Dir { token: String::new(), ..dir.clone() }, "GET", "/Users", None, vec![]);
    assert_eq!(n(&app), 50, "refusals never push requests out");
    let f = rows(&app, "SELECT * FROM scim_auth_failures");
    assert_eq!(f.len(), 1);
    // Written once per 10 s per isolate: the first refusal, then the one after the pause.
    assert_eq!((f[0].int("count"), f[0].str("reason")), (Some(2), Some("missing")));
    // An unknown directory gets no row at all.
    let ghost_id = "directory_01J0000000000000000000000000";
    let ghost = Dir { id: ghost_id.into(), base: wrong.base.replace(&dir.id, ghost_id), ..wrong.clone() };
    app.advance(11_000);
    app.scim(&ghost, "GET", "/Users", None);
    assert_eq!(rows(&app, "SELECT COUNT(*) AS n FROM scim_auth_failures")[0].int("n"), Some(1));
    let b = signed_in(&app, &dir.org);
    let st = b.get(&format!("/portal/api/directories/{}", dir.id));
    assert_eq!(st.body["auth_failures"]["count"], 2);
    assert!(st.body["auth_failures"]["explanation"].as_str().unwrap().contains("no credentials"));
    // A deleted directory takes its log with it.
    assert_eq!(app.admin("DELETE", &format!("/v1/directories/{}", dir.id), None).status, 202);
    rollcall::storage::sqlite::block_on(rollcall::app::maintenance::purge_directory(&app.svc(), &dir.id, 10)).unwrap();
    assert_eq!(n(&app), 0);
    assert!(rows(&app, "SELECT * FROM scim_auth_failures").is_empty());
}

#[test]
fn pages_and_assets_are_served_without_anything_external() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let b = signed_in(&app, &dir.org);
    let page = String::from_utf8(b.get("/portal").raw.body).unwrap();
    assert!(!page.contains("http://") && !page.contains("https://"), "no external reference");
    for (asset, kind) in [("app.js", "text/javascript"), ("guides.js", "text/javascript"), ("app.css", "text/css")] {
        let r = b.get(&format!("/portal/assets/{asset}"));
        assert_eq!(r.status, 200);
        assert!(r.raw.get_header("content-type").unwrap().starts_with(kind));
        let text = String::from_utf8(r.raw.body).unwrap();
        assert!(!text.contains("http://") && !text.contains("https://"), "{asset} references nothing external");
    }
    let guides = String::from_utf8(b.get("/portal/assets/guides.js").raw.body).unwrap();
    for p in ["okta:", "entra_id:", "cyberark:", "pingfederate:", "onelogin:", "jumpcloud:", "rippling:", "generic:"] {
        assert!(guides.contains(p), "a guide for {p}");
    }
    assert_eq!(b.get("/portal/nothing").status, 404);
    // Sign-out ends the session.
    assert_eq!(b.call("POST", "/portal/api/sign_out", None).status, 204);
    assert_eq!(b.get("/portal/api/session").status, 401);
}

/// What keeping one request costs in D1 (the batch the shell runs after
/// answering): the same whether the ring has filled once or many times
/// and whatever the directory holds.
#[test]
fn keeping_a_request_costs_the_same_whatever_the_directory_holds() {
    use rollcall::app::portal::debugger::{store, ScimLog};
    use rollcall::storage::db::Metered;
    use rollcall::storage::scim_requests::RequestRecord;
    let app = App::new();
    let dir = app.new_directory("okta");
    let cost_of_one = |app: &App| {
        let m = Metered::new(app.data_db());
        let log = ScimLog::Request(Box::new(RequestRecord {
            directory_id: dir.id.clone(),
            method: "GET".into(),
            route: "/Users".into(),
            status: 200,
            ..Default::default()
        }));
        let svc = app.over(&m, &m);
        rollcall::storage::sqlite::block_on(store(&svc, &log)).unwrap();
        (m.calls.get(), m.rows_read.get(), m.rows_written.get())
    };
    for _ in 0..60 {
        cost_of_one(&app);
    }
    let full = cost_of_one(&app);
    for i in 0..500 {
        app.scim(&dir, "POST", "/Users", Some(json!({"userName": format!("u{i}@x.test")})));
    }
    for _ in 0..200 {
        cost_of_one(&app);
    }
    let later = cost_of_one(&app);
    println!("one kept request: {} D1 call, {} rows read, {} rows written", full.0, full.1, full.2);
    assert_eq!(full, later);
    assert_eq!(full.0, 1);
    assert!(full.1 <= 8 && full.2 <= 4, "{full:?}");
}

#[test]
fn hostile_portal_input_gets_a_plain_refusal() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let b = Browser::new(&app);
    let long = "a".repeat(10_000);
    assert_eq!(b.get(&format!("/portal/launch?secret={long}")).status, 403);
    let forged = Browser { cookie: Some(format!("rollcall_portal={long}")), ..Browser::new(&app) };
    assert_eq!(forged.get("/portal/api/session").status, 401);
    let guessed = Browser { cookie: Some("rollcall_portal=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()), ..Browser::new(&app) };
    assert_eq!(guessed.get("/portal").status, 401);
    for path in ["/portal/assets/../../v1/organizations", "/portal/assets/x.js", "/portal/api", "/portal/api/../v1/directories"] {
        assert!(matches!(b.get(path).status, 401 | 404), "{path}");
    }
    // generate_link is the admin's, on the default hostnames only.
    app.admin("POST", "/v1/domains", Some(json!({"hostname": "scim.acme.test", "organization_id": dir.org})));
    let on_whitelabel = app.raw(
        "POST",
        "https://scim.acme.test/portal/generate_link",
        vec![("authorization".into(), format!("Bearer {ADMIN}")), ("content-type".into(), "application/json".into())],
        json!({"organization": dir.org, "intent": "dsync"}).to_string().into_bytes(),
    );
    assert_eq!(on_whitelabel.0.status, 404);
    let mut s = Browser::on_host(&app, "scim.acme.test");
    assert_eq!(s.launch(&link(&app, &dir.org)).status, 303);
    let big = json!({"provider": "okta", "name": "x".repeat(5000)});
    assert_eq!(s.call("POST", "/portal/api/directories", Some(big)).status, 413);
    assert_eq!(s.call("POST", "/portal/api/directories", Some(json!({"provider": "okta", "name": "y".repeat(101)}))).status, 422);
    let bad_json = s.send("POST", "/portal/api/directories", None, vec![("x-rollcall-portal".into(), "1".into())]);
    assert_eq!(bad_json.status, 422, "no provider");
    for _ in 0..30 {
        s.call("POST", "/portal/api/directories", Some(json!({"provider": "generic"})));
    }
    let listed = s.get("/portal/api/session").body["directories"].as_array().unwrap().len();
    assert_eq!(listed, 25, "at most 25 directories per organisation from the portal");
}

#[test]
fn revoke_link_ends_an_admins_links_and_sessions_and_no_one_elses() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let link_for = |admin: &str| {
        let r = app.admin("POST", "/portal/generate_link", Some(json!({"organization": dir.org, "intent": "dsync", "external_user_id": admin})));
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["link"].as_str().unwrap().to_string()
    };
    let mut ada = Browser::new(&app);
    assert_eq!(ada.launch(&link_for("admin-ada")).status, 303);
    let unopened = link_for("admin-ada");
    let mut bob = Browser::new(&app);
    assert_eq!(bob.launch(&link_for("admin-bob")).status, 303);
    let revoke = |body: Value| app.admin("POST", "/portal/revoke_link", Some(body)).status;
    assert_eq!(revoke(json!({"organization": dir.org})), 422);
    assert_eq!(revoke(json!({"organization": "org_nope", "external_user_id": "admin-ada"})), 404);
    assert_eq!(revoke(json!({"organization": dir.org, "external_user_id": "admin-ada"})), 204);
    assert_eq!(ada.get("/portal/api/session").status, 401, "her session ended");
    assert_eq!(Browser::new(&app).launch(&unopened).status, 403, "her unopened link is dead");
    assert_eq!(bob.get("/portal/api/session").status, 200, "his session goes on");
}

#[test]
fn polls_read_the_requests_again_only_when_a_newer_one_arrived() {
    let app = App::new();
    let dir = app.new_directory("okta");
    let b = signed_in(&app, &dir.org);
    app.scim(&dir, "GET", "/Users", None);
    let path = format!("/portal/api/directories/{}", dir.id);
    let full = b.get(&path);
    let n = full.body["last_request"]["n"].as_i64().unwrap();
    assert_eq!(full.body["requests"].as_array().unwrap().len(), 1);
    let light = b.get(&format!("{path}?since={n}"));
    assert!(light.body["requests"].is_null(), "{:?}", light.body);
    assert_eq!(light.body["directory"]["state"], "linked");
    app.scim(&dir, "GET", "/Groups", None);
    let newer = b.get(&format!("{path}?since={n}"));
    assert_eq!(newer.body["requests"].as_array().unwrap().len(), 2);
    assert_eq!(newer.body["last_request"]["route"], "/Groups");
}
