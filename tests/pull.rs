//! Pull reconciliation (issue 13) natively: the real run over real SQLite,
//! reading a fake IdP over real HTTP on 127.0.0.1 (an OAuth2 token
//! endpoint and a read-only SCIM API that pages, filters, expires tokens
//! and fails on demand). No mock stands where the real thing can run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use base64::Engine;
use rollcall::app::pull::{self, Fetch, OutRequest, OutResponse, Run};
use rollcall::app::Meters;
use rollcall::storage::sqlite::block_on;
use rollcall::storage::{Db, RowExt, SqlValue, Stmt};
use rollcall::support::time::Millis;
use serde_json::{json, Value};
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use support::{App, Dir};

const CLIENT_ID: &str = "rollcall-app";
const SECRET: &str = "pull-secret-Zq8vK2mW7xR4tY9n";
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most bytes either side reads of a message.
const MAX_MESSAGE: u64 = 4 << 20;

// ---- the client: Fetch over std::net, http:// only -------------------------

/// A blocking HTTP/1.1 client; its clock is the harness's.
struct Client<'a> {
    clock: &'a Cell<i64>,
}

impl Fetch for Client<'_> {
    fn now(&self) -> Millis {
        Millis(self.clock.get())
    }
    async fn fetch(&self, req: OutRequest) -> Result<OutResponse, String> {
        http(&req).map_err(|e| format!("{e}"))
    }
}

fn http(req: &OutRequest) -> Result<OutResponse, Box<dyn std::error::Error>> {
    let rest = req.url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host)?.next().ok_or("no address")?;
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", req.method, target.max("/"), req.body.len());
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(&req.body)?;
    let mut raw = Vec::new();
    s.take(MAX_MESSAGE).read_to_end(&mut raw)?;
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end])?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().and_then(|l| l.split(' ').nth(1)).ok_or("no status line")?.parse()?;
    let mut body = raw[end + 4..].to_vec();
    for (k, v) in lines.filter_map(|l| l.split_once(':')) {
        if k.eq_ignore_ascii_case("content-length") {
            body.truncate(v.trim().parse()?);
        }
    }
    Ok(OutResponse { status, body })
}

// ---- the fake IdP -----------------------------------------------------------

/// The IdP's directory and behaviour; tests change it directly.
#[derive(Default)]
struct IdpState {
    /// (IdP id, userName), in creation order.
    users: Vec<(String, String)>,
    /// (IdP id, displayName, member IdP user ids).
    groups: Vec<(String, String, Vec<String>)>,
    /// Users left out of the listing and of GET by id (found by the filter only).
    hidden: BTreeSet<String>,
    page_size: usize,
    /// Requests a token is good for (401 after).
    token_uses: u32,
    tokens: HashMap<String, u32>,
    tokens_issued: u32,
    /// Every SCIM request answers 403.
    forbid: bool,
    /// Answers 500 once to the request whose target ends with this.
    fail_once: Option<String>,
    /// Request targets, as received.
    seen: Vec<String>,
}

