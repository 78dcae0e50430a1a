//! The shell: the only code that touches the Workers runtime. It turns
//! runtime events into app calls and carries out what they decide.

mod d1;
mod outbound;

use crate::app::delivery::{handle_batch, Handled, QueueMessage, Send};
use crate::app::fanout;
use crate::app::maintenance::{deleting, expire_portal_sessions, purge_directory, sweep, PURGE_ROUNDS};
use crate::app::{self, Config, Cost, HttpRequest, HttpResponse, Meters, Services};
use crate::support::ids::Entropy;
use crate::support::time::Millis;
use d1::D1;
use worker::{
    console_error, console_log, event, BatchMessageBuilder, Context, Date, Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder, Request, Response,
    ScheduleContext, ScheduledEvent,
};

/// Binding names (wrangler.toml).
const DB: &str = "DB";
const EVENTS_QUEUE: &str = "EVENTS";
const DEAD_LETTER_QUEUE: &str = "EVENTS_DLQ";
/// Pull runs the cron starts or picks up per minute, at most (each of each kind).
const PULLS_PER_CRON: i64 = 25;

/// Web Crypto's `getRandomValues`. A failure is reported, never papered
/// over with clock bits: the app answers 503 (see `app::handle`).
struct WebCrypto;
impl Entropy for WebCrypto {
    fn fill(&self, buf: &mut [u8]) -> bool {
        let ok = getrandom::getrandom(buf).is_ok();
        if !ok {
            console_error!("getrandom failed");
        }
        ok
    }
}

/// Reads at most `limit` bytes of the body, counting the bytes actually
/// received (a chunked body has no Content-Length to trust); a declared
/// length over the limit is refused without reading. Returns the bytes and
/// whether the body went past the limit. Past it, the rest is received and
/// dropped (never stored) up to `DRAIN_BYTES`, so the connection stays usable
/// for the caller's next request; a longer body is cut off there.
async fn read_body(req: &mut Request, limit: usize) -> (Vec<u8>, bool) {
    use futures_util::StreamExt;
    /// How much of an oversized streamed body is received and dropped.
    const DRAIN_BYTES: usize = 16 * 1_048_576;
    let declared = req.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return (Vec::new(), true);
    }
    if declared == Some(0) || matches!(req.method(), worker::Method::Get | worker::Method::Head) {
        return (Vec::new(), false);
    }
    let Ok(mut stream) = req.stream() else { return (Vec::new(), false) };
    let mut body = Vec::new();
    let mut received = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        received = received.saturating_add(chunk.len());
        if received > limit {
            if received > DRAIN_BYTES {
                break;
            }
            continue;
        }
        body.extend_from_slice(&chunk);
    }
    let too_large = received > limit;
    if too_large {
        body.clear();
    }
    (body, too_large)
}

fn config(env: &Env) -> Config {
    Config::from_lookup(|k| env.var(k).map(|v| v.to_string()).ok().or_else(|| env.secret(k).map(|v| v.to_string()).ok()))
}

fn now() -> Millis {
    Millis(i64::try_from(Date::now().as_millis()).unwrap_or(0))
}

async fn publish(env: &Env, messages: &[QueueMessage]) {
    let Ok(queue) = env.queue(EVENTS_QUEUE) else {
        console_error!("queue binding {EVENTS_QUEUE} missing");
        return;
    };
    for chunk in messages.chunks(100) {
        let bodies: Vec<String> = chunk.iter().filter_map(|m| serde_json::to_string(m).ok()).collect();
        if let Err(e) = queue.send_batch(bodies).await {
            // The sweeper republishes whatever stays undispatched.
            console_error!("queue send failed: {e}");
        }
    }
}

/// Asks for a step of each directory's pull run ([`app::pull::PullMessage`]).
async fn send_pull(env: &Env, directory_ids: &[String], delay_seconds: u32) {
    let bodies: Vec<String> = directory_ids.iter().filter_map(|id| serde_json::to_string(&app::pull::PullMessage { pull: id.clone() }).ok()).collect();
    send_after(env, &bodies, delay_seconds).await;
}

