//! Use cases: a SCIM request, a management request, one webhook delivery,
//! the outbox sweep. Everything here is runtime-free; the shell hands in a
//! [`Db`], the clock and entropy, and carries out the returned [`Outcome`].

pub mod api;
pub mod config;
pub mod delivery;
pub mod errors;
pub mod fanout;
pub mod http;
pub mod isolate;
pub mod maintenance;
pub mod portal;
pub mod pull;
pub mod scim;

use crate::storage::db::Metered;
use crate::storage::Db;
use crate::support::ids::{Entropy, IdGen};
use crate::support::time::Millis;
pub use config::Config;
pub use delivery::QueueMessage;
pub use http::{HttpRequest, HttpResponse};
use serde_json::json;

/// What one invocation may use.
///
/// Two kinds of database: the control database (organisations, domains,
/// directories, tokens and OAuth clients, webhook endpoints) and the data
/// database a directory lives in (its users, groups, memberships, events
/// and their deliveries). [`Services::data`] is the resolver from a
/// directory to its data database. Today every deployment binds one D1
/// database for both, which [`Services::shared`] reports so use cases can
/// keep a control check and data reads in one batch; the native test suite
/// also runs with two separate SQLite databases (tests/split_databases.rs).
pub struct Services<'a, D: Db> {
    /// The control database.
    pub db: &'a D,
    /// The data database (one for every directory today).
    pub data: &'a D,
    pub cfg: &'a Config,
    pub now: Millis,
    pub entropy: &'a dyn Entropy,
}

impl<'a, D: Db> Services<'a, D> {
    /// One database for control and data (every deployment today).
    pub fn new(db: &'a D, cfg: &'a Config, now: Millis, entropy: &'a dyn Entropy) -> Self {
        Services { db, data: db, cfg, now, entropy }
    }
    /// Separate control and data databases.
    pub fn split(control: &'a D, data: &'a D, cfg: &'a Config, now: Millis, entropy: &'a dyn Entropy) -> Self {
        Services { db: control, data, cfg, now, entropy }
    }
    /// The same settings, clock and entropy over other database handles
    /// (for metering): `control` and `data` must be the handles of
    /// `self.db` and `self.data`, and the same handle when those are.
    pub fn over<'b, E: Db>(&'b self, control: &'b E, data: &'b E) -> Services<'b, E> {
        Services { db: control, data, cfg: self.cfg, now: self.now, entropy: self.entropy }
    }
}

impl<D: Db> Services<'_, D> {
    pub fn ids(&self) -> IdGen<'_> {
        IdGen { now: self.now, entropy: self.entropy }
    }
    pub fn now_text(&self) -> String {
        self.now.to_rfc3339()
    }
    /// The control database.
    pub fn control(&self) -> &D {
        self.db
    }
    /// The data database that holds `directory_id`.
    pub fn data(&self, _directory_id: &str) -> &D {
        self.data
    }
    /// Every data database (sweeps that are not about one directory).
    pub fn data_all(&self) -> [&D; 1] {
        [self.data]
    }
    /// Whether control and data are one database, so one batch (one
    /// transaction) can span both.
    pub fn shared(&self) -> bool {
        crate::storage::db::same_database(self.db, self.data)
    }
}

/// The response plus the work the shell does after answering.
#[derive(Debug, Default)]
pub struct Outcome {
    pub response: Option<HttpResponse>,
    /// Messages to publish to the Queue after answering (`ctx.wait_until`).
    pub publish: Vec<QueueMessage>,
    /// A directory whose rows are to be removed in the background.
    pub purge_directory: Option<String>,
    /// Group removals were left to be told in chunks ([`fanout::run`]).
    pub run_removals: bool,
    /// What the request cost in D1 (for the shell's one log line per request).
    pub cost: Cost,
    /// What went wrong inside (a storage failure, a missing setting), for
    /// the log line; never part of the response and never a secret.
    pub error: Option<String>,
    /// What the portal's request debugger keeps of a SCIM request, stored
    /// after answering ([`portal::debugger::store`]).
    pub scim_log: Option<portal::debugger::ScimLog>,
    /// A directory whose pull run is to be stepped ([`pull::PullMessage`]).
    pub pull: Option<String>,
}

/// D1 calls and rows of one request, as D1 bills them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub calls: u64,
    pub rows_read: u64,
    pub rows_written: u64,
}

impl Cost {
    /// What a metered database handle has counted.
    pub fn of<D: Db>(m: &Metered<'_, D>) -> Self {
        Cost { calls: m.calls.get(), rows_read: m.rows_read.get(), rows_written: m.rows_written.get() }
    }
}

