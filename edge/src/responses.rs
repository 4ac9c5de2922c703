//! Responses built at the edge, and header changes on responses from the origin or the cache.

use worker::{Headers, Response, Result};

/// Response header that says whether a delivery response came from the edge cache.
pub const CACHE_STATUS_HEADER: &str = "X-Vylux-Cache";

/// Source of a delivery response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from the edge cache without contacting the origin.
    Hit,
    /// Fetched from the origin.
    Miss,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
        }
    }
}

/// Builds a JSON `{"message": ...}` error with `Cache-Control: no-store`.
pub fn json_error(status: u16, message: &str) -> Result<Response> {
    json(status, &serde_json::json!({ "message": message }))
}

/// Builds a JSON response with `Cache-Control: no-store`.
pub fn json(status: u16, body: &serde_json::Value) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    headers.set("Cache-Control", "no-store")?;
    Ok(Response::from_bytes(body.to_string().into_bytes())?
        .with_status(status)
        .with_headers(headers))
}

/// Builds a plain-text response with `Cache-Control: no-store`.
pub fn text(status: u16, body: &str) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "text/plain; charset=utf-8")?;
    headers.set("Cache-Control", "no-store")?;
    Ok(Response::from_bytes(body.as_bytes().to_vec())?
        .with_status(status)
        .with_headers(headers))
}

/// Builds a 405 response listing the allowed methods.
pub fn method_not_allowed(allowed: &str) -> Result<Response> {
    let response = json_error(405, "method not allowed")?;
    response.headers().set("Allow", allowed)?;
    Ok(response)
}

/// How long a browser may reuse a preflight response, in seconds.
const PREFLIGHT_MAX_AGE_SECS: &str = "86400";

/// Builds a 204 CORS preflight response that allows any origin to send `methods` with the
/// `request_headers`.
pub fn preflight(methods: &str, request_headers: &str) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Access-Control-Allow-Origin", "*")?;
    headers.set("Access-Control-Allow-Methods", methods)?;
    headers.set("Access-Control-Allow-Headers", request_headers)?;
    headers.set("Access-Control-Max-Age", PREFLIGHT_MAX_AGE_SECS)?;
    headers.set("Cache-Control", "no-store")?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// Adds `Access-Control-Allow-Origin: *` to a response built at the edge, so a cross-origin
/// player sees its status instead of a CORS failure.
pub fn allow_any_origin(response: Response) -> Result<Response> {
    response.headers().set("Access-Control-Allow-Origin", "*")?;
    Ok(response)
}

/// Builds the 500 sent while the configuration is invalid. The cause is logged, not sent.
pub fn misconfigured() -> Result<Response> {
    json_error(500, "the edge worker is misconfigured; see the worker log")
}

/// Builds the generic 500 for an unexpected failure. The cause is logged, not sent.
pub fn internal_error() -> Result<Response> {
    json_error(500, "internal error")
}

/// Builds the 502 sent when the origin cannot be reached. It is never cached.
pub fn bad_gateway() -> Result<Response> {
    json_error(502, "bad gateway: the origin server could not be reached")
}

/// Rebuilds `response` with a mutable copy of its headers, changed by `edit`.
///
/// Responses from `fetch()` and from the cache have immutable headers, so changing a header
/// means copying them into a new response around the same body stream.
pub fn with_edited_headers(
    response: Response,
    edit: impl FnOnce(&Headers) -> Result<()>,
) -> Result<Response> {
    let status = response.status_code();
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.append(&name, &value)?;
    }
    edit(&headers)?;
    let (_, body) = response.into_parts();
    Ok(Response::builder()
        .with_status(status)
        .with_headers(headers)
        .body(body))
}

/// Adds the [`CACHE_STATUS_HEADER`] to a delivery response.
pub fn mark_cache_status(response: Response, status: CacheStatus) -> Result<Response> {
    with_edited_headers(response, |headers| {
        headers.set(CACHE_STATUS_HEADER, status.as_str())
    })
}
