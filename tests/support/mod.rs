//! Drives the whole app (routing, SCIM, management API) natively through
//! `app::handle` on an in-memory SQLite with every migration applied: the
//! same SQL D1 runs, without HTTP. The clock is controlled by the test.
//!
//! With `ROLLCALL_TEST_DATABASES=split` every test runs on two separate
//! SQLite databases instead, control and data (migrations/split/), as a
//! deployment with data databases of its own would; the test command runs
//! the suite both ways.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use rollcall::app::{self, Config, HttpRequest, HttpResponse, Services};
use rollcall::storage::sqlite::{block_on, Sqlite};
use rollcall::support::ids::Entropy;
use rollcall::support::time::Millis;
use serde_json::{json, Value};
use std::cell::Cell;

pub const ADMIN: &str = "native-admin-key-0123456789abcdef0123456789";
pub const ORIGIN: &str = "https://rollcall.test";

/// Deterministic entropy (xorshift); tests never depend on its values.
/// A state of 0 stands for a failed source.
pub struct Xorshift(pub Cell<u64>);
impl Entropy for Xorshift {
    fn fill(&self, buf: &mut [u8]) -> bool {
        if self.0.get() == 0 {
            return false;
        }
        for b in buf.iter_mut() {
            let mut x = self.0.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0.set(x);
            *b = (x >> 24) as u8;
        }
        true
    }
}

/// One D1 batch as a request ran it.
#[derive(Debug, Clone)]
pub struct Batch {
    pub sqls: Vec<String>,
    pub failed: bool,
}

/// A database, with every batch recorded (control and data into one list).
pub struct Recorder<'a> {
    pub inner: &'a Sqlite,
    pub batches: &'a std::cell::RefCell<Vec<Batch>>,
}

/// Whether this test run uses separate control and data databases.
pub fn split_databases() -> bool {
    std::env::var("ROLLCALL_TEST_DATABASES").is_ok_and(|v| v == "split")
}

impl rollcall::storage::Db for Recorder<'_> {
    async fn batch(&self, stmts: Vec<rollcall::storage::Stmt>) -> Result<Vec<rollcall::storage::StmtResult>, rollcall::storage::DbError> {
        let sqls = stmts.iter().map(|s| s.sql.clone()).collect();
        let r = rollcall::storage::Db::batch(self.inner, stmts).await;
        self.batches.borrow_mut().push(Batch { sqls, failed: r.is_err() });
        r
    }
}

pub struct App {
    /// The control database (the only one unless split).
    pub db: Sqlite,
    /// The data database when split.
    pub data: Option<Sqlite>,
    pub cfg: Config,
    pub clock: Cell<i64>,
    pub entropy: Xorshift,
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub raw: HttpResponse,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.raw.get_header(name)
    }
}

#[derive(Clone)]
pub struct Dir {
    pub id: String,
    pub org: String,
    pub token: String,
    pub base: String,
}

impl App {
    /// One database, or control and data apart when `ROLLCALL_TEST_DATABASES=split`.
    pub fn new() -> Self {
        Self::with_databases(split_databases())
    }

    /// Control and data in separate databases, or not, whatever the environment says.
    pub fn with_databases(split: bool) -> Self {
        let cfg = Config {
            default_hosts: vec!["rollcall.test".into()],
            admin_api_key: ADMIN.into(),
            encryption_key: "native-encryption-key-0123456789abcdef0123".into(),
            allow_http_loopback_webhooks: true,
            expose_cost: true,
            ..Config::default()
        };
        let (db, data) = if split { (Sqlite::open_control().unwrap(), Some(Sqlite::open_data().unwrap())) } else { (Sqlite::open_migrated().unwrap(), None) };
        App { db, data, cfg, clock: Cell::new(1_795_420_800_000), entropy: Xorshift(Cell::new(0x9E37_79B9_7F4A_7C15)) }
    }

    /// The database users, groups, events and deliveries are in.
    pub fn data_db(&self) -> &Sqlite {
        self.data.as_ref().unwrap_or(&self.db)
    }

