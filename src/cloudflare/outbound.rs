//! Webhook POSTs with the Worker's `fetch`, bounded by two timeouts: one to
//! the response headers (`fetch` resolves when they arrive), one for the
//! whole request, body included.

use crate::app::delivery::{HttpClient, PostResult, Timeouts};
use crate::support::time::Millis;
use futures_util::future::{select, Either};
use std::time::Duration;
use worker::{AbortController, Date, Delay, Fetch, Headers, Method, Request, RequestInit};

pub struct Fetcher;

fn clock() -> u64 {
    Date::now().as_millis()
}

impl HttpClient for Fetcher {
    fn now(&self) -> Millis {
        Millis(i64::try_from(clock()).unwrap_or(0))
    }

    async fn post(&self, url: &str, headers: Vec<(String, String)>, body: Vec<u8>, timeouts: Timeouts) -> PostResult {
        let started = clock();
        let elapsed = || i64::try_from(clock().saturating_sub(started)).unwrap_or(0);
        let h = Headers::new();
        for (k, v) in &headers {
            if h.set(k, v).is_err() {
                return PostResult { error: Some(format!("invalid header {k}")), duration_ms: elapsed(), ..Default::default() };
            }
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(h).with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
        let request = match Request::new_with_init(url, &init) {
            Ok(r) => r,
            Err(e) => return PostResult { error: Some(format!("invalid request: {e}")), duration_ms: elapsed(), ..Default::default() },
        };
        let controller = AbortController::default();
        let signal = controller.signal();
        let fetch = Fetch::Request(request);
        let send = std::pin::pin!(fetch.send_with_signal(&signal));
        let first_byte = timeouts.first_byte_ms.min(timeouts.total_ms);
        match select(send, Delay::from(Duration::from_millis(first_byte))).await {
            Either::Left((Ok(mut resp), _)) => {
                let status = resp.status_code();
                let retry_after = resp.headers().get("retry-after").ok().flatten();
                // Drain the body (so the connection is released) within what
                // is left of the whole timeout; the status already counts.
                let left = timeouts.total_ms.saturating_sub(clock().saturating_sub(started));
                let drain = std::pin::pin!(resp.bytes());
                if let Either::Right(_) = select(drain, Delay::from(Duration::from_millis(left))).await {
                    controller.abort();
                }
                PostResult { status: Some(status), retry_after, error: None, duration_ms: elapsed() }
            }
            Either::Left((Err(e), _)) => PostResult { error: Some(format!("{e}")), duration_ms: elapsed(), ..Default::default() },
            Either::Right(_) => {
                controller.abort();
                PostResult {
                    error: Some(format!("timed out after {first_byte} ms waiting for the response headers")),
                    duration_ms: elapsed(),
                    ..Default::default()
                }
            }
        }
    }
}

/// What a pull run reads of one IdP answer, at most.
const PULL_BODY_BYTES: usize = 8 * 1_048_576;
/// A pull request's time to the response headers, and in all.
const PULL_FIRST_BYTE_MS: u64 = 15_000;
const PULL_TOTAL_MS: u64 = 30_000;

impl crate::app::pull::Fetch for Fetcher {
    fn now(&self) -> Millis {
        Millis(i64::try_from(clock()).unwrap_or(0))
    }

    async fn fetch(&self, out: crate::app::pull::OutRequest) -> Result<crate::app::pull::OutResponse, String> {
        use futures_util::StreamExt;
        let started = clock();
        let h = Headers::new();
        for (k, v) in &out.headers {
            h.set(k, v).map_err(|_| format!("invalid header {k}"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(if out.method == "POST" { Method::Post } else { Method::Get }).with_headers(h);
        if !out.body.is_empty() {
            init.with_body(Some(js_sys::Uint8Array::from(out.body.as_slice()).into()));
        }
        let request = Request::new_with_init(&out.url, &init).map_err(|e| format!("invalid request: {e}"))?;
        let controller = AbortController::default();
        let signal = controller.signal();
        let fetch = Fetch::Request(request);
        let send = std::pin::pin!(fetch.send_with_signal(&signal));
        let mut resp = match select(send, Delay::from(Duration::from_millis(PULL_FIRST_BYTE_MS))).await {
            Either::Left((Ok(resp), _)) => resp,
            Either::Left((Err(e), _)) => return Err(format!("{e}")),
            Either::Right(_) => {
                controller.abort();
                return Err(format!("no answer within {} s", PULL_FIRST_BYTE_MS / 1000));
            }
        };
        let status = resp.status_code();
        // An answer without a body has no stream.
        let Ok(mut stream) = resp.stream() else {
            return Ok(crate::app::pull::OutResponse { status, body: Vec::new() });
        };
        let mut body = Vec::new();
        loop {
            let left = PULL_TOTAL_MS.saturating_sub(clock().saturating_sub(started));
            let next = std::pin::pin!(stream.next());
            match select(next, Delay::from(Duration::from_millis(left))).await {
                Either::Left((Some(Ok(chunk)), _)) => {
                    if body.len() + chunk.len() > PULL_BODY_BYTES {
                        controller.abort();
                        return Err(format!("an answer larger than {} MB", PULL_BODY_BYTES / 1_048_576));
                    }
                    body.extend_from_slice(&chunk);
                }
                Either::Left((Some(Err(e)), _)) => return Err(format!("{e}")),
                Either::Left((None, _)) => break,
                Either::Right(_) => {
                    controller.abort();
                    return Err(format!("the answer took longer than {} s", PULL_TOTAL_MS / 1000));
                }
            }
        }
        Ok(crate::app::pull::OutResponse { status, body })
    }
}