/// Sends message bodies after `delay_seconds`, 100 per `sendBatch`.
async fn send_after(env: &Env, bodies: &[String], delay_seconds: u32) {
    let Ok(queue) = env.queue(EVENTS_QUEUE) else { return };
    for chunk in bodies.chunks(100) {
        let batch = BatchMessageBuilder::new().messages(chunk.to_vec()).delay_seconds(delay_seconds).build();
        if let Err(e) = queue.send_batch(batch).await {
            console_error!("queue send failed: {e}");
        }
    }
}

/// One step of a directory's pull run, and what it leads to: its events
/// published, group removals told, the next step asked for.
async fn step_pull(env: &Env, cfg: &Config, db: &D1, directory_id: &str) {
    let started = now();
    let svc = Services::new(db, cfg, started, &WebCrypto);
    let meters = Meters::new(&svc);
    let result = app::pull::step(&meters.services(&svc), &outbound::Fetcher, directory_id).await;
    let cost = meters.cost();
    match result {
        Ok(s) => {
            let mut messages = s.publish;
            if s.run_removals {
                messages.extend(tell_removals(&svc, fanout::CHUNKS_AFTER_REQUEST).await);
            }
            if !cfg.fail_queue_send {
                publish(env, &messages).await;
            }
            if s.more {
                send_pull(env, &[directory_id.to_string()], 0).await;
            }
            let finished = s
                .finished
                .as_ref()
                .map(|r| serde_json::json!({"run_id": r.id, "state": r.state, "pages_read": r.pages_read, "changes": r.changes, "error": r.error}));
            log_work("pull", cost, started, serde_json::json!({"directory_id": directory_id, "events": messages.len(), "more": s.more, "finished": finished}));
        }
        Err(e) => console_error!("{}", serde_json::json!({"msg": "pull", "directory_id": directory_id, "error": format!("storage: {e}")})),
    }
}

/// Sends the consumer's retries and deferrals: one `sendBatch` per delay
/// (deferrals to an open circuit share its probe time), 100 at a time.
async fn send_delayed(env: &Env, sends: &[Send]) {
    let mut by_delay: std::collections::BTreeMap<u32, Vec<String>> = std::collections::BTreeMap::new();
    for s in sends {
        if let Ok(body) = serde_json::to_string(&s.message) {
            by_delay.entry(s.delay_seconds).or_default().push(body);
        }
    }
    for (delay, bodies) in by_delay {
        send_after(env, &bodies, delay).await;
    }
}

/// What the consumer did with one message: one JSON line, like the fetch
/// handler's, with what it cost in D1.
fn log_delivery(msg: &QueueMessage, h: &Handled) {
    let status = match h.outcomes.as_slice() {
        _ if h.error.is_some() => "storage_error",
        [] if h.ack => "nothing",
        [] => "storage_error",
        [one] => one.status,
        _ => "fan_out",
    };
    let line = serde_json::json!({
        "msg": "delivery", "event_id": msg.event_id, "endpoint_id": msg.endpoint_id, "attempt": msg.attempt.max(1),
        "status": status, "outcomes": h.outcomes, "ms": h.ms,
        "d1_calls": h.cost.calls, "rows_read": h.cost.rows_read, "rows_written": h.cost.rows_written, "error": h.error,
    });
    console_log!("{line}");
}

fn to_response(r: HttpResponse) -> worker::Result<Response> {
    let headers = worker::Headers::new();
    for (k, v) in &r.headers {
        headers.set(k, v)?;
    }
    let resp = if r.body.is_empty() { Response::empty()? } else { Response::from_bytes(r.body)? };
    Ok(resp.with_status(r.status).with_headers(headers))
}

