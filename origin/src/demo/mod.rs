//! `vylux demo-app`: a small application backend that uses Vylux the way a real one would.
//!
//! It plays the part of "your backend" and is kept apart from the origin. It talks to Vylux only
//! over HTTP, and only it has the secrets a backend has (`API_KEY`, `HMAC_SECRET`,
//! `KEY_TOKEN_SECRET`, `WEBHOOK_SECRET`). It submits `video:full` jobs and takes the signed webhook,
//! polling as a fallback. Its page shows the cover through a signed `/thumb` URL and plays the
//! encrypted stream with hls.js, both through the public media URL (the edge). The browser gets a
//! short-lived playback token and nothing else secret.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vylux_common::jobs::{CreateJobResponse, JobStatus, JobStatusResponse};
use vylux_common::secret::{MIN_SIGNING_SECRET_LEN, MIN_TOKEN_SECRET_LEN};
use vylux_common::signing::UrlSigner;
use vylux_common::token::TokenKeys;
use vylux_common::webhook::verify_webhook;
use vylux_common::{MediaHash, ObjectKey, Secret};

const PAGE_TEMPLATE: &str = include_str!("page.html");
/// Lifetime of the playback tokens the page gets, in seconds.
const PLAYBACK_TOKEN_TTL_SECS: u64 = 600;
/// How often unfinished jobs are polled when no webhook has arrived.
const POLL_INTERVAL: Duration = Duration::from_secs(3);

/// Settings of the demo backend, from environment variables.
pub struct DemoConfig {
    /// Address to listen on (`DEMO_ADDRESS`, default `127.0.0.1:8080`).
    pub address: SocketAddr,
    /// Base URL of the Vylux job API for this backend (`VYLUX_API_URL`, default `http://127.0.0.1:3000`).
    pub api_url: String,
    /// Base URL browsers fetch media from, normally the edge (`PUBLIC_MEDIA_URL`, default `http://127.0.0.1:8787`).
    pub media_url: String,
    /// Base URL Vylux sends this backend's webhooks to (`DEMO_PUBLIC_URL`, default `http://{address}`).
    pub public_url: String,
    /// hls.js file served to the page (`HLS_JS_PATH`, default `node_modules/hls.js/dist/hls.min.js`).
    pub hls_js_path: PathBuf,
    pub api_key: Secret,
    pub hmac_secret: Secret,
    pub token_keys: TokenKeys,
    pub webhook_secret: Secret,
}

impl DemoConfig {
    pub fn from_env() -> Result<Self> {
        let read = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
        let address: SocketAddr = read("DEMO_ADDRESS")
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
            .parse()
            .context("DEMO_ADDRESS must be an address such as 127.0.0.1:8080")?;
        let url = |name: &str, default: String| -> Result<String> {
            crate::config::normalize_http_url(&read(name).unwrap_or(default)).map_err(|message| anyhow::anyhow!("{name} {message}"))
        };
        Ok(Self {
            address,
            api_url: url("VYLUX_API_URL", "http://127.0.0.1:3000".to_owned())?,
            media_url: url("PUBLIC_MEDIA_URL", "http://127.0.0.1:8787".to_owned())?,
            public_url: url("DEMO_PUBLIC_URL", format!("http://{address}"))?,
            hls_js_path: PathBuf::from(read("HLS_JS_PATH").unwrap_or_else(|| "node_modules/hls.js/dist/hls.min.js".to_owned())),
            api_key: crate::cli::secret_from_env("API_KEY", MIN_SIGNING_SECRET_LEN)?,
            hmac_secret: crate::cli::secret_from_env("HMAC_SECRET", MIN_SIGNING_SECRET_LEN)?,
            token_keys: TokenKeys::new(crate::cli::secret_from_env("KEY_TOKEN_SECRET", MIN_TOKEN_SECRET_LEN)?, []),
            webhook_secret: crate::cli::secret_from_env("WEBHOOK_SECRET", MIN_SIGNING_SECRET_LEN)?,
        })
    }
}

/// The backend's record of one video.
#[derive(Debug, Clone, Serialize)]
struct Video {
    hash: String,
    title: String,
    job_id: String,
    status: JobStatus,
    cover_key: Option<String>,
    encrypted: bool,
    error: Option<String>,
    /// Whether the completion was learned from a verified webhook (false: from polling).
    webhook_received: bool,
    webhook_count: u32,
}

