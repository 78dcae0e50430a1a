//! Directories on separate control and data databases (migrations/split/,
//! where a statement naming a table of the other side fails): every state
//! change is written to both rows, events and counts live on the data side,
//! and the credential check runs on control before any data read.

use super::{get, get_with_counts};
use crate::app::scim::auth::{self, Credential};
use crate::app::{self, Config, HttpRequest, Services};
use crate::stmt;
use crate::storage::sqlite::{block_on, Sqlite};
use crate::storage::{Db, Row, RowExt};
use crate::support::ids::tests::Counter;
use crate::support::time::Millis;
use serde_json::{json, Value};
use std::cell::Cell;

const ADMIN: &str = "split-admin-key-0123456789abcdef0123456789";

struct World {
    control: Sqlite,
    data: Sqlite,
    cfg: Config,
    entropy: Counter,
    clock: Cell<i64>,
}

impl World {
    fn new() -> Self {
        let cfg = Config { default_hosts: vec!["rollcall.test".into()], admin_api_key: ADMIN.into(), ..Config::default() };
        World {
            control: Sqlite::open_control().unwrap(),
            data: Sqlite::open_data().unwrap(),
            cfg,
            entropy: Counter(Cell::new(1)),
            clock: Cell::new(1_795_420_800_000),
        }
    }

    fn svc(&self) -> Services<'_, Sqlite> {
        self.clock.set(self.clock.get() + 1);
        Services::split(&self.control, &self.data, &self.cfg, Millis(self.clock.get()), &self.entropy)
    }

    fn send(&self, method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let headers = vec![("authorization".into(), format!("Bearer {token}")), ("content-type".into(), "application/json".into())];
        let req = HttpRequest::new(method, url, headers, body.map(|b| b.to_string().into_bytes()).unwrap_or_default());
        let r = block_on(app::handle(&self.svc(), req)).response();
        (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
    }

    /// A SCIM call that only authenticates: its status.
    fn discover(&self, host: &str, directory_id: &str, token: &str) -> u16 {
        self.send("GET", &format!("https://{host}/scim/v2/{directory_id}/ServiceProviderConfig"), token, None).0
    }

    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send(method, &format!("https://rollcall.test{path}"), ADMIN, body)
    }

    /// An organisation and a directory: (directory id, bearer token).
    fn directory(&self) -> (String, String) {
        let (_, org) = self.admin("POST", "/v1/organizations", Some(json!({"name": "Acme"})));
        let (status, d) = self.admin("POST", "/v1/directories", Some(json!({"organization_id": org["id"], "name": "D", "provider": "okta"})));
        assert_eq!(status, 201, "{d}");
        (d["id"].as_str().unwrap().to_string(), d["scim"]["bearer_token"].as_str().unwrap().to_string())
    }

    fn rows(db: &Sqlite, sql: &str, id: &str) -> Vec<Row> {
        block_on(db.batch(vec![stmt!(sql, id)])).unwrap().remove(0).rows
    }

    fn events(db: &Sqlite, directory_id: &str) -> Vec<String> {
        Self::rows(db, "SELECT event FROM events WHERE directory_id = ?1 ORDER BY sequence", directory_id).iter().map(|r| r.string("event")).collect()
    }

    fn state(db: &Sqlite, id: &str) -> Option<String> {
        block_on(get(db, id)).unwrap().map(|d| d.state)
    }
}

fn credential<'a>(directory_id: &'a str, token: &'a str) -> Credential<'a> {
    Credential { directory_id, token, host: "rollcall.test", default_host: true, oauth_client: None, pull: false }
}

#[test]
fn a_directory_has_a_row_on_each_database_and_its_counts_come_from_the_data_side() {
    let w = World::new();
    let (id, _) = w.directory();
    assert_eq!(World::state(&w.control, &id).as_deref(), Some("pending"));
    assert_eq!(World::state(&w.data, &id).as_deref(), Some("pending"));
    block_on(w.data.batch(vec![stmt!("UPDATE directories SET user_count = 3, group_count = 2 WHERE id = ?1", id.as_str())])).unwrap();
    let (_, d) = w.admin("GET", &format!("/v1/directories/{id}"), None);
    assert_eq!((d["user_count"].clone(), d["group_count"].clone()), (json!(3), json!(2)));
    let (_, list) = w.admin("GET", "/v1/directories", None);
    assert_eq!(list["data"][0]["user_count"], 3);
    let control_counts = block_on(get_with_counts(&w.control, &id)).unwrap().unwrap().1;
    assert_eq!(control_counts.users, 0, "the control row keeps no counts");
}