    /// Services at the current clock over this app's databases.
    pub fn svc(&self) -> Services<'_, Sqlite> {
        self.over(&self.db, self.data_db())
    }

    /// Services over wrappers of the control and data databases (recorders,
    /// meters): the same wrapper twice unless the databases are split.
    pub fn over<'a, D: rollcall::storage::Db>(&'a self, control: &'a D, data: &'a D) -> Services<'a, D> {
        let now = Millis(self.clock.get());
        if self.data.is_some() {
            Services::split(control, data, &self.cfg, now, &self.entropy)
        } else {
            Services::new(control, &self.cfg, now, &self.entropy)
        }
    }

    /// Moves the clock on (each request also advances it by 1 ms).
    pub fn advance(&self, ms: i64) {
        self.clock.set(self.clock.get() + ms);
    }

    pub fn raw(&self, method: &str, url: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> (Resp, app::Outcome) {
        self.advance(1);
        let out = block_on(app::handle(&self.svc(), HttpRequest::new(method, url, headers, body)));
        // What the shell does after answering: the portal's request log.
        if let Some(log) = &out.scim_log {
            block_on(app::portal::debugger::store(&self.svc(), log)).unwrap();
        }
        let raw = out.response();
        let body = serde_json::from_slice(&raw.body).unwrap_or(Value::Null);
        (Resp { status: raw.status, body, raw }, out)
    }

    /// Sends a prepared request and records every D1 batch it ran: the
    /// statements' SQL, and whether the batch failed (stopping there, as D1 does).
    pub fn recorded(&self, req: HttpRequest) -> (Resp, Vec<Batch>) {
        self.advance(1);
        let batches = std::cell::RefCell::new(Vec::new());
        let control = Recorder { inner: &self.db, batches: &batches };
        let data = Recorder { inner: self.data_db(), batches: &batches };
        let out = block_on(app::handle(&self.over(&control, &data), req));
        let raw = out.response();
        let body = serde_json::from_slice(&raw.body).unwrap_or(Value::Null);
        (Resp { status: raw.status, body, raw }, batches.into_inner())
    }

    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let headers = vec![("authorization".into(), format!("Bearer {ADMIN}")), ("content-type".into(), "application/json".into())];
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.raw(method, &format!("{ORIGIN}{path}"), headers, body).0
    }

    pub fn new_directory(&self, provider: &str) -> Dir {
        let org = self.admin("POST", "/v1/organizations", Some(json!({"name": "Acme"})));
        assert_eq!(org.status, 201, "{:?}", org.body);
        let d = self.admin("POST", "/v1/directories", Some(json!({"organization_id": org.body["id"], "name": "D", "provider": provider})));
        assert_eq!(d.status, 201, "{:?}", d.body);
        Dir {
            id: d.body["id"].as_str().unwrap().into(),
            org: org.body["id"].as_str().unwrap().into(),
            token: d.body["scim"]["bearer_token"].as_str().unwrap().into(),
            base: d.body["scim"]["base_url"].as_str().unwrap().into(),
        }
    }

    /// A SCIM request; `path` is relative to the directory's base URL and
    /// may carry a query string. Bodies are sent as given (bytes or JSON).
    pub fn scim(&self, dir: &Dir, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.scim_with(dir, method, path, body.map(|b| b.to_string().into_bytes()), vec![])
    }

    pub fn scim_with(&self, dir: &Dir, method: &str, path: &str, body: Option<Vec<u8>>, extra: Vec<(String, String)>) -> Resp {
        let mut headers = vec![("authorization".into(), format!("Bearer {}", dir.token)), ("content-type".into(), "application/scim+json".into())];
        headers.extend(extra);
        self.raw(method, &format!("{}{path}", dir.base), headers, body.unwrap_or_default()).0
    }

    /// The directory's whole event log, in order.
    pub fn events(&self, dir: &Dir) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..1000 {
            let q = match &after {
                Some(a) => format!("/v1/events?directory_id={}&limit=100&after={a}", dir.id),
                None => format!("/v1/events?directory_id={}&limit=100", dir.id),
            };
            let r = self.admin("GET", &q, None);
            assert_eq!(r.status, 200, "{:?}", r.body);
            out.extend(r.body["data"].as_array().unwrap().iter().cloned());
            match r.body["list_metadata"]["after"].as_str() {
                Some(a) => after = Some(a.to_string()),
                None => return out,
            }
        }
        panic!("too many event pages")
    }

    /// Tells every pending group removal as the shell does after answering
    /// (runs of `chunks` chunks); returns how many runs it took.
    pub fn run_removals(&self, chunks: usize) -> usize {
        for runs in 1..=100_000 {
            self.advance(1);
            if block_on(app::fanout::run(&self.svc(), chunks)).unwrap().done {
                return runs;
            }
        }
        panic!("group removals never finished")
    }

    pub fn event_names(&self, dir: &Dir) -> Vec<String> {
        self.events(dir).iter().map(|e| e["event"].as_str().unwrap().to_string()).collect()
    }
}