struct Idp {
    state: Arc<Mutex<IdpState>>,
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Idp {
    fn start(page_size: usize, token_uses: u32) -> Idp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(IdpState { page_size, token_uses, ..Default::default() }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(c) = conn {
                    let _ = serve(c, &st);
                }
            }
        });
        Idp { state, port, stop, thread: Some(thread) }
    }
    fn s(&self) -> std::sync::MutexGuard<'_, IdpState> {
        self.state.lock().unwrap()
    }
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    fn add_user(&self, id: &str, name: &str) {
        self.s().users.push((id.into(), name.into()));
    }
    fn add_group(&self, id: &str, name: &str, members: &[&str]) {
        self.s().groups.push((id.into(), name.into(), members.iter().map(|m| m.to_string()).collect()));
    }
    /// The user leaves the app (and so every role).
    fn remove_user(&self, id: &str) {
        let mut s = self.s();
        s.users.retain(|u| u.0 != id);
        s.groups.iter_mut().for_each(|g| g.2.retain(|m| m != id));
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                out.push(std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(b'?'));
                i += 3;
                continue;
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form(s: &str) -> HashMap<String, String> {
    s.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

fn list(items: Vec<Value>, total: usize, start: usize) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": total, "startIndex": start, "itemsPerPage": items.len(), "Resources": items})
}

fn user_json(u: &(String, String)) -> Value {
    json!({"id": u.0, "userName": u.1, "active": true})
}

fn group_json(g: &(String, String, Vec<String>)) -> Value {
    json!({"id": g.0, "displayName": g.1, "members": g.2.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()})
}

fn serve(mut c: TcpStream, state: &Mutex<IdpState>) -> std::io::Result<()> {
    c.set_read_timeout(Some(TIMEOUT))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = c.read(&mut buf)?;
        if n == 0 || raw.len() > 65_536 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (first.next().unwrap_or_default().to_string(), first.next().unwrap_or_default().to_string());
    let headers: HashMap<String, String> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0).min(65_536);
    let mut body = raw[end + 4..].to_vec();
    while body.len() < len {
        let n = c.read(&mut buf)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let (status, answer) = route(&mut state.lock().unwrap(), &method, &target, &headers, &String::from_utf8_lossy(&body));
    let text = answer.to_string();
    write!(c, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len())?;
    c.flush()
}

fn route(s: &mut IdpState, method: &str, target: &str, headers: &HashMap<String, String>, body: &str) -> (u16, Value) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method == "POST" && path == "/token" {
        let f = form(body);
        let basic = headers.get("authorization").and_then(|a| a.strip_prefix("Basic ")).and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        let (id, secret) = match basic.map(|b| String::from_utf8_lossy(&b).into_owned()) {
            Some(pair) => pair.split_once(':').map(|(a, b)| (decode(a), decode(b))).unwrap_or_default(),
            None => (f.get("client_id").cloned().unwrap_or_default(), f.get("client_secret").cloned().unwrap_or_default()),
        };
        if f.get("grant_type").map(String::as_str) != Some("client_credentials") || id != CLIENT_ID || secret != SECRET {
            return (401, json!({"error": "invalid_client"}));
        }
        s.tokens_issued += 1;
        let token = format!("tok-{}", s.tokens_issued);
        s.tokens.insert(token.clone(), s.token_uses);
        return (200, json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}));
    }
    s.seen.push(target.to_string());
    let bearer = headers.get("authorization").and_then(|a| a.strip_prefix("Bearer ")).unwrap_or_default();
    match s.tokens.get_mut(bearer) {
        Some(n) if *n > 0 => *n -= 1,
        _ => return (401, json!({"detail": "token expired"})),
    }
    if s.forbid {
        return (403, json!({"detail": "scope"}));
    }
    if s.fail_once.as_deref().is_some_and(|f| target.ends_with(f)) {
        s.fail_once = None;
        return (500, json!({"detail": "boom"}));
    }
    let q = form(query);
    let seg: Vec<&str> = path.trim_start_matches("/scim/").split('/').collect();
    let users: Vec<&(String, String)> = s.users.iter().filter(|u| !s.hidden.contains(&u.0)).collect();
    match (seg.as_slice(), q.get("filter")) {
        (["Users" | "Groups"], Some(f)) => {
            let (attr, value) = f.split_once(" eq ").unwrap_or_default();
            let value = value.trim_matches('"').to_lowercase();
            let hits: Vec<Value> = if attr == "userName" {
                s.users.iter().filter(|u| u.1.to_lowercase() == value).map(user_json).collect()
            } else {
                s.groups.iter().filter(|g| g.1.to_lowercase() == value).map(group_json).collect()
            };
            (200, list(hits.clone(), hits.len(), 1))
        }
        ([kind @ ("Users" | "Groups")], None) => {
            let start: usize = q.get("startIndex").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
            let count: usize = q.get("count").and_then(|v| v.parse().ok()).unwrap_or(100).min(s.page_size);
            let all: Vec<Value> = if *kind == "Users" { users.iter().map(|u| user_json(u)).collect() } else { s.groups.iter().map(group_json).collect() };
            let page = all.iter().skip(start - 1).take(count).cloned().collect();
            (200, list(page, all.len(), start))
        }
        (["Users", id], None) => users.iter().find(|u| u.0 == *id).map_or((404, json!({"status": "404"})), |u| (200, user_json(u))),
        (["Groups", id], None) => s.groups.iter().find(|g| g.0 == *id).map_or((404, json!({"status": "404"})), |g| (200, group_json(g))),
        _ => (404, json!({"status": "404"})),
    }
}