#[event(fetch)]
pub async fn fetch(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = now();
    let cfg = config(&env);
    let (body, body_too_large) = read_body(&mut req, cfg.max_payload).await;
    let headers: Vec<(String, String)> = req.headers().entries().collect();
    let url = req.url()?;
    let mut request = HttpRequest::new(req.method().as_ref(), url.as_str(), headers, body);
    request.body_too_large = body_too_large;
    let (method, path) = (request.method.clone(), request.path.clone());
    let db = D1(env.d1(DB)?);
    let mut out = {
        let svc = Services::new(&db, &cfg, started, &WebCrypto);
        app::handle(&svc, request).await
    };
    let ms = now().0 - started.0;
    // One line per request: what was asked (never the query string, headers
    // or body: tokens and filters stay out of logs), the answer and its cost.
    let (route, directory) = app::http::route_of(&path);
    let status = out.response.as_ref().map_or(500, |r| r.status);
    let line = serde_json::json!({
        "msg": "request", "method": method, "route": route, "directory_id": directory, "path": path.chars().take(256).collect::<String>(),
        "status": status, "ms": ms,
        "d1_calls": out.cost.calls, "rows_read": out.cost.rows_read, "rows_written": out.cost.rows_written,
        "events": out.publish.iter().filter(|m| m.endpoint_id.is_none()).count(), "error": out.error,
    });
    if status >= 500 {
        console_error!("{line}");
    } else {
        console_log!("{line}");
    }
    let scim_log = out.scim_log.take().map(|mut l| {
        if let app::portal::debugger::ScimLog::Request(r) = &mut l {
            r.ms = Some(ms);
        }
        l
    });
    if let Some(id) = out.pull.take() {
        let env = env.clone();
        ctx.wait_until(async move { send_pull(&env, &[id], 0).await });
    }
    if !out.publish.is_empty() || out.purge_directory.is_some() || out.run_removals || scim_log.is_some() {
        let mut messages = out.publish.clone();
        let purge_id = out.purge_directory.clone();
        let removals = out.run_removals;
        let fail_send = cfg.fail_queue_send;
        ctx.wait_until(async move {
            let db = env.d1(DB).map(D1);
            if let (true, Ok(db)) = (removals, &db) {
                let svc = Services::new(db, &cfg, now(), &WebCrypto);
                messages.extend(tell_removals(&svc, fanout::CHUNKS_AFTER_REQUEST).await);
            }
            if fail_send {
                console_log!("TEST_FAIL_QUEUE_SEND: not publishing {} message(s)", messages.len());
            } else {
                publish(&env, &messages).await;
            }
            // The portal's request debugger: after answering and after the
            // events are on their way, off the IdP's and the application's clock.
            if let (Some(log), Ok(db)) = (&scim_log, &db) {
                let svc = Services::new(db, &cfg, now(), &WebCrypto);
                if let Err(e) = app::portal::debugger::store(&svc, log).await {
                    console_error!("request log failed: {e}");
                }
            }
            if let (Some(id), Ok(db)) = (purge_id, &db) {
                let svc = Services::new(db, &cfg, now(), &WebCrypto);
                purge(&svc, &id, PURGE_ROUNDS).await;
            }
        });
    }
    to_response(out.response())
}

#[event(queue)]
pub async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> worker::Result<()> {
    let cfg = config(&env);
    let db = D1(env.d1(DB)?);
    let dead_letter = batch.queue().ends_with("-dlq");
    let mut work = Vec::new();
    let mut pulls: Vec<String> = Vec::new();
    for message in batch.messages()? {
        if let Ok(p) = serde_json::from_str::<app::pull::PullMessage>(message.body()) {
            // One pull step per invocation (each reads pages and may apply
            // many removals); another directory's waits a little. Repeats
            // of one directory are one step (the lease makes them so anyway).
            if pulls.is_empty() || pulls.contains(&p.pull) {
                if !pulls.contains(&p.pull) {
                    pulls.push(p.pull);
                }
                message.ack();
            } else {
                message.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(2).build());
            }
            continue;
        }
        let Ok(msg) = serde_json::from_str::<QueueMessage>(message.body()) else {
            console_error!("dropping an unreadable queue message");
            message.ack();
            continue;
        };
        if dead_letter {
            // Recorded as failed in D1 already; redeliverable through the API.
            console_error!("dead letter: event {} endpoint {:?} attempt {}", msg.event_id, msg.endpoint_id, msg.attempt);
            message.ack();
            continue;
        }
        work.push((message, msg));
    }
    // The batch's messages are handled together: their POSTs share the
    // invocation's connection budget, fairly across endpoints.
    let msgs: Vec<QueueMessage> = work.iter().map(|(_, m)| m.clone()).collect();
    let handled = {
        let svc = Services::new(&db, &cfg, now(), &WebCrypto);
        handle_batch(&svc, &outbound::Fetcher, &msgs).await
    };
    let sends: Vec<Send> = handled.iter().flat_map(|h| h.send.iter().cloned()).collect();
    send_delayed(&env, &sends).await;
    let dead: Vec<&QueueMessage> = handled.iter().flat_map(|h| h.dead.iter()).collect();
    if !dead.is_empty() {
        if let Ok(dlq) = env.queue(DEAD_LETTER_QUEUE) {
            for d in dead {
                if let Ok(body) = serde_json::to_string(d) {
                    if let Err(e) = dlq.send(body).await {
                        console_error!("dead-letter send failed: {e}");
                    }
                }
            }
        }
    }
    for ((message, msg), h) in work.iter().zip(&handled) {
        log_delivery(msg, h);
        if h.ack {
            message.ack();
        } else {
            message.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(10).build());
        }
    }
    for id in pulls {
        step_pull(&env, &cfg, &db, &id).await;
    }
    Ok(())
}

