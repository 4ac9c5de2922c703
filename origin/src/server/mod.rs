//! The HTTP server: routes, shared state and request middleware.
//!
//! - [`delivery`]: `/thumb`, `/original`, `/stream` (and `/img`), with HEAD, ranges and ETags.
//! - [`api`]: the job API behind `X-API-Key`.
//! - [`key`]: `GET /api/key/{hash}` behind a Bearer token.
//! - [`ops`]: `/healthz`, `/readyz` and `/metrics`.
//! - [`error`]: the one mapping from errors to responses.

pub mod api;
pub mod delivery;
pub mod error;
pub mod key;
pub mod ops;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{any, delete, get, post};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use vylux_common::signing::UrlSigner;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::storage::{ObjectStore, StorageMetrics};
use crate::store::JobStore;

/// Job creations and retries allowed per API key per minute.
pub const JOB_RATE_LIMIT_PER_MINUTE: u32 = 30;
/// Key requests allowed per token (or client address without one) per minute.
pub const KEY_RATE_LIMIT_PER_MINUTE: u32 = 120;

const REQUEST_ID_HEADER: &str = "x-request-id";

/// Everything a request handler needs, shared by all requests.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: JobStore,
    pub source: Arc<dyn ObjectStore>,
    pub media: Arc<dyn ObjectStore>,
    pub signer: Arc<UrlSigner>,
    pub metrics: Metrics,
    pub storage_metrics: Arc<StorageMetrics>,
    pub job_limiter: Arc<RateLimiter>,
    pub key_limiter: Arc<RateLimiter>,
    /// Woken when a job is created, so idle workers of this process start at once.
    pub wakeup: Arc<tokio::sync::Notify>,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        store: JobStore,
        source: Arc<dyn ObjectStore>,
        media: Arc<dyn ObjectStore>,
        metrics: Metrics,
        storage_metrics: Arc<StorageMetrics>,
    ) -> Self {
        Self {
            signer: Arc::new(UrlSigner::new(config.hmac_secret.clone())),
            config,
            store,
            source,
            media,
            metrics,
            storage_metrics,
            job_limiter: Arc::new(RateLimiter::new(JOB_RATE_LIMIT_PER_MINUTE, 60)),
            key_limiter: Arc::new(RateLimiter::new(KEY_RATE_LIMIT_PER_MINUTE, 60)),
            wakeup: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

/// Builds the full router of `vylux serve`.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/jobs", post(api::create_legacy_job))
        .route("/api/video/jobs", post(api::create_video_job))
        .route("/api/jobs/{id}", get(api::get_job))
        .route("/api/jobs/{id}/retry", post(api::retry_job))
        .route("/api/media/{hash}", delete(api::delete_media))
        .route("/api/{*rest}", any(api::unknown_api_route))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), api::require_api_key));

    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/thumb/{*rest}", get(delivery::thumb).options(delivery::preflight))
        .route("/original/{*rest}", get(delivery::original).options(delivery::preflight))
        .route("/img/{*rest}", get(delivery::img).options(delivery::preflight))
        .route("/stream/{*rest}", get(delivery::stream).options(delivery::preflight))
        .route("/stream/", get(delivery::stream))
        .route("/api/key/{*rest}", get(key::get_key).options(key::preflight))
        .route("/api/key/", get(key::get_key).options(key::preflight))
        .merge(api)
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(PropagateRequestIdLayer::new(header::HeaderName::from_static(REQUEST_ID_HEADER)))
        .layer(SetRequestIdLayer::new(header::HeaderName::from_static(REQUEST_ID_HEADER), MakeRequestUuid))
        .with_state(state)
}

/// Builds the router of a worker-only process: `/healthz` and `/metrics`.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .fallback(ops::not_found)
        .with_state(state)
}

/// Logs one JSON line per request and records the HTTP metrics.
///
/// The line carries the request id, method, path, status, duration and whether an
/// `Authorization` header was present, never its value.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = route_label(&path);
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let has_authorization = request.headers().contains_key(header::AUTHORIZATION);
    let has_range = request.headers().contains_key(header::RANGE);

    let mut response = next.run(request).await;

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let status_label = status.to_string();
    let labels = [method.as_str(), route, status_label.as_str()];
    state.metrics.http_requests.with_label_values(&labels).inc();
    state.metrics.http_duration.with_label_values(&labels).observe(elapsed.as_secs_f64());
    if response.status().is_client_error() || response.status().is_server_error() {
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.remove(header::VARY);
        // A cross-origin player must be able to read a delivery error. Without this header it
        // reports only a network failure.
        if is_delivery_path(&path) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
    }
    if method != Method::OPTIONS || status >= 400 {
        tracing::info!(
            request_id = %request_id,
            method = %method,
            path = %path,
            route = %route,
            status,
            duration_ms = elapsed.as_millis() as u64,
            authorization = has_authorization,
            range = has_range,
            "request"
        );
    }
    response
}

/// Returns the route pattern a path falls under, for metric labels; `unmatched` for anything else.
///
/// Patterns are computed from the path because middleware around the whole router runs before
/// routing, and because labels must stay few whatever paths clients send.
fn route_label(path: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 7] = [
        ("/thumb/", "/thumb/{*rest}"),
        ("/original/", "/original/{*rest}"),
        ("/img/", "/img/{*rest}"),
        ("/stream/", "/stream/{*rest}"),
        ("/api/key/", "/api/key/{*rest}"),
        ("/api/media/", "/api/media/{hash}"),
        ("/api/jobs/", "/api/jobs/{id}"),
    ];
    match path {
        "/healthz" | "/readyz" | "/metrics" | "/api/jobs" | "/api/video/jobs" => {
            return ["/healthz", "/readyz", "/metrics", "/api/jobs", "/api/video/jobs"]
                .into_iter()
                .find(|known| *known == path)
                .unwrap_or("unmatched")
        }
        _ => {}
    }
    if path.starts_with("/api/jobs/") && path.ends_with("/retry") {
        return "/api/jobs/{id}/retry";
    }
    PREFIXES.iter().find(|(prefix, _)| path.starts_with(prefix)).map(|(_, label)| *label).unwrap_or("unmatched")
}

fn is_delivery_path(path: &str) -> bool {
    ["/thumb/", "/original/", "/img/", "/stream/"].iter().any(|prefix| path.starts_with(prefix))
}
