//! Webhook POSTs with the Worker's `fetch`, bounded by a timeout.

use crate::app::delivery::{HttpClient, PostResult};
use futures_util::future::{select, Either};
use std::time::Duration;
use worker::{AbortController, Date, Delay, Fetch, Headers, Method, Request, RequestInit};

pub struct Fetcher;

impl HttpClient for Fetcher {
    async fn post(&self, url: &str, headers: Vec<(String, String)>, body: Vec<u8>, timeout_ms: u64) -> PostResult {
        let started = Date::now().as_millis();
        let elapsed = || i64::try_from(Date::now().as_millis().saturating_sub(started)).unwrap_or(0);
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
        let timeout = Delay::from(Duration::from_millis(timeout_ms));
        match select(send, timeout).await {
            Either::Left((Ok(mut resp), _)) => {
                let status = resp.status_code();
                let retry_after = resp.headers().get("retry-after").ok().flatten();
                // Drain the body so the connection is released.
                let _ = resp.bytes().await;
                PostResult { status: Some(status), retry_after, error: None, duration_ms: elapsed() }
            }
            Either::Left((Err(e), _)) => PostResult { error: Some(format!("{e}")), duration_ms: elapsed(), ..Default::default() },
            Either::Right(_) => {
                controller.abort();
                PostResult { error: Some(format!("timed out after {timeout_ms} ms")), duration_ms: elapsed(), ..Default::default() }
            }
        }
    }
}