#[derive(Clone)]
struct DemoState {
    config: Arc<DemoConfig>,
    signer: Arc<UrlSigner>,
    client: reqwest::Client,
    videos: Arc<Mutex<HashMap<String, Video>>>,
}

/// Runs the demo backend until interrupted.
pub async fn run(config: DemoConfig) -> Result<()> {
    let state = DemoState {
        signer: Arc::new(UrlSigner::new(config.hmac_secret.clone())),
        config: Arc::new(config),
        client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?,
        videos: Arc::new(Mutex::new(HashMap::new())),
    };
    tokio::spawn(poll_unfinished(state.clone()));

    let app = Router::new()
        .route("/", get(index))
        .route("/videos", post(submit_video))
        .route("/videos/{hash}", get(video_status))
        .route("/watch/{hash}", get(watch_page))
        .route("/webhooks/vylux", post(receive_webhook))
        .route("/assets/hls.min.js", get(hls_js))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind(state.config.address)
        .await
        .with_context(|| format!("binding {} failed", state.config.address))?;
    tracing::info!(address = %listener.local_addr()?, api = %state.config.api_url, media = %state.config.media_url, "demo app listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitRequest {
    hash: String,
    /// Key of the upload in the source bucket.
    source_key: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default = "default_true")]
    encrypt: bool,
}

fn default_true() -> bool {
    true
}

/// `POST /videos`: submits a `video:full` job for an upload.
async fn submit_video(State(state): State<DemoState>, Json(request): Json<SubmitRequest>) -> Response {
    if let Err(error) = MediaHash::parse(&request.hash) {
        return (StatusCode::BAD_REQUEST, Json(json!({"message": error.to_string()}))).into_response();
    }
    let body = json!({
        "source": {"hash": request.hash, "key": request.source_key},
        "pipeline": {
            "cover": {"enabled": true},
            "preview": {"enabled": true},
            "package": {"hls": {"enabled": true, "encryption": {"enabled": request.encrypt}}}
        },
        "delivery": {"callback_url": format!("{}/webhooks/vylux", state.config.public_url)}
    });
    let response = state
        .client
        .post(format!("{}/api/video/jobs", state.config.api_url))
        .header("X-API-Key", String::from_utf8_lossy(state.config.api_key.expose()).as_ref())
        .json(&body)
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(error = %error, "submitting the job failed");
            return (StatusCode::BAD_GATEWAY, Json(json!({"message": "Vylux is unreachable"}))).into_response();
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return (StatusCode::BAD_GATEWAY, Json(json!({"message": format!("Vylux answered {status}: {text}")}))).into_response();
    }
    let created: CreateJobResponse = match serde_json::from_str(&text) {
        Ok(created) => created,
        Err(error) => {
            return (StatusCode::BAD_GATEWAY, Json(json!({"message": format!("unexpected Vylux answer: {error}")})))
                .into_response()
        }
    };
    let video = Video {
        hash: request.hash.clone(),
        title: request.title.unwrap_or_else(|| request.hash.clone()),
        job_id: created.job_id.clone().unwrap_or_default(),
        status: created.status,
        cover_key: None,
        encrypted: request.encrypt,
        error: None,
        webhook_received: false,
        webhook_count: 0,
    };
    tracing::info!(hash = %video.hash, job_id = %video.job_id, "video submitted");
    state.videos.lock().expect("videos lock").insert(request.hash, video.clone());
    (StatusCode::ACCEPTED, Json(video)).into_response()
}

/// `GET /videos/{hash}`: the backend's record of a video, for scripts and tests.
async fn video_status(State(state): State<DemoState>, Path(hash): Path<String>) -> Response {
    match state.videos.lock().expect("videos lock").get(&hash) {
        Some(video) => Json(video.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "unknown video"}))).into_response(),
    }
}

