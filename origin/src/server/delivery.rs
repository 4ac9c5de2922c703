//! Delivery routes: `/thumb`, `/original` and `/stream`, plus the `/img` placeholder.
//!
//! Beyond what Vylux does, these routes support `HEAD`, single byte ranges (206 and 416, with
//! `Accept-Ranges: bytes`) and `If-None-Match` against a strong `ETag` (304). Every route sends
//! CORS headers so players on other origins can read the bytes.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vylux_common::layout::{resolve_stream_path, LayoutError};
use vylux_common::signing::{SignedPathError, SignedTarget};
use vylux_common::ObjectKey;

use super::error::ApiError;
use super::AppState;
use crate::storage::{content_type, ByteRange, ObjectStore, StorageError};

/// `Cache-Control` of every successful delivery: the objects never change under one URL.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const EXPOSED_HEADERS: &str = "Content-Length, Content-Range, Accept-Ranges, ETag";

/// `GET /thumb/{sig}/{key}`: a signed media-bucket object.
pub async fn thumb(State(state): State<AppState>, request: Request) -> Response {
    match verify(&state, request.uri().path()) {
        Ok(SignedTarget::Thumb(key)) => serve_object(&state.media, &key, None, request.headers()).await,
        Ok(_) => ApiError::bad_request("invalid path").into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /original/{sig}/{key}`: a signed source-bucket object.
pub async fn original(State(state): State<AppState>, request: Request) -> Response {
    match verify(&state, request.uri().path()) {
        Ok(SignedTarget::Original(key)) => serve_object(&state.source, &key, None, request.headers()).await,
        Ok(_) => ApiError::bad_request("invalid path").into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /img/{sig}/{options}/{source}.{format}`: the signature and options are checked, but this
/// build has no image transformer yet.
// TODO: transform images (resize, crop, re-encode) and cache them under `cache/`; until then a
// correctly signed request gets 501.
pub async fn img(State(state): State<AppState>, request: Request) -> Response {
    match verify(&state, request.uri().path()) {
        Ok(_) => ApiError::new(StatusCode::NOT_IMPLEMENTED, "image transformation is not available in this build")
            .into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /stream/{hash}/{path}`: an HLS playlist, segment or image under `videos/{p}/{hash}/`.
pub async fn stream(State(state): State<AppState>, request: Request) -> Response {
    let tail = request.uri().path().strip_prefix("/stream/").unwrap_or_default();
    let object = match resolve_stream_path(tail) {
        Ok(object) => object,
        Err(LayoutError::UnsupportedFileType(_)) => return ApiError::bad_request("unsupported file type").into_response(),
        Err(LayoutError::EmptyHash) => return ApiError::bad_request("hash is required").into_response(),
        Err(_) => return ApiError::bad_request("invalid path").into_response(),
    };
    serve_object(&state.media, &object.key, Some(object.content_type), request.headers()).await
}

/// Returns the CORS preflight response for the delivery routes: GET and HEAD with a `Range` header.
pub async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, OPTIONS"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Range, If-None-Match"));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

fn verify(state: &AppState, path: &str) -> Result<SignedTarget, ApiError> {
    match state.signer.verify_path(path) {
        Ok(verified) => Ok(verified.into_target()),
        Err(SignedPathError::BadSignature) => Err(ApiError::new(StatusCode::FORBIDDEN, "invalid signature")),
        Err(error) => Err(ApiError::bad_request(error.to_string())),
    }
}

/// Streams one object with conditional and range handling.
///
/// `content_type` overrides the stored type; otherwise the stored one is used, then the type of the
/// key's extension, then `application/octet-stream`.
async fn serve_object(
    store: &Arc<dyn ObjectStore>,
    key: &ObjectKey,
    content_type: Option<&'static str>,
    request_headers: &HeaderMap,
) -> Response {
    // A matching If-None-Match needs only the metadata, so the body is never opened.
    if let Some(if_none_match) = request_headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        match store.head(key).await {
            Ok(meta) if etag_matches(if_none_match, &meta.etag) => {
                let mut response = StatusCode::NOT_MODIFIED.into_response();
                let headers = response.headers_mut();
                insert_success_headers(headers);
                if let Ok(value) = HeaderValue::from_str(&meta.etag) {
                    headers.insert(header::ETAG, value);
                }
                return response;
            }
            Ok(_) => {}
            Err(error) => return ApiError::from_storage(&error).into_response(),
        }
    }

    let range = request_headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(ByteRange::from_header);
    let body = match store.get(key, range).await {
        Ok(body) => body,
        Err(error @ StorageError::InvalidRange { .. }) => {
            let mut response = ApiError::from_storage(&error).into_response();
            response.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            return response;
        }
        Err(error) => return ApiError::from_storage(&error).into_response(),
    };

    let mime = content_type
        .map(str::to_owned)
        .or_else(|| body.meta.content_type.clone())
        .or_else(|| content_type::from_key(key).map(str::to_owned))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let status = if body.range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let length = body.content_length();
    let content_range = body.range.map(|range| range.to_string());
    let etag = body.meta.etag.clone();

    let mut response = Response::new(Body::from_stream(body.stream));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    insert_success_headers(headers);
    if let Ok(value) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Some(content_range) = content_range.and_then(|text| HeaderValue::from_str(&text).ok()) {
        headers.insert(header::CONTENT_RANGE, content_range);
    }
    response
}

fn insert_success_headers(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
}

/// Compares an `If-None-Match` value (a list of entity tags, or `*`) with a strong ETag.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.trim() == "*"
        || if_none_match.split(',').map(str::trim).any(|candidate| {
            // Weak comparison, as RFC 9110 prescribes for If-None-Match.
            candidate.strip_prefix("W/").unwrap_or(candidate) == etag.strip_prefix("W/").unwrap_or(etag)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", W/\"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
