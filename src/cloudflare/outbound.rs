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
