//! The job API: create, inspect and retry jobs, and delete a hash's media. All routes need
//! `X-API-Key`.

use axum::body::{to_bytes, Body};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use vylux_common::jobs::{
    parse_legacy_request, parse_video_request, CreateJobResponse, FullOptions, FullResult, JobOptions, JobSpec,
    JobStatus, JobType, RequestError, RetryJob, RetryResponse, RetryStrategy,
};
use vylux_common::MediaHash;

use super::error::ApiError;
use super::AppState;
use crate::config::MAX_API_BODY_BYTES;
use crate::store::{JobRecord, StoreError};

/// Rejects requests without the right `X-API-Key`, compared in constant time.
pub async fn require_api_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // The key endpoint has its own Bearer authentication and is routed before this layer.
    let Some(value) = request.headers().get("x-api-key") else {
        return ApiError::new(StatusCode::UNAUTHORIZED, "missing API key").into_response();
    };
    if !state.config.api_key.matches(value.as_bytes()) {
        return ApiError::new(StatusCode::UNAUTHORIZED, "invalid API key").into_response();
    }
    next.run(request).await
}

/// Any other path under `/api/`.
pub async fn unknown_api_route() -> ApiError {
    ApiError::not_found("Not Found")
}

/// `POST /api/jobs`: the legacy contract.
pub async fn create_legacy_job(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    check_job_rate(&state, &request)?;
    let body = read_body(request.into_body()).await?;
    let spec = parse_legacy_request(&body).map_err(request_error)?;
    create_job(&state, spec).await
}

/// `POST /api/video/jobs`: the structured video contract.
pub async fn create_video_job(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    check_job_rate(&state, &request)?;
    let body = read_body(request.into_body()).await?;
    let spec = parse_video_request(&body).map_err(request_error)?;
    create_job(&state, spec).await
}

/// `GET /api/jobs/{id}`.
pub async fn get_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let job = state.store.get(&id).await.map_err(store_error)?.ok_or_else(|| ApiError::not_found("job not found"))?;
    Ok(Json(job.to_status_response()).into_response())
}

/// `POST /api/jobs/{id}/retry`: creates new jobs for a failed one, linked by `retry_of_job_id`.
pub async fn retry_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    check_job_rate(&state, &request)?;
    let job = state.store.get(&id).await.map_err(store_error)?.ok_or_else(|| ApiError::not_found("job not found"))?;
    if job.status != JobStatus::Failed {
        return Err(ApiError::new(StatusCode::CONFLICT, "only failed jobs can be retried"));
    }
    let (strategy, specs) = retry_specs(&job)?;

    let mut jobs = Vec::with_capacity(specs.len());
    for spec in specs {
        preflight(&state, &spec).await?;
        let (record, _created) = state.store.create_or_reuse(&spec, Some(&job.id)).await.map_err(store_error)?;
        tracing::info!(job_id = %record.id, retry_of = %job.id, job_type = %record.job_type, "retry job created");
        state.wakeup.notify_one();
        jobs.push(RetryJob {
            job_id: record.id,
            job_type: record.job_type,
            status: record.status,
            retry_of_job_id: job.id.clone(),
        });
    }
    let body = RetryResponse { source_job_id: job.id, strategy, jobs };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `DELETE /api/media/{hash}`: removes a hash's media objects, jobs, webhook deliveries and key.
