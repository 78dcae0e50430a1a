//! Rollcall: a self-hosted SCIM 2.0 directory-sync service on Cloudflare Workers.
//!
//! Everything that decides lives in plain Rust modules tested natively; only
//! `cloudflare` touches the Workers runtime and it is compiled for wasm32 only.

pub mod app;
pub mod directory;
pub mod events;
pub mod scim;
pub mod storage;
pub mod support;
pub mod webhook;

#[cfg(target_arch = "wasm32")]
pub mod cloudflare;