#[event(scheduled)]
pub async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let cfg = config(&env);
    let Ok(d) = env.d1(DB) else { return };
    let db = D1(d);
    let started = now();
    let svc = Services::new(&db, &cfg, started, &WebCrypto);
    let (republished, error) = {
        let meters = Meters::new(&svc);
        let result = sweep(&meters.services(&svc)).await;
        let (republished, error) = match result {
            Ok(messages) => {
                publish(&env, &messages).await;
                (messages.len(), None)
            }
            Err(e) => (0, Some(format!("storage: {e}"))),
        };
        log_work("sweep", meters.cost(), started, serde_json::json!({"republished": republished, "error": error}));
        (republished, error)
    };
    if let Err(e) = expire_portal_sessions(&svc).await {
        console_error!("portal expiry failed: {e}");
    }
    match app::pull::due(&svc, PULLS_PER_CRON).await {
        Ok(ids) if !ids.is_empty() => send_pull(&env, &ids, 0).await,
        Ok(_) => {}
        Err(e) => console_error!("pull scheduling failed: {e}"),
    }
    let told = tell_removals(&svc, fanout::CHUNKS_PER_CRON).await;
    if !told.is_empty() && !cfg.fail_queue_send {
        publish(&env, &told).await;
    }
    // One budget of purge rounds for all directories: the invocation stays
    // within D1's queries per invocation.
    let mut rounds = PURGE_ROUNDS;
    if let Ok(ids) = deleting(&svc).await {
        for id in ids {
            rounds = rounds.saturating_sub(purge(&svc, &id, rounds).await);
            if rounds == 0 {
                break;
            }
        }
    }
    console_log!(
        "{}",
        serde_json::json!({"msg": "cron", "republished": republished, "removal_events": told.len(), "purge_rounds": PURGE_ROUNDS - rounds, "ms": now().0 - started.0, "error": error})
    );
}

/// One JSON log line about background work, with what it cost in D1.
fn log_work(msg: &str, cost: Cost, started: Millis, fields: serde_json::Value) {
    let mut line = serde_json::json!({
        "msg": msg, "d1_calls": cost.calls, "rows_read": cost.rows_read, "rows_written": cost.rows_written, "ms": now().0 - started.0,
    });
    if let (Some(l), Some(f)) = (line.as_object_mut(), fields.as_object()) {
        l.extend(f.clone());
    }
    console_log!("{line}");
}

/// Purges a deleted directory for at most `rounds` rounds; the rounds used.
async fn purge(svc: &Services<'_, D1>, id: &str, rounds: usize) -> usize {
    let (started, meters) = (now(), Meters::new(svc));
    match purge_directory(&meters.services(svc), id, rounds).await {
        Ok((done, used)) => {
            log_work("purge", meters.cost(), started, serde_json::json!({"rounds": used, "done": done}));
            used
        }
        Err(e) => {
            console_error!("purge of {id} failed: {e}");
            rounds
        }
    }
}

/// Tells up to `chunks` chunks of pending group removals; the messages of
/// the events written.
async fn tell_removals(svc: &Services<'_, D1>, chunks: usize) -> Vec<QueueMessage> {
    let (started, meters) = (now(), Meters::new(svc));
    match fanout::run(&meters.services(svc), chunks).await {
        Ok(p) => {
            if p.chunks > 0 {
                log_work("group removals", meters.cost(), started, serde_json::json!({"chunks": p.chunks, "events": p.event_ids.len(), "done": p.done}));
            }
            p.event_ids.iter().map(|id| QueueMessage::fan_out(id)).collect()
        }
        Err(e) => {
            console_error!("group removals failed: {e}");
            Vec::new()
        }
    }
}
