//! Cached delivery: signed images (`/thumb`, `/img`, `/original`) and HLS (`/stream`).
//!
//! A request is checked first, then looked up in the edge cache under its path, and on a miss
//! fetched from the origin by path alone. The cache serves Range and conditional requests from the
//! stored full object, so the edge makes any 206 or 304 itself and never stores one.

use url::Url;
use vylux_common::layout::resolve_stream_path;
use worker::{Cache, Context, Headers, Method, Request, RequestInit, Response, Result};

use crate::config::EdgeConfig;
use crate::log;
use crate::origin::{self, OriginReply};
use crate::policy::{self, ResponseFacts, StoreDecision};
use crate::responses::{self, CacheStatus};

/// Request headers the cache evaluates against a stored object.
const CONDITIONAL_HEADERS: [&str; 2] = ["If-None-Match", "If-Modified-Since"];

const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";

/// Request headers a cross-origin player may send, as the origin allows them.
const PREFLIGHT_REQUEST_HEADERS: &str = "Range, If-None-Match";

/// Serves `/thumb`, `/img` and `/original` after checking the URL signature.
///
/// A bad signature gets 403 and a malformed path 400, both with `Cache-Control: no-store`, and
/// neither reaches the origin or the cache.
pub async fn serve_signed_image(
    request: &Request,
    url: &Url,
    config: &EdgeConfig,
    ctx: &Context,
) -> Result<Response> {
    if let Some(response) = other_method_response(request)? {
        return Ok(response);
    }
    if let Err(error) = config.signer.verify_path(url.path()) {
        return responses::allow_any_origin(responses::json_error(
            error.status(),
            &error.to_string(),
        )?);
    }
    serve_cached(request, url, config, ctx).await
}

/// Serves `/stream/{hash}/{path}` after checking the path: a valid hash, no `..`, and an extension
/// that `/stream` serves. A rejected path gets 400 with `Cache-Control: no-store`.
pub async fn serve_stream(
    request: &Request,
    url: &Url,
    stream_path: &str,
    config: &EdgeConfig,
    ctx: &Context,
) -> Result<Response> {
    if let Some(response) = other_method_response(request)? {
        return Ok(response);
    }
    if let Err(error) = resolve_stream_path(stream_path) {
        return responses::allow_any_origin(responses::json_error(400, &error.to_string())?);
    }
    serve_cached(request, url, config, ctx).await
}

/// Returns the response for a method other than GET and HEAD: the CORS preflight for OPTIONS,
/// 405 for the rest. Both are built at the edge with `Access-Control-Allow-Origin: *`.
fn other_method_response(request: &Request) -> Result<Option<Response>> {
    match request.method() {
        Method::Get | Method::Head => Ok(None),
        Method::Options => Ok(Some(responses::preflight(
            ALLOWED_METHODS,
            PREFLIGHT_REQUEST_HEADERS,
        )?)),
        _ => Ok(Some(responses::allow_any_origin(
            responses::method_not_allowed(ALLOWED_METHODS)?,
        )?)),
    }
}

/// Serves a checked GET or HEAD from the cache, or from the origin on a miss.
async fn serve_cached(
    request: &Request,
    url: &Url,
    config: &EdgeConfig,
    ctx: &Context,
) -> Result<Response> {
    let is_head = request.method() == Method::Head;
    let key_url = policy::cache_key_url(url);
    let cache = Cache::default();
    let lookup = lookup_request(&key_url, request.headers(), is_head)?;

    // Hit: the cache itself turns a Range or conditional request into a 206 or 304.
    match cache.get(&lookup, false).await {
        Ok(Some(stored)) => return responses::mark_cache_status(stored, CacheStatus::Hit),
        Ok(None) => {}
        Err(error) => log::warn(
            "cache_lookup_failed",
            format!("cache lookup for {key_url} failed: {error}"),
        ),
    }

    // Miss: HEAD is forwarded as HEAD and not stored; GET fetches the full object.
    let method = if is_head { Method::Head } else { Method::Get };
    let mut response = match origin::fetch_path(url.path(), method.clone(), config).await? {
        OriginReply::Response(response) => response,
        OriginReply::Unreachable(response) => return Ok(response),
    };

    match policy::store_decision(method.as_ref(), url.path(), &response_facts(&response)?) {
        StoreDecision::Skip(_) => {}
        StoreDecision::Background => {
            let copy = response.cloned()?;
            ctx.wait_until(async move {
                store(&Cache::default(), key_url, copy).await;
            });
        }
        StoreDecision::Inline => {
            let copy = response.cloned()?;
            let stored = store(&cache, key_url, copy).await;
            // The cache serves a Range or conditional request from the stored copy. Where it
            // keeps nothing (on *.workers.dev), the full 200 is sent, which HTTP allows.
            if stored && needs_cache_evaluation(request.headers(), is_head)? {
                if let Ok(Some(partial)) = cache.get(&lookup, false).await {
                    return responses::mark_cache_status(partial, CacheStatus::Miss);
                }
            }
        }
    }
    responses::mark_cache_status(response, CacheStatus::Miss)
}

/// Builds the GET request used as the cache lookup key, carrying the client's Range (GET only)
/// and conditional headers so the cache can evaluate them.
fn lookup_request(key_url: &str, client_headers: &Headers, is_head: bool) -> Result<Request> {
    let headers = Headers::new();
    for name in evaluated_headers(is_head) {
        if let Some(value) = client_headers.get(name)? {
            headers.set(name, &value)?;
        }
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    Request::new_with_init(key_url, &init)
}

fn evaluated_headers(is_head: bool) -> impl Iterator<Item = &'static str> {
    let range = if is_head { None } else { Some("Range") };
    range.into_iter().chain(CONDITIONAL_HEADERS)
}

fn needs_cache_evaluation(client_headers: &Headers, is_head: bool) -> Result<bool> {
    for name in evaluated_headers(is_head) {
        if client_headers.has(name)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn response_facts(response: &Response) -> Result<ResponseFacts> {
    let headers = response.headers();
    Ok(ResponseFacts {
        status: response.status_code(),
        has_set_cookie: headers.has("Set-Cookie")?,
        cache_control: headers.get("Cache-Control")?,
        vary: headers.get("Vary")?,
        content_length: headers
            .get("Content-Length")?
            .and_then(|value| value.trim().parse().ok()),
    })
}

/// Stores `response` under `key_url`; returns whether the cache accepted it. A refusal is logged,
/// not raised, because the client still gets the response.
async fn store(cache: &Cache, key_url: String, response: Response) -> bool {
    match cache.put(key_url.as_str(), response).await {
        Ok(()) => true,
        Err(error) => {
            log::warn(
                "cache_store_failed",
                format!("storing {key_url} failed: {error}"),
            );
            false
        }
    }
}