///
/// Media objects go first. When the media store cannot confirm their removal, the response is 503
/// with `retryable: true`, and the metadata stays so that a retry can finish the work.
pub async fn delete_media(State(state): State<AppState>, Path(hash): Path<String>) -> Result<Response, ApiError> {
    let hash = MediaHash::parse(&hash).map_err(|error| ApiError::bad_request(error.to_string()))?;
    let mut failed_stages = Vec::new();
    for prefix in [format!("{}/", hash.video_folder()), format!("{}/", hash.image_folder())] {
        if let Err(error) = state.media.delete_prefix(&prefix).await {
            tracing::error!(hash = %hash, prefix = %prefix, error = %error, "media deletion failed");
            failed_stages.push("media");
            break;
        }
    }
    if !failed_stages.is_empty() {
        let body = json!({
            "message": "media deletion could not be confirmed; retry the request",
            "retryable": true,
            "failed_stages": failed_stages,
        });
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(response);
    }
    // NOTE: a job still running for this hash may upload results after this point. Its completion
    // then fails because the job row is gone, but the uploaded objects stay until the next delete.
    let deleted = state.store.delete_by_hash(&hash).await.map_err(store_error)?;
    tracing::info!(hash = %hash, jobs = deleted.jobs, keys = deleted.content_keys, "media deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn create_job(state: &AppState, spec: JobSpec) -> Result<Response, ApiError> {
    // An identical active job is returned before any storage call, as Vylux does.
    let fingerprint = spec.fingerprint();
    if let Some(existing) = state.store.find_active(&fingerprint).await.map_err(store_error)? {
        return Ok(reuse_response(existing));
    }
    preflight(state, &spec).await?;
    let (job, created) = state.store.create_or_reuse(&spec, None).await.map_err(store_error)?;
    if !created {
        return Ok(reuse_response(job));
    }
    tracing::info!(job_id = %job.id, job_type = %job.job_type, hash = %job.hash, "job created");
    state.wakeup.notify_one();
    let body = CreateJobResponse { job_id: Some(job.id), hash: job.hash.to_string(), status: job.status, results: None };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

fn reuse_response(job: JobRecord) -> Response {
    let body = if job.status == JobStatus::Completed {
        // Vylux returns a completed hit with `job_id: null` and the results.
        CreateJobResponse { job_id: None, hash: job.hash.to_string(), status: job.status, results: job.results }
    } else {
        CreateJobResponse { job_id: Some(job.id), hash: job.hash.to_string(), status: job.status, results: None }
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// Checks that the source exists and is not larger than `MAX_FILE_SIZE`.
async fn preflight(state: &AppState, spec: &JobSpec) -> Result<(), ApiError> {
    match state.source.head(&spec.source).await {
        Ok(meta) if meta.size > state.config.max_file_size => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("source file exceeds MAX_FILE_SIZE ({} bytes)", state.config.max_file_size),
        )),
        Ok(_) => Ok(()),
        Err(error) if error.is_not_found() => Err(ApiError::bad_request("source object not found")),
        Err(error) => {
            tracing::error!(source = %spec.source, error = %error, "source preflight failed");
            Err(ApiError::new(StatusCode::BAD_GATEWAY, "source storage unavailable"))
        }
    }
}

/// Returns the strategy and the new jobs for retrying `job`.
///
/// A `video:full` job with a retry plan is retried stage by stage, and each new job carries only
/// its own stage's options. Every other failed job is retried whole.
fn retry_specs(job: &JobRecord) -> Result<(RetryStrategy, Vec<JobSpec>), ApiError> {
    let whole = || (RetryStrategy::RetryJob, vec![job.spec()]);
    let (JobOptions::Full(full), Some(results)) = (&job.options, &job.results) else {
        return Ok(whole());
    };
    let Ok(envelope) = serde_json::from_value::<FullResult>(results.clone()) else {
        return Ok(whole());
    };
    let plan = envelope.retry_plan;
    if !plan.allowed || plan.job_types.is_empty() {
        return Err(ApiError::new(StatusCode::CONFLICT, "job has no retry plan"));
    }
    let specs = plan
        .job_types
        .iter()
        .map(|job_type| JobSpec {
            hash: job.hash.clone(),
            source: job.source.clone(),
            options: stage_options(*job_type, full),
            callback_url: job.callback_url.clone(),
        })
        .collect();
    Ok((plan.strategy, specs))
}

fn stage_options(job_type: JobType, full: &FullOptions) -> JobOptions {
    match job_type {
        JobType::VideoCover => JobOptions::Cover(full.cover.clone().unwrap_or_default()),
        JobType::VideoPreview => JobOptions::Preview(full.preview.clone().unwrap_or_default()),
        JobType::VideoTranscode => JobOptions::Transcode(full.transcode.clone().unwrap_or_default()),
        JobType::VideoFull | JobType::ImageThumbnail => JobOptions::Full(full.clone()),
    }
}

fn check_job_rate(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let identity = request.headers().get("x-api-key").map(|value| value.as_bytes()).unwrap_or_default();
    state.job_limiter.check(identity).map_err(|retry_after| {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)))
    })
}

async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    to_bytes(body, MAX_API_BODY_BYTES).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("request body exceeds {MAX_API_BODY_BYTES} bytes"))
    })
}

fn request_error(error: RequestError) -> ApiError {
    ApiError::bad_request(error.message)
}

fn store_error(error: StoreError) -> ApiError {
    tracing::error!(error = %error, "job store failed");
    ApiError::internal()
}
