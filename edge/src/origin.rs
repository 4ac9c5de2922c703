//! Requests to the origin server.

use url::Url;
use worker::{Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response, Result};

use crate::config::EdgeConfig;
use crate::{log, responses};

/// Outcome of a request to the origin: its response, or the 502 sent because it was unreachable.
pub enum OriginReply {
    Response(Response),
    Unreachable(Response),
}

/// Sends a request to the origin and maps a network failure to a logged 502.
async fn send(request: Request, target: &str) -> Result<OriginReply> {
    match Fetch::Request(request).send().await {
        Ok(response) => Ok(OriginReply::Response(response)),
        Err(error) => {
            log::error(
                "origin_unreachable",
                format!("request to {target} failed: {error}"),
            );
            Ok(OriginReply::Unreachable(responses::bad_gateway()?))
        }
    }
}

/// Forwards `request` to the same path and query on the origin, with its method, body and headers
/// (but `Host`, see [`forwarded_headers`]). Redirects are passed back to the client, not followed.
pub async fn forward(request: &Request, url: &Url, config: &EdgeConfig) -> Result<OriginReply> {
    let target = config.origin.url_for(url.path(), url.query());
    let mut init = RequestInit::new();
    init.with_method(request.method())
        .with_headers(forwarded_headers(request.headers())?)
        .with_redirect(RequestRedirect::Manual);
    if let Some(body) = request.inner().body() {
        init.with_body(Some(body.into()));
    }
    send(Request::new_with_init(&target, &init)?, &target).await
}

/// Copies the client's headers except `Host`, so the origin sees its own host name (a virtual host
/// behind a reverse proxy needs it) and the edge's public host arrives as `X-Forwarded-Host`.
fn forwarded_headers(client_headers: &Headers) -> Result<Headers> {
    let headers = Headers::new();
    for (name, value) in client_headers.entries() {
        if name.eq_ignore_ascii_case("host") {
            headers.set("X-Forwarded-Host", &value)?;
        } else {
            headers.append(&name, &value)?;
        }
    }
    Ok(headers)
}

/// Requests `path` from the origin with `method` (GET or HEAD) and no client headers or query, so
/// the response depends on the path alone, as its cache key does.
pub async fn fetch_path(path: &str, method: Method, config: &EdgeConfig) -> Result<OriginReply> {
    let target = config.origin.url_for(path, None);
    let mut init = RequestInit::new();
    init.with_method(method)
        .with_headers(Headers::new())
        .with_redirect(RequestRedirect::Manual);
    send(Request::new_with_init(&target, &init)?, &target).await
}

/// Forwards any request the edge does not handle itself, unchanged, and returns the origin's
/// response unchanged. Nothing here is cached.
pub async fn pass_through(request: &Request, url: &Url, config: &EdgeConfig) -> Result<Response> {
    match forward(request, url, config).await? {
        OriginReply::Response(response) | OriginReply::Unreachable(response) => Ok(response),
    }
}
