//! Operations endpoints: liveness, readiness and metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use super::error::ApiError;
use super::AppState;

/// Time each readiness check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> Response {
    no_store(Json(json!({"status": "ok"})).into_response())
}

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `GET /readyz`: checks the database, both buckets and the GStreamer elements, and lists every
/// check. 200 when all pass, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = timed(async { state.store.ping().await.map_err(|error| error.to_string()) }).await;
    let source = timed(async { state.source.check().await.map_err(|error| error.to_string()) }).await;
    let media = timed(async { state.media.check().await.map_err(|error| error.to_string()) }).await;
    let gstreamer = tokio::task::spawn_blocking(gstreamer_check).await.unwrap_or_else(|_| Err("check panicked".into()));

    let checks: Vec<Check> = [("database", database), ("source storage", source), ("media storage", media), ("gstreamer", gstreamer)]
        .into_iter()
        .map(|(name, outcome)| match outcome {
            Ok(()) => Check { name, status: "ok", error: None },
            Err(error) => {
                state.metrics.readiness_failures.with_label_values(&[name]).inc();
                Check { name, status: "failed", error: Some(error) }
            }
        })
        .collect();
    let ready = checks.iter().all(|check| check.status == "ok");
    let (status, body) = if ready {
        (StatusCode::OK, json!({"status": "ready", "checks": checks}))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "not_ready", "error": "readiness checks failed", "checks": checks}))
    };
    no_store((status, Json(body)).into_response())
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let counts = state.store.queue_counts().await.ok();
    let text = state.metrics.render(counts.as_ref(), &state.storage_metrics);
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// Any route that does not exist.
pub async fn not_found() -> ApiError {
    ApiError::not_found("Not Found")
}

async fn timed(check: impl std::future::Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(CHECK_TIMEOUT, check).await.unwrap_or_else(|_| Err("timed out after 2 s".to_owned()))
}

fn gstreamer_check() -> Result<(), String> {
    crate::media::init().map_err(|error| error.to_string())?;
    let missing = crate::media::missing_elements();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("missing GStreamer elements: {}", missing.join(", ")))
    }
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