#[test]
fn the_first_call_links_both_rows_and_its_event_goes_to_the_data_database() {
    let w = World::new();
    let (id, token) = w.directory();
    assert_eq!(w.discover("rollcall.test", &id, &token), 200);
    assert_eq!(World::state(&w.control, &id).as_deref(), Some("linked"));
    assert_eq!(World::state(&w.data, &id).as_deref(), Some("linked"));
    assert_eq!(World::events(&w.data, &id), vec!["dsync.activated"]);
    assert_eq!(w.discover("rollcall.test", &id, &token), 200);
    assert_eq!(World::events(&w.data, &id).len(), 1, "activated once");
}

#[test]
fn reads_run_on_the_data_database_and_only_behind_a_passing_credential() {
    let w = World::new();
    let (id, token) = w.directory();
    block_on(w.data.batch(vec![stmt!("UPDATE directories SET user_count = 7 WHERE id = ?1", id.as_str())])).unwrap();
    let read = || vec![stmt!("SELECT user_count FROM directories WHERE id = ?1", id.as_str())];
    let (authed, results) = block_on(auth::read(&w.svc(), &credential(&id, &token), read())).unwrap();
    assert_eq!(authed.directory_id, id);
    assert_eq!(results[0].rows[0].int("user_count"), Some(7));
    // A read that would fail if it ran: refused before it does.
    let broken = vec![stmt!("SELECT * FROM no_such_table")];
    let refused = block_on(auth::read(&w.svc(), &credential(&id, "rcs_wrong"), broken)).unwrap_err();
    assert_eq!(refused.status, 401);
}

#[test]
fn a_write_cannot_be_fronted_by_the_credential_check_of_another_database() {
    let w = World::new();
    let (id, token) = w.directory();
    let svc = w.svc();
    let guards = auth::guard_statements(&svc, &credential(&id, &token));
    assert_eq!(block_on(w.data.batch(guards)).err(), Some(crate::storage::DbError::Precondition));
}

#[test]
fn deleting_marks_both_rows_revokes_the_tokens_and_tells_the_data_side() {
    let w = World::new();
    let (id, token) = w.directory();
    let (status, _) = w.admin("DELETE", &format!("/v1/directories/{id}"), None);
    assert_eq!(status, 202);
    assert_eq!(World::state(&w.control, &id).as_deref(), Some("deleting"));
    assert_eq!(World::state(&w.data, &id).as_deref(), Some("deleting"));
    assert_eq!(World::events(&w.data, &id), vec!["dsync.deleted"]);
    assert!(World::rows(&w.control, "SELECT id FROM directory_tokens WHERE directory_id = ?1", &id).is_empty());
    assert_eq!(w.discover("rollcall.test", &id, &token), 401);
    let (status, _) = w.admin("DELETE", &format!("/v1/directories/{id}"), None);
    assert_eq!(status, 202);
    assert_eq!(World::events(&w.data, &id).len(), 1, "deleted once");
}

#[test]
fn whitelabel_scoping_reads_the_control_database() {
    let w = World::new();
    let (id, token) = w.directory();
    let org = block_on(get(&w.control, &id)).unwrap().unwrap().organization_id;
    let (status, _) = w.admin("POST", "/v1/domains", Some(json!({"hostname": "scim.acme.test", "organization_id": org})));
    assert_eq!(status, 201);
    assert_eq!(w.discover("scim.acme.test", &id, &token), 200);
    assert_eq!(w.discover("scim.acme.test", &id, "rcs_wrong"), 401);
    assert_eq!(w.discover("scim.acme.test", "directory_0123456789abcdef0123456789abcdef", &token), 404);
}
