//! Use cases: a SCIM request, a management request, one webhook delivery,
//! the outbox sweep. Everything here is runtime-free; the shell hands in a
//! [`Db`], the clock and entropy, and carries out the returned [`Outcome`].

pub mod api;
pub mod config;
pub mod delivery;
pub mod fanout;
pub mod http;
pub mod maintenance;
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
pub struct Services<'a, D: Db> {
    pub db: &'a D,
    pub cfg: &'a Config,
    pub now: Millis,
    pub entropy: &'a dyn Entropy,
}

impl<D: Db> Services<'_, D> {
    pub fn ids(&self) -> IdGen<'_> {
        IdGen { now: self.now, entropy: self.entropy }
    }
    pub fn now_text(&self) -> String {
        self.now.to_rfc3339()
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
}

/// D1 calls and rows of one request, as D1 bills them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub calls: u64,
    pub rows_read: u64,
    pub rows_written: u64,
}

impl Outcome {
    pub fn respond(response: HttpResponse) -> Self {
        Outcome { response: Some(response), ..Default::default() }
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
    let metered = Metered::new(svc.db);
    let msvc = Services { db: &metered, cfg: svc.cfg, now: svc.now, entropy: svc.entropy };
    let mut out = if svc.entropy.fill(&mut [0u8; 16]) { route(&msvc, &req).await } else { entropy_unavailable(&req) };
    out.cost = Cost { calls: metered.calls.get(), rows_read: metered.rows_read.get(), rows_written: metered.rows_written.get() };
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
    log_error("entropy source failed: answering 503");
    let detail = "No secure randomness is available right now; retry later";
    let r = if req.path.starts_with("/scim/") {
        scim::error_response(&crate::scim::ScimError { retry_after: Some(1), ..crate::scim::ScimError::new(503, None, detail) })
    } else {
        api::ApiError::new(503, "entropy_unavailable", detail).response().header("retry-after", "1")
    };
    Outcome::respond(r)
}

async fn route<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> Outcome {
    let segments: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["scim", "v2", directory_id, rest @ ..] => scim::handle(svc, req, directory_id, rest).await,
        ["v1", rest @ ..] if svc.cfg.is_default_host(&req.host) => api::handle(svc, req, rest).await,
        [] | ["health"] if svc.cfg.is_default_host(&req.host) => Outcome::respond(HttpResponse::json(200, &json!({ "service": "rollcall", "status": "ok" }))),
        _ => Outcome::respond(api::ApiError::not_found("No such endpoint").response()),
    }
}

thread_local! {
    static LOGS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Records an internal error for the shell to log (never shown to callers;
/// callers of this never pass secrets).
pub fn log_error(msg: &str) {
    LOGS.with(|l| l.borrow_mut().push(msg.to_string()));
}

/// The errors recorded since the last call.
pub fn take_logs() -> Vec<String> {
    LOGS.with(|l| std::mem::take(&mut *l.borrow_mut()))
}
