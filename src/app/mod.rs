//! Use cases: a SCIM request, a management request, one webhook delivery,
//! the outbox sweep. Everything here is runtime-free; the shell hands in a
//! [`Db`], the clock and entropy, and carries out the returned [`Outcome`].

pub mod api;
pub mod config;
pub mod delivery;
pub mod maintenance;
pub mod http;
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
    let mut out = route(&msvc, &req).await;
    if svc.cfg.expose_cost {
        if let Some(r) = out.response.take() {
            out.response = Some(
                r.header("x-rollcall-d1-calls", metered.calls.get().to_string())
                    .header("x-rollcall-d1-rows-read", metered.rows_read.get().to_string())
                    .header("x-rollcall-d1-rows-written", metered.rows_written.get().to_string()),
            );
        }
    }
    out
}

async fn route<D: Db>(svc: &Services<'_, D>, req: &HttpRequest) -> Outcome {
    let segments: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["scim", "v2", directory_id, rest @ ..] => scim::handle(svc, req, directory_id, rest).await,
        ["v1", rest @ ..] if svc.cfg.is_default_host(&req.host) => api::handle(svc, req, rest).await,
        [] | ["health"] if svc.cfg.is_default_host(&req.host) => {
            Outcome::respond(HttpResponse::json(200, &json!({ "service": "rollcall", "status": "ok" })))
        }
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
