//! `GET /api/key/{hash}`: the AES-128 content key of an encrypted package, for Bearer-token holders.
//!
//! Responses: 401 without a token, 403 for a bad one (both plain text saying nothing more), 404 when
//! the hash has no key, otherwise the 16 raw key bytes with `Cache-Control: no-store`. Every
//! response carries `Access-Control-Allow-Origin: *`, because otherwise a cross-origin player
//! (hls.js) reports only a network error.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use vylux_common::token::{bearer_token, TokenError};
use vylux_common::MediaHash;

use super::error::{plain_error, ApiError};
use super::AppState;
use crate::keys::WrappedKey;

pub async fn get_key(State(state): State<AppState>, request: Request) -> Response {
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let address = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip().to_string());
    let raw_hash = request.uri().path().strip_prefix("/api/key/").unwrap_or_default().to_owned();
    drop(request);
    let mut response = key_response(&state, authorization.as_deref(), address, &raw_hash).await;
    allow_any_origin(&mut response);
    response
}

async fn key_response(state: &AppState, authorization: Option<&str>, address: Option<String>, raw_hash: &str) -> Response {
    // Tokens are rate limited per token, anonymous requests per client address.
    let identity = match bearer_token(authorization) {
        Some(token) => format!("token:{token}"),
        None => format!("ip:{}", address.unwrap_or_default()),
    };
    if let Err(retry_after) = state.key_limiter.check(identity.as_bytes()) {
        let mut response = plain_error(StatusCode::TOO_MANY_REQUESTS);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
        return response;
    }

    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    if let Err(error) = state.config.token_keys.verify_authorization(authorization, raw_hash, now) {
        if let TokenError::Invalid(reason) = &error {
            tracing::info!(reason = %reason, "key request rejected");
        }
        return plain_error(if error.status() == 401 { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN });
    }
    // The token was issued for this exact text, so the backend chose it. It must still be a valid
    // hash before it reaches the store.
    let Ok(hash) = MediaHash::parse(raw_hash) else {
        return ApiError::bad_request("invalid hash").into_response();
    };

    let stored = match state.store.get_key(&hash).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return plain_error(StatusCode::NOT_FOUND),
        Err(error) => {
            tracing::error!(hash = %hash, error = %error, "content key lookup failed");
            return plain_error(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let wrapped = WrappedKey { ciphertext: stored.wrapped_key, nonce: stored.nonce, kek_version: stored.kek_version };
    let key = match state.config.keks.unwrap(hash.as_str(), &wrapped) {
        Ok(key) => key,
        Err(error) => {
            tracing::error!(hash = %hash, error = %error, "content key unwrap failed");
            return plain_error(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };

    let mut response = (StatusCode::OK, key.as_bytes().to_vec()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Returns the CORS preflight response a browser needs before a key request with `Authorization`.
pub async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    allow_any_origin(&mut response);
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, OPTIONS"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization"));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn allow_any_origin(response: &mut Response) {
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
}