// ---- the directory side -----------------------------------------------------

/// The pull settings, PUT through the API.
fn put_pull(app: &App, dir: &Dir, idp: &Idp, secret: Option<&str>, auth: &str) -> Value {
    let mut b = json!({"scim_url": idp.url("/scim"), "token_url": idp.url("/token"), "client_id": CLIENT_ID, "scope": "scim", "token_auth": auth});
    if let Some(s) = secret {
        b["client_secret"] = json!(s);
    }
    let r = app.admin("PUT", &format!("/v1/directories/{}/pull", dir.id), Some(b));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// Pushes the IdP's users and groups into the directory as the IdP would
/// (externalId = the IdP's id); Rollcall's ids by IdP id.
fn seed(app: &App, dir: &Dir, idp: &Idp) -> HashMap<String, String> {
    let (users, groups) = {
        let s = idp.s();
        (s.users.clone(), s.groups.clone())
    };
    let mut ids = HashMap::new();
    for (id, name) in users {
        let r = app.scim(dir, "POST", "/Users", Some(json!({"userName": name, "externalId": id, "active": true})));
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.insert(id, r.body["id"].as_str().unwrap().to_string());
    }
    for (id, name, members) in groups {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": ids[m]})).collect();
        let r = app.scim(dir, "POST", "/Groups", Some(json!({"displayName": name, "externalId": id, "members": members})));
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.insert(id, r.body["id"].as_str().unwrap().to_string());
    }
    ids
}

/// Three users; Admins (role-1: u1, u2) and Sales (role-2: u3); page size 2.
fn world(token_uses: u32) -> (App, Dir, Idp, HashMap<String, String>) {
    let app = App::new();
    let dir = app.new_directory("cyberark");
    let idp = Idp::start(2, token_uses);
    for i in 1..=3 {
        idp.add_user(&format!("u{i}"), &format!("user{i}@acme.test"));
    }
    idp.add_group("role-1", "Admins", &["u1", "u2"]);
    idp.add_group("role-2", "Sales", &["u3"]);
    let ids = seed(&app, &dir, &idp);
    put_pull(&app, &dir, &idp, Some(SECRET), "basic");
    (app, dir, idp, ids)
}

fn start_run(app: &App, dir: &Dir) -> Value {
    let r = app.admin("POST", &format!("/v1/directories/{}/pull/run", dir.id), None);
    assert_eq!(r.status, 202, "{:?}", r.body);
    r.body
}

/// Steps the run to its end (bounded): the finished run and how many steps it took.
fn finish(app: &App, dir: &Dir) -> (Run, usize) {
    let client = Client { clock: &app.clock };
    for steps in 1..=50 {
        app.advance(1);
        let s = block_on(pull::step(&app.svc(), &client, &dir.id)).unwrap();
        if s.run_removals {
            app.run_removals(10);
        }
        if let Some(run) = s.finished {
            return (run, steps);
        }
        assert!(s.more, "a step that neither finished nor goes on");
    }
    panic!("the run never finished")
}

/// A run from the API to its end.
fn run(app: &App, dir: &Dir) -> Run {
    start_run(app, dir);
    finish(app, dir).0
}

fn control(app: &App, sql: &str, params: Vec<SqlValue>) -> Vec<rollcall::storage::Row> {
    block_on(app.db.batch(vec![Stmt::new(sql, params)])).unwrap().remove(0).rows
}

/// (sequence, event) of the directory's events after `from`.
fn events_after(app: &App, dir: &Dir, from: i64) -> Vec<(i64, String)> {
    let sql = "SELECT sequence, event FROM events WHERE directory_id = ?1 AND sequence > ?2 ORDER BY sequence";
    let r = block_on(app.data_db().batch(vec![Stmt::new(sql, vec![dir.id.as_str().into(), from.into()])])).unwrap();
    r[0].rows.iter().map(|r| (r.int("sequence").unwrap(), r.string("event"))).collect()
}

fn last_seq(app: &App, dir: &Dir) -> i64 {
    events_after(app, dir, 0).last().map_or(0, |e| e.0)
}

fn changes(run: &Run) -> (u64, u64, u64) {
    (run.changes.users_deactivated, run.changes.memberships_removed, run.changes.groups_deleted)
}

fn error_code(run: &Run) -> &str {
    run.error.as_ref().map_or("", |e| e.code.as_str())
}

fn active(app: &App, dir: &Dir, id: &str) -> bool {
    app.scim(dir, "GET", &format!("/Users/{id}"), None).body["active"] == json!(true)
}

// ---- the tests --------------------------------------------------------------

/// A role removed at the IdP becomes each member's removal then the group's deletion, in sequence, across token renewals.
#[test]
fn a_role_removed_at_the_idp_is_deleted_with_its_members_told_first() {
    let (app, dir, idp, ids) = world(2);
    idp.s().groups.retain(|g| g.0 != "role-1");
    let mark = last_seq(&app, &dir);
    let run = run(&app, &dir);
    assert_eq!((run.state.as_str(), error_code(&run)), ("succeeded", ""), "{run:?}");
    assert_eq!(changes(&run), (0, 0, 1));
    assert_eq!((run.users_read, run.groups_read), (3, 1));
    let ev = events_after(&app, &dir, mark);
    let names: Vec<&str> = ev.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(names, ["dsync.group.user_removed", "dsync.group.user_removed", "dsync.group.deleted"]);
    assert_eq!(ev.iter().map(|e| e.0).collect::<Vec<_>>(), vec![mark + 1, mark + 2, mark + 3]);
    assert_eq!(app.scim(&dir, "GET", &format!("/Groups/{}", ids["role-1"]), None).status, 404);
    assert_eq!(app.scim(&dir, "GET", &format!("/Groups/{}", ids["role-2"]), None).status, 200);
    let tokens = idp.s().tokens_issued;
    assert!(tokens > 1, "tokens expired mid-run and were renewed: {tokens}");
    let p = app.admin("GET", &format!("/v1/directories/{}/pull", dir.id), None).body;
    assert_eq!((p["current_run"].clone(), p["last_run"]["changes"]["groups_deleted"].clone()), (Value::Null, json!(1)));
}

/// A run that finds the directory in sync emits nothing, changes nothing and writes only its status.
#[test]
fn an_in_sync_run_writes_only_its_status() {
    let (app, dir, _idp, _) = world(100);
    let mark = last_seq(&app, &dir);
    start_run(&app, &dir);
    let client = Client { clock: &app.clock };
    let (mut cost, mut done) = (rollcall::app::Cost::default(), None);
    for _ in 0..10 {
        app.advance(1);
        let svc = app.svc();
        let meters = Meters::new(&svc);
        let s = block_on(pull::step(&meters.services(&svc), &client, &dir.id)).unwrap();
        cost = cost + meters.cost();
        if s.finished.is_some() {
            done = s.finished;
            break;
        }
    }
    let run = done.expect("the run finished");
    println!("in-sync run: d1 calls {}, rows read {}, rows written {}", cost.calls, cost.rows_read, cost.rows_written);
    assert_eq!((run.state.as_str(), changes(&run)), ("succeeded", (0, 0, 0)), "{run:?}");
    assert_eq!(events_after(&app, &dir, mark), vec![]);
    assert!(cost.rows_written <= 3, "an in-sync run wrote {} rows", cost.rows_written);
    assert!(cost.rows_written >= 1, "the run's status is written");
}

/// A listing larger than a step's pages is staged and read over several steps, with the right result.
#[test]
fn a_long_listing_is_read_over_bounded_steps() {
    let app = App::new();
    let dir = app.new_directory("cyberark");
    let idp = Idp::start(2, 1000);
    for i in 1..=90 {
        idp.add_user(&format!("u{i}"), &format!("user{i}@acme.test"));
    }
    let ids = seed(&app, &dir, &idp);
    put_pull(&app, &dir, &idp, Some(SECRET), "body");
    idp.remove_user("u45");
    let mark = last_seq(&app, &dir);
    start_run(&app, &dir);
    let client = Client { clock: &app.clock };
    app.advance(1);
    let first = block_on(pull::step(&app.svc(), &client, &dir.id)).unwrap();
    assert!(first.more && first.finished.is_none());
    let staged = control(&app, "SELECT count(*) AS n FROM pull_pages WHERE directory_id = ?1", vec![dir.id.as_str().into()]);
    assert_eq!(staged[0].int("n"), Some(i64::try_from(pull::PAGES_PER_STEP).unwrap()));
    let cur = app.admin("GET", &format!("/v1/directories/{}/pull", dir.id), None).body["current_run"].clone();
    assert_eq!((cur["state"].clone(), cur["phase"].clone(), cur["pages_read"].clone()), (json!("running"), json!("users"), json!(pull::PAGES_PER_STEP)));
    assert_eq!(events_after(&app, &dir, mark), vec![], "nothing is applied from an incomplete listing");
    let (run, steps) = finish(&app, &dir);
    assert_eq!(steps, 1, "the 6 pages left and the removal fit one more step of {} pages", pull::PAGES_PER_STEP);
    assert_eq!((run.state.as_str(), run.pages_read, run.users_read), ("succeeded", 46, 89), "{run:?}");
    assert_eq!(changes(&run), (1, 0, 0));
    assert_eq!(events_after(&app, &dir, mark).iter().map(|e| e.1.as_str()).collect::<Vec<_>>(), ["dsync.user.updated"]);
    assert!(!active(&app, &dir, &ids["u45"]) && active(&app, &dir, &ids["u44"]) && active(&app, &dir, &ids["u46"]));
    let left = control(&app, "SELECT count(*) AS n FROM pull_pages WHERE directory_id = ?1", vec![dir.id.as_str().into()]);
    assert_eq!(left[0].int("n"), Some(0), "the staged pages are removed when the run ends");
}

/// An IdP failure mid-run fails the run with nothing applied; the next run applies the removal once, the one after nothing.
#[test]
fn a_failed_run_applies_nothing_and_the_next_applies_once() {
    let (app, dir, idp, ids) = world(100);
    idp.s().groups[0].2.retain(|m| m != "u2");
    idp.s().fail_once = Some("/Groups?startIndex=1&count=100".into());
    let mark = last_seq(&app, &dir);
    let failed = run(&app, &dir);
    assert_eq!((failed.state.as_str(), error_code(&failed), changes(&failed)), ("failed", "idp_error", (0, 0, 0)), "{failed:?}");
    assert!(idp.s().fail_once.is_none(), "the failure was on the groups' first page");
    assert_eq!(events_after(&app, &dir, mark), vec![]);
    let second = run(&app, &dir);
    assert_eq!((second.state.as_str(), changes(&second)), ("succeeded", (0, 1, 0)), "{second:?}");
    assert_eq!(events_after(&app, &dir, mark).iter().map(|e| e.1.as_str()).collect::<Vec<_>>(), ["dsync.group.user_removed"]);
    let members = app.scim(&dir, "GET", &format!("/Groups/{}", ids["role-1"]), None).body["members"].clone();
    assert_eq!(members.as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect::<Vec<_>>(), [ids["u1"].as_str()]);
    let after = last_seq(&app, &dir);
    let third = run(&app, &dir);
    assert_eq!((third.state.as_str(), changes(&third)), ("succeeded", (0, 0, 0)), "{third:?}");
    assert_eq!(events_after(&app, &dir, after), vec![]);
}

/// A refused secret, a 403 from SCIM and an empty listing each fail the run with their code and change nothing.
#[test]
fn refusals_and_an_empty_listing_fail_the_run_and_change_nothing() {
    let (app, dir, idp, ids) = world(100);
    let mark = last_seq(&app, &dir);
    put_pull(&app, &dir, &idp, Some("not-the-secret"), "basic");
    let r = run(&app, &dir);
    assert_eq!((r.state.as_str(), error_code(&r)), ("failed", "token_refused"), "{r:?}");
    put_pull(&app, &dir, &idp, Some(SECRET), "basic");
    idp.s().forbid = true;
    let r = run(&app, &dir);
    assert_eq!((r.state.as_str(), error_code(&r)), ("failed", "scope_missing"), "{r:?}");
    idp.s().forbid = false;
    // No users listed (the groups still are), then no groups listed (the users are).
    let users = std::mem::take(&mut idp.s().users);
    for (what, gone) in [("users", "no users"), ("groups", "no groups")] {
        if what == "groups" {
            idp.s().users = users.clone();
            idp.s().groups.clear();
        }
        let r = run(&app, &dir);
        assert_eq!((r.state.as_str(), error_code(&r), changes(&r)), ("failed", "idp_listed_nothing", (0, 0, 0)), "{what}: {r:?}");
        assert!(r.error.as_ref().unwrap().message.contains(gone), "{r:?}");
    }
    assert_eq!(events_after(&app, &dir, mark), vec![]);
    assert!(["u1", "u2", "u3"].iter().all(|u| active(&app, &dir, &ids[*u])));
    assert_eq!(app.scim(&dir, "GET", &format!("/Groups/{}", ids["role-1"]), None).status, 200);
}

/// A removal the listing suggests is not applied when the IdP confirms the user is there; once really gone it is.
#[test]
fn a_removal_the_idp_does_not_confirm_is_not_applied() {
    let (app, dir, idp, ids) = world(100);
    idp.s().hidden.insert("u3".into());
    let mark = last_seq(&app, &dir);
    let r = run(&app, &dir);
    assert_eq!((r.state.as_str(), r.users_read, changes(&r)), ("succeeded", 2, (0, 0, 0)), "{r:?}");
    let seen = idp.s().seen.clone();
    assert!(seen.iter().any(|t| t.contains("filter=userName")), "the removal was confirmed at the IdP: {seen:?}");
    assert_eq!(events_after(&app, &dir, mark), vec![]);
    assert!(active(&app, &dir, &ids["u3"]));
    idp.remove_user("u3");
    let r = run(&app, &dir);
    assert_eq!((r.state.as_str(), changes(&r)), ("succeeded", (1, 1, 0)), "{r:?}");
    assert_eq!(events_after(&app, &dir, mark).iter().map(|e| e.1.as_str()).collect::<Vec<_>>(), ["dsync.group.user_removed", "dsync.user.updated"]);
    assert!(!active(&app, &dir, &ids["u3"]));
}

/// Two steps cannot both hold a run: a second claim gets nothing, and a step waits until the lease lapses.
#[test]
fn two_steps_never_hold_the_same_run() {
    let (app, dir, _idp, _) = world(100);
    start_run(&app, &dir);
    let now = Millis(app.clock.get());
    let until = now.plus_seconds(pull::LEASE_SECONDS).to_rfc3339();
    let claim = |lease: &str| block_on(rollcall::storage::pull::claim(&app.db, &dir.id, lease, &until, &now.to_rfc3339())).unwrap();
    assert!(claim("lease_one").is_some());
    assert!(claim("lease_two").is_none(), "a second claim while the first lease lives");
    let current = app.admin("GET", &format!("/v1/directories/{}/pull", dir.id), None).body["current_run"].clone();
    assert_eq!((current["state"].as_str(), current["phase"].as_str()), (Some("running"), Some("users")), "a claimed run shows as running: {current}");
    let client = Client { clock: &app.clock };
    app.advance(1);
    let s = block_on(pull::step(&app.svc(), &client, &dir.id)).unwrap();
    assert!(s.finished.is_none() && !s.more, "a step while another holds the run does nothing");
    app.advance(pull::LEASE_SECONDS * 1000 + 1);
    let (run, _) = finish(&app, &dir);
    assert_eq!(run.state, "succeeded", "{run:?}");
}

/// The client secret is never answered and never stored in plain text.
#[test]
fn the_client_secret_is_never_answered_nor_stored_plain() {
    let (app, dir, idp, _) = world(100);
    let path = format!("/v1/directories/{}/pull", dir.id);
    let mut answers = vec![put_pull(&app, &dir, &idp, Some(SECRET), "body"), app.admin("GET", &path, None).body, start_run(&app, &dir)];
    let r = finish(&app, &dir).0;
    assert_eq!(r.state, "succeeded", "{r:?}");
    answers.push(put_pull(&app, &dir, &idp, None, "basic"));
    let r = run(&app, &dir);
    assert_eq!(r.state, "succeeded", "the secret kept from the first PUT still works: {r:?}");
    answers.push(app.admin("GET", &path, None).body);
    answers.push(app.admin("POST", &format!("/directories/{}/sync", dir.id), None).body);
    for a in &answers {
        assert!(!a.to_string().contains(SECRET), "{a}");
        assert!(a.get("client_secret").is_none(), "{a}");
    }
    assert!(idp.s().tokens_issued >= 2, "the IdP checked the secret");
    let rows = control(&app, "SELECT * FROM directory_pulls WHERE directory_id = ?1", vec![dir.id.as_str().into()]);
    assert_eq!(rows.len(), 1);
    let row = json!(rows[0]).to_string();
    assert!(row.contains("secret_sealed") && !row.contains(SECRET), "{row}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    assert!(!row.contains(&b64[..20]), "{row}");
}

/// The cron's part: nothing is due before the interval; then a `schedule` run
/// starts once (not again while it runs), its step finishes it, and the next
/// is an interval later; after a failure, 15 minutes later (or the interval if shorter).
#[test]
fn the_schedule_starts_a_run_each_interval_and_retries_a_failure_sooner() {
    let (app, dir, idp, _) = world(100);
    let body = json!({"scim_url": idp.url("/scim"), "token_url": idp.url("/token"), "client_id": CLIENT_ID, "interval_minutes": 60});
    assert_eq!(app.admin("PUT", &format!("/v1/directories/{}/pull", dir.id), Some(body)).status, 200);
    let due = |app: &App| block_on(pull::due(&app.svc(), 25)).unwrap();
    assert_eq!(due(&app), Vec::<String>::new(), "nothing is due before the interval");
    app.advance(60 * 60 * 1000);
    assert_eq!(due(&app), vec![dir.id.clone()]);
    let queued = app.admin("GET", &format!("/v1/directories/{}/pull", dir.id), None).body["current_run"].clone();
    assert_eq!((queued["trigger"].as_str(), queued["state"].as_str()), (Some("schedule"), Some("queued")), "{queued}");
    // Still queued (no step has it): named again for a step, but not started twice.
    assert_eq!(due(&app), vec![dir.id.clone()]);
    let again = app.admin("GET", &format!("/v1/directories/{}/pull", dir.id), None).body["current_run"]["id"].clone();
    assert_eq!(again, queued["id"]);
    let (done, _) = finish(&app, &dir);
    assert_eq!((done.id.as_str(), done.state.as_str()), (queued["id"].as_str().unwrap(), "succeeded"), "{done:?}");
    assert_eq!(due(&app), Vec::<String>::new(), "the next run is an interval away");
    app.advance(59 * 60 * 1000);
    assert_eq!(due(&app), Vec::<String>::new());
    // A failing IdP: the run fails and the next is 15 minutes away, not 60.
    idp.s().fail_once = Some("/Users?startIndex=1&count=100".into());
    app.advance(2 * 60 * 1000);
    assert_eq!(due(&app), vec![dir.id.clone()]);
    let (failed, _) = finish(&app, &dir);
    assert_eq!((failed.state.as_str(), error_code(&failed)), ("failed", "idp_error"), "{failed:?}");
    app.advance(14 * 60 * 1000);
    assert_eq!(due(&app), Vec::<String>::new());
    app.advance(2 * 60 * 1000);
    assert_eq!(due(&app), vec![dir.id.clone()]);
    assert_eq!(finish(&app, &dir).0.state, "succeeded");
}
