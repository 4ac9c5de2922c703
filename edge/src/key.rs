//! The content-key endpoint `/api/key/{hash}`: CORS preflight and Bearer token check at the edge.
//!
//! A request without a Bearer token gets 401 and one with an invalid, expired or other-hash token
//! gets 403; neither reaches the origin. A valid request is forwarded unchanged, `Authorization`
//! included, and its response is never cached. Every response here allows any origin, because
//! hls.js fetches keys cross-origin and reports a CORS failure only as "HTTP Error 0".

use url::Url;
use worker::{Date, Method, Request, Response, Result};

use crate::config::EdgeConfig;
use crate::origin::{self, OriginReply};
use crate::{log, responses};

const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";

/// Serves a request for `/api/key/{hash}`; `raw_hash` is the still percent-encoded `{hash}`.
pub async fn serve_key(
    request: &Request,
    url: &Url,
    raw_hash: &str,
    config: &EdgeConfig,
) -> Result<Response> {
    match request.method() {
        Method::Options => return responses::preflight(ALLOWED_METHODS, "Authorization"),
        Method::Get | Method::Head => {}
        _ => return responses::allow_any_origin(responses::method_not_allowed(ALLOWED_METHODS)?),
    }

    // The token's hash claim must equal the raw path text, as at the origin: a valid hash never
    // needs percent-encoding, so an encoded spelling is rejected.
    let authorization = request.headers().get("Authorization")?;
    let now_secs = Date::now().as_millis() / 1000;
    if let Err(error) =
        config
            .token_keys
            .verify_authorization(authorization.as_deref(), raw_hash, now_secs)
    {
        log::debug(
            "key_request_rejected",
            format!("key request for {raw_hash:?} rejected: {error}"),
        );
        return denied(error.status());
    }

    let response = match origin::forward(request, url, config).await? {
        OriginReply::Response(response) | OriginReply::Unreachable(response) => response,
    };
    responses::with_edited_headers(response, |headers| {
        headers.set("Cache-Control", "no-store")?;
        if !headers.has("Access-Control-Allow-Origin")? {
            headers.set("Access-Control-Allow-Origin", "*")?;
        }
        Ok(())
    })
}

/// Builds a 401 or 403 whose body is only the status text.
fn denied(status: u16) -> Result<Response> {
    let body = if status == 401 {
        "Unauthorized"
    } else {
        "Forbidden"
    };
    let response = responses::text(status, body)?;
    if status == 401 {
        response.headers().set("WWW-Authenticate", "Bearer")?;
    }
    responses::allow_any_origin(response)
}
