//! The Vylux edge worker: checks signed URLs and playback tokens at the CDN, caches what may be
//! cached, and forwards the rest to the origin. Every security decision comes from `vylux-common`.
//!
//! - [`config`]: `ORIGIN_URL` and the secrets, checked on every request.
//! - [`route`]: which handler a path goes to.
//! - [`delivery`]: `/thumb`, `/img`, `/original` and `/stream`, served through the edge cache.
//! - [`key`]: `/api/key/{hash}`, with its CORS preflight and Bearer token check.
//! - [`origin`]: requests to the origin, and the pass-through for everything else.
//! - [`policy`]: what is stored in the cache and under which key.
//! - [`responses`]: responses made at the edge and header changes.
//! - [`log`]: rate-limited JSON log lines.

pub mod config;
pub mod delivery;
pub mod key;
pub mod log;
pub mod origin;
pub mod policy;
pub mod responses;
pub mod route;

use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::config::EdgeConfig;
use crate::route::Route;

#[event(fetch)]
async fn fetch(request: Request, env: Env, ctx: Context) -> Result<Response> {
    match handle(request, &env, &ctx).await {
        Ok(response) => Ok(response),
        Err(error) => {
            log::error("internal_error", format!("request failed: {error}"));
            responses::internal_error()
        }
    }
}

async fn handle(request: Request, env: &Env, ctx: &Context) -> Result<Response> {
    let config =
        match EdgeConfig::from_lookup(|name| env.var(name).ok().map(|value| value.to_string())) {
            Ok(config) => config,
            Err(error) => {
                log::error("config_invalid", error);
                return responses::misconfigured();
            }
        };

    let url = request.url()?;
    match route::classify(url.path()) {
        Route::Health => health(&request),
        Route::SignedImage => delivery::serve_signed_image(&request, &url, &config, ctx).await,
        Route::Stream(stream_path) => {
            delivery::serve_stream(&request, &url, stream_path, &config, ctx).await
        }
        Route::Key(raw_hash) => key::serve_key(&request, &url, raw_hash, &config).await,
        Route::PassThrough => origin::pass_through(&request, &url, &config).await,
    }
}

/// Serves `/healthz` at the edge. A misconfigured worker gets 500 before routing, here too.
fn health(request: &Request) -> Result<Response> {
    match request.method() {
        Method::Get | Method::Head => responses::json(200, &serde_json::json!({ "status": "ok" })),
        _ => responses::method_not_allowed("GET, HEAD"),
    }
}