/// `POST /webhooks/vylux`: takes a job notification after checking its signature over the raw body.
async fn receive_webhook(State(state): State<DemoState>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers.get("x-signature").and_then(|value| value.to_str().ok()).unwrap_or_default();
    if !verify_webhook(&state.config.webhook_secret, &body, signature) {
        tracing::warn!("webhook with an invalid signature rejected");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(payload) => payload,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let hash = payload["hash"].as_str().unwrap_or_default().to_owned();
    let mut videos = state.videos.lock().expect("videos lock");
    if let Some(video) = videos.get_mut(&hash) {
        video.webhook_received = true;
        video.webhook_count += 1;
        apply_outcome(video, payload["status"].as_str(), payload.get("results"), payload["error"].as_str());
        tracing::info!(hash = %hash, status = ?video.status, "webhook received");
    }
    StatusCode::NO_CONTENT.into_response()
}

fn apply_outcome(video: &mut Video, status: Option<&str>, results: Option<&Value>, error: Option<&str>) {
    if let Some(status) = status.and_then(|text| text.parse::<JobStatus>().ok()) {
        video.status = status;
    }
    if let Some(key) = results.and_then(|results| results["artifacts"]["cover"]["key"].as_str()) {
        video.cover_key = Some(key.to_owned());
    }
    video.error = error.map(str::to_owned);
}

/// Polls Vylux for videos whose webhook has not arrived yet.
async fn poll_unfinished(state: DemoState) {
    loop {
        tokio::time::sleep(POLL_INTERVAL).await;
        let pending: Vec<(String, String)> = state
            .videos
            .lock()
            .expect("videos lock")
            .values()
            .filter(|video| matches!(video.status, JobStatus::Queued | JobStatus::Processing) && !video.job_id.is_empty())
            .map(|video| (video.hash.clone(), video.job_id.clone()))
            .collect();
        for (hash, job_id) in pending {
            let response = state
                .client
                .get(format!("{}/api/jobs/{job_id}", state.config.api_url))
                .header("X-API-Key", String::from_utf8_lossy(state.config.api_key.expose()).as_ref())
                .send()
                .await;
            let Ok(response) = response else { continue };
            let Ok(job) = response.json::<JobStatusResponse>().await else { continue };
            if let Some(video) = state.videos.lock().expect("videos lock").get_mut(&hash) {
                apply_outcome(video, Some(job.status.as_str()), job.results.as_ref(), job.error.as_deref());
            }
        }
    }
}

/// `GET /`: a list of videos.
async fn index(State(state): State<DemoState>) -> Html<String> {
    let videos = state.videos.lock().expect("videos lock");
    let mut items = String::new();
    for video in videos.values() {
        items.push_str(&format!(
            "<li><a href=\"/watch/{}\">{}</a> ({})</li>",
            escape_html(&video.hash),
            escape_html(&video.title),
            video.status.as_str()
        ));
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Vylux demo</title></head>\
         <body><h1>Vylux demo</h1><ul>{items}</ul></body></html>"
    ))
}

/// `GET /watch/{hash}`: the player page.
async fn watch_page(State(state): State<DemoState>, Path(hash): Path<String>) -> Response {
    let Some(video) = state.videos.lock().expect("videos lock").get(&hash).cloned() else {
        return (StatusCode::NOT_FOUND, Html("<p>Unknown video.</p>".to_owned())).into_response();
    };
    if video.status != JobStatus::Completed {
        let text = format!("<p>{} is {}. Reload in a moment.</p>", escape_html(&video.title), video.status.as_str());
        return (StatusCode::OK, Html(text)).into_response();
    }
    let Ok(media_hash) = MediaHash::parse(&video.hash) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let cover_key = video.cover_key.as_deref().and_then(|key| ObjectKey::parse(key).ok()).unwrap_or_else(|| media_hash.cover_key());
    let cover_url = format!("{}{}", state.config.media_url, state.signer.thumb_path(&cover_key));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let token = match state.config.token_keys.mint(&media_hash, now, PLAYBACK_TOKEN_TTL_SECS) {
        Ok(token) => token,
        Err(error) => {
            tracing::error!(error = %error, "minting a playback token failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let playback = json!({
        "master": format!("{}/stream/{}/master.m3u8", state.config.media_url, media_hash),
        "token": token,
    });
    // `</` cannot appear in the JSON (hashes, URLs and JWTs have no `<`), so it is safe inside <script>.
    let page = PAGE_TEMPLATE
        .replace("{{TITLE}}", &escape_html(&video.title))
        .replace("{{COVER_URL}}", &escape_html(&cover_url))
        .replace("{{PLAYBACK_JSON}}", &playback.to_string());
    let mut response = Html(page).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /assets/hls.min.js`: hls.js from the npm package, served locally.
async fn hls_js(State(state): State<DemoState>) -> Response {
    match tokio::fs::read(&state.config.hls_js_path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], bytes).into_response(),
        Err(error) => {
            tracing::error!(path = %state.config.hls_js_path.display(), error = %error, "hls.js not found; run npm ci");
            (StatusCode::NOT_FOUND, "hls.js is not installed: run npm ci in the repository").into_response()
        }
    }
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
