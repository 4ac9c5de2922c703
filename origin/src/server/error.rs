//! Error responses.
//!
//! Every error a route returns goes through [`ApiError`], which maps it once to a fixed status and
//! body. Every error response carries `Cache-Control: no-store` so that no cache keeps it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vylux_common::jobs::ErrorBody;

use crate::storage::StorageError;

/// An error response: a status and a message for the JSON body `{"message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Extra headers, such as `Retry-After` or `Content-Range`.
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), headers: Vec::new() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Maps a storage failure on a read: a missing object is 404, an unreachable store is 502, and
    /// an unsatisfiable range is 416. The cause is logged here, once.
    pub fn from_storage(error: &StorageError) -> Self {
        match error {
            StorageError::NotFound { .. } => Self::not_found("not found"),
            StorageError::InvalidRange { size, .. } => Self::new(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable")
                .with_header(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{size}")).expect("digits are a valid header value"),
                ),
            StorageError::InvalidKey { .. } => Self::bad_request("invalid object key"),
            other => {
                tracing::error!(error = %other, "storage unavailable");
                Self::new(StatusCode::BAD_GATEWAY, "storage unavailable")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(ErrorBody { message: self.message })).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

/// A bare plain-text error, as the key endpoint returns (`Unauthorized`, `Forbidden`, ...).
pub fn plain_error(status: StatusCode) -> Response {
    let text = status.canonical_reason().unwrap_or("Error");
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}