/// Meters over the databases of a [`Services`]: one meter when control and
/// data are one database (so the shared handle stays shared), two otherwise.
pub struct Meters<'a, D: Db> {
    control: Metered<'a, D>,
    data: Option<Metered<'a, D>>,
}

impl<'a, D: Db> Meters<'a, D> {
    pub fn new(svc: &Services<'a, D>) -> Self {
        Meters { control: Metered::new(svc.db), data: (!svc.shared()).then(|| Metered::new(svc.data)) }
    }
    /// `svc` over the meters.
    pub fn services<'b>(&'b self, svc: &'b Services<'_, D>) -> Services<'b, Metered<'a, D>> {
        svc.over(&self.control, self.data.as_ref().unwrap_or(&self.control))
    }
    /// What went through both meters.
    pub fn cost(&self) -> Cost {
        Cost::of(&self.control) + self.data.as_ref().map(Cost::of).unwrap_or_default()
    }
}

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost { calls: self.calls + o.calls, rows_read: self.rows_read + o.rows_read, rows_written: self.rows_written + o.rows_written }
    }
}

impl Outcome {
    pub fn respond(response: HttpResponse) -> Self {
        Outcome { response: Some(response), ..Default::default() }
    }
    /// An error response and its inner cause, for the log line.
    pub fn failed(response: HttpResponse, error: Option<String>) -> Self {
        Outcome { response: Some(response), error, ..Default::default() }
    }
    /// A response and the events (by id) it created.
    pub fn with_events(response: HttpResponse, event_ids: Vec<String>) -> Self {
        Outcome { response: Some(response), publish: event_ids.iter().map(|id| QueueMessage::fan_out(id)).collect(), ..Default::default() }
    }
    pub fn with_message(mut self, m: QueueMessage) -> Self {
        self.publish.push(m);
        self
    }
    pub fn response(&self) -> HttpResponse {
        self.response.clone().unwrap_or_else(|| HttpResponse::empty(500))
    }
}

/// Routes one HTTP request.
pub async fn handle<D: Db>(svc: &Services<'_, D>, req: HttpRequest) -> Outcome {
    let meters = Meters::new(svc);
    let mut out = if svc.entropy.fill(&mut [0u8; 16]) { route(&meters.services(svc), &req).await } else { entropy_unavailable(&req) };
    out.cost = meters.cost();
    // Cost headers are a benchmarking aid: off unless enabled, and never on
    // a refusal (a 401 must not tell how much it would have read).
    if svc.cfg.expose_cost && out.response.as_ref().is_some_and(|r| (200..300).contains(&r.status)) {
        if let Some(r) = out.response.take() {
            out.response = Some(
                r.header("x-rollcall-d1-calls", out.cost.calls.to_string())
                    .header("x-rollcall-d1-rows-read", out.cost.rows_read.to_string())
                    .header("x-rollcall-d1-rows-written", out.cost.rows_written.to_string()),
            );
        }
    }
    out
}

/// 503 when the entropy source fails: no id or secret is made from
/// predictable bytes. In the protocol's own form.
fn entropy_unavailable(req: &HttpRequest) -> Outcome {
    let detail = "No secure randomness is available right now; retry later";
    let r = if req.path.starts_with("/scim/") {
        scim::error_response(&crate::scim::ScimError { retry_after: Some(1), ..crate::scim::ScimError::new(503, None, detail) })
    } else {
        api::ApiError::new(503, "entropy_unavailable", detail)
            .response_in(if api::is_workos_path(&req.path) { api::Dialect::WorkOs } else { api::Dialect::V1 })
            .header("retry-after", "1")
    };
    Outcome::failed(r, Some("entropy source failed: answering 503".into()))
}

async fn route<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> Outcome {
    let segments: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["scim", "v2", directory_id, rest @ ..] => scim::handle(svc, req, directory_id, rest).await,
        ["v1", ..] if svc.cfg.is_default_host(&req.host) => api::handle(svc, req, &segments).await,
        _ if api::is_workos_path(&req.path) && svc.cfg.is_default_host(&req.host) => api::handle(svc, req, &segments).await,
        ["portal", "generate_link" | "revoke_link"] if svc.cfg.is_default_host(&req.host) => api::handle(svc, req, &segments).await,
        ["portal", rest @ ..] => portal::handle(svc, req, rest).await,
        ["openapi.json"] if req.method == "GET" && svc.cfg.is_default_host(&req.host) => Outcome::respond(api::openapi::response()),
        [] | ["health"] if svc.cfg.is_default_host(&req.host) => Outcome::respond(HttpResponse::json(200, &json!({ "service": "rollcall", "status": "ok" }))),
        _ => Outcome::respond(api::ApiError::not_found("No such endpoint").response()),
    }
}
