//! The shell: the only code that touches the Workers runtime. It turns
//! runtime events into app calls and carries out what they decide.

mod d1;
mod outbound;

use crate::app::delivery::{handle_message, QueueMessage, Send};
use crate::app::maintenance::{deleting, purge_directory, sweep};
use crate::app::{self, Config, HttpRequest, HttpResponse, Services};
use crate::support::ids::Entropy;
use crate::support::time::Millis;
use d1::D1;
use worker::{console_error, console_log, event, Context, Date, Env, MessageBatch, MessageBuilder, MessageExt, QueueRetryOptionsBuilder, Request, Response, ScheduleContext, ScheduledEvent};

/// Binding names (wrangler.toml).
const DB: &str = "DB";
const EVENTS_QUEUE: &str = "EVENTS";
const DEAD_LETTER_QUEUE: &str = "EVENTS_DLQ";

/// Web Crypto's `getRandomValues`.
struct WebCrypto;
impl Entropy for WebCrypto {
    fn fill(&self, buf: &mut [u8]) {
        if getrandom::getrandom(buf).is_err() {
            // Never proceed with predictable bytes: fail loudly is not an
            // option in wasm (a panic kills the isolate), so mix the clock
            // in as a last resort and log it.
            console_error!("getrandom failed");
            let t = Date::now().as_millis().to_le_bytes();
            for (i, b) in buf.iter_mut().enumerate() {
                *b ^= t.get(i % t.len()).copied().unwrap_or(0);
            }
        }
    }
}

fn config(env: &Env) -> Config {
    Config::from_lookup(|k| env.var(k).map(|v| v.to_string()).ok().or_else(|| env.secret(k).map(|v| v.to_string()).ok()))
}

fn now() -> Millis {
    Millis(i64::try_from(Date::now().as_millis()).unwrap_or(0))
}

fn flush_logs() {
    for line in app::take_logs() {
        console_error!("{line}");
    }
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

async fn send_delayed(env: &Env, sends: &[Send]) {
    let Ok(queue) = env.queue(EVENTS_QUEUE) else { return };
    for s in sends {
        let Ok(body) = serde_json::to_string(&s.message) else { continue };
        if let Err(e) = queue.send(MessageBuilder::new(body).delay_seconds(s.delay_seconds).build()).await {
            console_error!("queue send failed: {e}");
        }
    }
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
    let cfg = config(&env);
    let too_big = req.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<usize>().ok()).is_some_and(|n| n > cfg.max_payload);
    let body = if too_big { vec![0; cfg.max_payload + 1] } else { req.bytes().await.unwrap_or_default() };
    let headers: Vec<(String, String)> = req.headers().entries().collect();
    let url = req.url()?;
    let request = HttpRequest::new(req.method().as_ref(), url.as_str(), headers, body);
    let db = D1(env.d1(DB)?);
    let out = {
        let svc = Services { db: &db, cfg: &cfg, now: now(), entropy: &WebCrypto };
        app::handle(&svc, request).await
    };
    flush_logs();
    if !out.publish.is_empty() || out.purge_directory.is_some() {
        let messages = out.publish.clone();
        let purge = out.purge_directory.clone();
        let fail_send = cfg.fail_queue_send;
        ctx.wait_until(async move {
            if fail_send {
                console_log!("TEST_FAIL_QUEUE_SEND: not publishing {} message(s)", messages.len());
            } else {
                publish(&env, &messages).await;
            }
            if let (Some(id), Ok(d)) = (purge, env.d1(DB)) {
                let db = D1(d);
                let svc = Services { db: &db, cfg: &cfg, now: now(), entropy: &WebCrypto };
                if let Err(e) = purge_directory(&svc, &id).await {
                    console_error!("purge of {id} failed: {e}");
                }
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
    for message in batch.messages()? {
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
        let handled = {
            let svc = Services { db: &db, cfg: &cfg, now: now(), entropy: &WebCrypto };
            handle_message(&svc, &outbound::Fetcher, &msg).await
        };
        flush_logs();
        send_delayed(&env, &handled.send).await;
        if !handled.dead.is_empty() {
            if let Ok(dlq) = env.queue(DEAD_LETTER_QUEUE) {
                for d in &handled.dead {
                    if let Ok(body) = serde_json::to_string(d) {
                        if let Err(e) = dlq.send(body).await {
                            console_error!("dead-letter send failed: {e}");
                        }
                    }
                }
            }
        }
        if handled.ack {
            message.ack();
        } else {
            message.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(10).build());
        }
    }
    Ok(())
}

#[event(scheduled)]
pub async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let cfg = config(&env);
    let Ok(d) = env.d1(DB) else { return };
    let db = D1(d);
    let svc = Services { db: &db, cfg: &cfg, now: now(), entropy: &WebCrypto };
    match sweep(&svc).await {
        Ok(messages) if !messages.is_empty() => {
            console_log!("sweeper: republishing {} message(s)", messages.len());
            publish(&env, &messages).await;
        }
        Ok(_) => {}
        Err(e) => console_error!("sweeper failed: {e}"),
    }
    if let Ok(ids) = deleting(&svc).await {
        for id in ids {
            if let Err(e) = purge_directory(&svc, &id).await {
                console_error!("purge of {id} failed: {e}");
            }
        }
    }
    flush_logs();
}
